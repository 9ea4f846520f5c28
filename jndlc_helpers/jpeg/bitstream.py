"""Read the quantised coefficients of a baseline JPEG: an independent entropy decoder.

Enough of ITU T.81 for what Pillow writes by default (baseline sequential Huffman,
8-bit, interleaved components with any sampling factors, restart markers): it checks
that a bitstream is plain baseline JPEG, and it lets the tests compare the
simulator's quantised coefficients with libjpeg's. Pure Python, so for small images.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .simulator import ZIGZAG


class JPEGFormatError(ValueError):
    """The bytes are not a baseline JPEG this reader understands; the message says why."""


@dataclass
class Component:
    ident: int
    h: int
    v: int
    table: int
    dc_table: int = 0
    ac_table: int = 0
    coefs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 64), np.int32))


@dataclass
class JPEGCoefficients:
    """Quantised coefficients per component, [rows of blocks, cols of blocks, 64] in
    natural order, the quantisation tables (natural order) and the image size."""

    width: int
    height: int
    components: list[np.ndarray]
    tables: list[np.ndarray]
    sampling: list[tuple[int, int]]


class _Bits:
    def __init__(self, data: bytes, pos: int):
        self.data, self.pos, self.acc, self.n = data, pos, 0, 0

    def bit(self) -> int:
        if self.n == 0:
            if self.pos >= len(self.data):
                raise JPEGFormatError("entropy-coded data ends early")
            b = self.data[self.pos]
            self.pos += 1
            if b == 0xFF:
                nxt = self.data[self.pos] if self.pos < len(self.data) else 0
                if nxt != 0:
                    raise JPEGFormatError(f"marker 0xFF{nxt:02X} inside entropy-coded data")
                self.pos += 1  # stuffed zero byte
            self.acc, self.n = b, 8
        self.n -= 1
        return (self.acc >> self.n) & 1

    def bits(self, k: int) -> int:
        v = 0
        for _ in range(k):
            v = (v << 1) | self.bit()
        return v

    def restart(self) -> None:
        """Skip to the byte after the next RSTn marker."""
        self.n = 0
        while self.pos + 1 < len(self.data) and not (self.data[self.pos] == 0xFF and 0xD0 <= self.data[self.pos + 1] <= 0xD7):
            self.pos += 1
        self.pos += 2


def _huffman(counts: bytes, symbols: bytes) -> dict[tuple[int, int], int]:
    """{(length, code): symbol} from a DHT's BITS and HUFFVAL (T.81 Annex C)."""
    table, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            table[(length, code)] = symbols[k]
            code += 1
            k += 1
        code <<= 1
    return table


def _decode(bits: _Bits, table: dict[tuple[int, int], int]) -> int:
    code = 0
    for length in range(1, 17):
        code = (code << 1) | bits.bit()
        if (length, code) in table:
            return table[(length, code)]
    raise JPEGFormatError("invalid Huffman code")


def _extend(v: int, s: int) -> int:
    return v - (1 << s) + 1 if s and v < (1 << (s - 1)) else v


def _block(bits: _Bits, comp: Component, dc: dict, ac: dict, pred: list[int], ci: int) -> np.ndarray:
    out = np.zeros(64, np.int32)
    s = _decode(bits, dc[comp.dc_table])
    pred[ci] += _extend(bits.bits(s), s)
    out[0] = pred[ci]
    k = 1
    while k < 64:
        rs = _decode(bits, ac[comp.ac_table])
        r, s = rs >> 4, rs & 15
        if s == 0:
            if r != 15:
                break
            k += 16
            continue
        k += r
        if k > 63:
            raise JPEGFormatError("AC run past the end of a block")
        out[ZIGZAG[k]] = _extend(bits.bits(s), s)
        k += 1
    return out


def _segments(data: bytes):
    """Yield (marker, payload, end position) up to and including SOS."""
    if data[:2] != b"\xff\xd8":
        raise JPEGFormatError("no SOI marker: not a JPEG")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise JPEGFormatError(f"expected a marker at byte {pos}")
        marker = data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        yield marker, data[pos + 4:pos + 2 + length], pos + 2 + length
        if marker == 0xDA:
            return
        pos += 2 + length
    raise JPEGFormatError("no SOS marker")


def _parse_headers(data: bytes) -> tuple[dict, list[Component], dict, dict, int, int, int, int]:
    qt, comps, dc, ac = {}, [], {}, {}
    width = height = restart = start = 0
    for marker, p, end in _segments(data):
        if marker in (0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            raise JPEGFormatError(f"SOF{marker - 0xC0}: not baseline sequential Huffman")
        if marker == 0xDB:
            i = 0
            while i < len(p):
                if p[i] >> 4:
                    raise JPEGFormatError("16-bit quantisation table: not baseline")
                zz = np.frombuffer(p[i + 1:i + 65], np.uint8).astype(np.int32)
                nat = np.zeros(64, np.int32)
                nat[list(ZIGZAG)] = zz
                qt[p[i] & 15] = nat
                i += 65
        elif marker == 0xC0:
            if p[0] != 8:
                raise JPEGFormatError(f"{p[0]}-bit samples: not baseline")
            height, width = int.from_bytes(p[1:3], "big"), int.from_bytes(p[3:5], "big")
            comps = [Component(p[6 + 3 * i], p[7 + 3 * i] >> 4, p[7 + 3 * i] & 15, p[8 + 3 * i]) for i in range(p[5])]
        elif marker == 0xC4:
            i = 0
            while i < len(p):
                counts = p[i + 1:i + 17]
                n = sum(counts)
                (ac if p[i] >> 4 else dc)[p[i] & 15] = _huffman(counts, p[i + 17:i + 17 + n])
                i += 17 + n
        elif marker == 0xDD:
            restart = int.from_bytes(p[:2], "big")
        elif marker == 0xDA:
            by_id = {c.ident: c for c in comps}
            for i in range(p[0]):
                c = by_id[p[1 + 2 * i]]
                c.dc_table, c.ac_table = p[2 + 2 * i] >> 4, p[2 + 2 * i] & 15
            if p[0] != len(comps):
                raise JPEGFormatError("non-interleaved scan: not what Pillow writes by default")
            start = end
    if not comps:
        raise JPEGFormatError("no SOF0 frame header: not a baseline JPEG")
    return qt, comps, dc, ac, width, height, restart, start


def read_coefficients(data: bytes) -> JPEGCoefficients:
    """The quantised coefficients of a baseline JPEG (``JPEGFormatError`` otherwise)."""
    qt, comps, dc, ac, width, height, restart, start = _parse_headers(data)
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    mcux, mcuy = -(-width // (8 * hmax)), -(-height // (8 * vmax))
    for c in comps:
        c.coefs = np.zeros((mcuy * c.v, mcux * c.h, 64), np.int32)
    bits, pred = _Bits(data, start), [0] * len(comps)
    for m in range(mcux * mcuy):
        if restart and m and m % restart == 0:
            bits.restart()
            pred = [0] * len(comps)
        my, mx = divmod(m, mcux)
        for ci, c in enumerate(comps):
            for by in range(c.v):
                for bx in range(c.h):
                    c.coefs[my * c.v + by, mx * c.h + bx] = _block(bits, c, dc, ac, pred, ci)
    return JPEGCoefficients(width, height, [c.coefs for c in comps], [qt[c.table] for c in comps],
                            [(c.h, c.v) for c in comps])


def as_levels(coefs: JPEGCoefficients):
    """A 4:2:0 colour JPEG's levels as ``simulator.Coefficients`` (batch of one), so
    that ``simulator.synthesise`` decodes them: a decoder independent of libjpeg."""
    import torch

    from .simulator import Coefficients

    if coefs.sampling != [(2, 2), (1, 1), (1, 1)]:
        raise JPEGFormatError(f"sampling {coefs.sampling}: not a 4:2:0 colour JPEG")
    t = [torch.from_numpy(c).permute(2, 0, 1).float() for c in coefs.components]
    return Coefficients(t[0][None, None], torch.stack(t[1:])[None])
