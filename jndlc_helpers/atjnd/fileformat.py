"""The learned codec's file: a compact self-describing header, the entropy-coded strings
and a checksum.

Layout (version 1; integers big-endian, ``varint`` = unsigned LEB128)::

    magic         4 bytes   b"JNDC"
    version       1 byte    1
    architecture  1 byte    index in codec.models.ARCHITECTURES
    distortion    1 byte    index in vocab.DISTORTIONS
    quality       1 byte    the trained quality (CompressAI's 1-8)
    N, M          2 + 2     the model's channel counts (0 when the model has none)
    step          2 bytes   the latent quantisation step, IEEE half (1.0: as trained)
    digest        8 bytes   the first 8 bytes of the checkpoint file's SHA-256
    height, width varint    the image's size (the decoder crops to it)
    strings       1 byte    how many, then for each: varint length, the bytes
    crc32         4 bytes   of everything before it

The strings are CompressAI's ``compress(x)["strings"]`` for one image, in order; their
bytes are what the RD tables count as the bitstream, so a file is that many bytes plus
``header_size``. The latent shape is not stored: it follows from the size (the image is
padded to a multiple of 64).
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

MAGIC = b"JNDC"
VERSION = 1
_FIXED = struct.Struct(">4sBBBBHHe8s")  # magic .. digest: 22 bytes
CRC_SIZE = 4
MULTIPLE = 64  # the codecs' total stride: images are padded to it


class FormatError(ValueError):
    """A file that is not a readable jndlc file; the message says why."""


@dataclass(frozen=True)
class Header:
    """What the decoder needs besides the strings."""

    architecture: str
    distortion: str
    quality: int
    N: int
    M: int
    step: float
    digest: str  # 16 hex digits
    height: int
    width: int

    def latent_shape(self) -> tuple[int, int]:
        """z's spatial size: the padded image over the stride of 64."""
        return (-(-self.height // MULTIPLE), -(-self.width // MULTIPLE))

    def describe(self) -> str:
        return (f"{self.architecture} N={self.N} M={self.M} {self.distortion} q{self.quality} "
                f"(checkpoint sha256 {self.digest}...)")


def _varint(n: int) -> bytes:
    if n < 0:
        raise ValueError(f"varint needs n >= 0, got {n}")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data):
            raise FormatError("truncated (the file ends inside a length)")
        byte = data[pos]
        pos += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, pos
        if shift > 63:
            raise FormatError("corrupt (a length runs past 64 bits)")


def _codes():
    from ..codec.models import ARCHITECTURES
    from ..vocab import DISTORTIONS

    return ARCHITECTURES, DISTORTIONS


def pack(header: Header, strings: list[bytes]) -> bytes:
    """The file's bytes for ``header`` and the strings of one image."""
    archs, dists = _codes()
    if float(np.float16(header.step)) != header.step:
        raise ValueError(f"step {header.step!r} is not a half-precision value: use rate.store_step")
    if len(strings) > 255:
        raise ValueError("at most 255 strings")
    body = bytearray(_FIXED.pack(MAGIC, VERSION, archs.index(header.architecture),
                                 dists.index(header.distortion), header.quality, header.N, header.M,
                                 header.step, bytes.fromhex(header.digest)))
    body += _varint(header.height) + _varint(header.width) + bytes([len(strings)])
    for s in strings:
        body += _varint(len(s)) + s
    return bytes(body) + struct.pack(">I", zlib.crc32(body))


def header_size(header: Header, strings: list[bytes]) -> int:
    """Bytes a file adds to its strings: everything but the strings' own bytes."""
    return len(pack(header, strings)) - sum(len(s) for s in strings)


def is_jndc(data: bytes) -> bool:
    return data[:4] == MAGIC


def unpack(data: bytes) -> tuple[Header, list[bytes]]:
    """(header, strings) of a file's bytes; ``FormatError`` says what is wrong."""
    if not is_jndc(data):
        raise FormatError("not a jndlc file (no JNDC magic)")
    if len(data) < _FIXED.size + CRC_SIZE:
        raise FormatError(f"truncated ({len(data)} bytes, shorter than the header)")
    magic, version, arch, dist, quality, n, m, step, digest = _FIXED.unpack_from(data)
    if version != VERSION:
        raise FormatError(f"format version {version}, this jndlc reads version {VERSION}")
    body, crc = data[:-CRC_SIZE], struct.unpack(">I", data[-CRC_SIZE:])[0]
    if zlib.crc32(body) != crc:
        raise FormatError("corrupt or truncated (checksum mismatch)")
    archs, dists = _codes()
    if arch >= len(archs) or dist >= len(dists):
        raise FormatError(f"corrupt (unknown architecture {arch} or distortion {dist})")
    pos = _FIXED.size
    height, pos = _read_varint(body, pos)
    width, pos = _read_varint(body, pos)
    if pos >= len(body):
        raise FormatError("truncated (no strings)")
    count, pos = body[pos], pos + 1
    strings = []
    for _ in range(count):
        size, pos = _read_varint(body, pos)
        if pos + size > len(body):
            raise FormatError("truncated (a string runs past the end)")
        strings.append(bytes(body[pos:pos + size]))
        pos += size
    if pos != len(body) or not (height and width):
        raise FormatError("corrupt (bytes left over or an empty image)")
    header = Header(archs[arch], dists[dist], quality, n, m, float(step), digest.hex(), height, width)
    return header, strings
