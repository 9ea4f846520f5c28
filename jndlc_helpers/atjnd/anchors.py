"""What people use today for "visually lossless at the smallest size", on the same images.

- JPEG XL at distance 1.0 (libjxl's "visually lossless", a butteraugli target) through
  ``imagecodecs`` (libjxl 0.11, effort 7: no butteraugli feedback loop);
- Guetzli (a JPEG encoder searching to a butteraugli target; quality 95 is about
  butteraugli 0.97) through Debian's ``guetzli`` program (``apt-get install guetzli``);
- one fixed JPEG quality factor for every image: the lowest that keeps ``coverage`` of
  the *training* images within their JND (their labels: a label QF q means every QF >= q
  passes);
- an SSIM-target search (jpeg-recompress's method): bisect JPEG quality 40-95 for the
  lowest whose SSIM reaches a target, the target chosen on the training images (the
  ``coverage`` quantile of their JND images' SSIM).
"""
from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from . import codecs as C

JXL_DISTANCE = 1.0
JXL_EFFORT = 7  # libjxl's default
GUETZLI_QUALITY = 95  # Guetzli's butteraugli target about 0.97
GUETZLI = "guetzli"  # Debian's program
SSIM_RANGE = (40, 95)  # jpeg-recompress's default --min / --max


class Unavailable(RuntimeError):
    """An anchor's encoder is not installed here; the message says how to get it."""


def jxl(rgb: np.ndarray, distance: float = JXL_DISTANCE) -> C.Coded:
    """JPEG XL at ``distance`` (imagecodecs' libjxl), decoded back."""
    try:
        import imagecodecs
    except ImportError as e:
        raise Unavailable("JPEG XL needs imagecodecs: pip install imagecodecs") from e
    t0 = time.perf_counter()
    data = bytes(imagecodecs.jpegxl_encode(np.ascontiguousarray(rgb), distance=distance, effort=JXL_EFFORT))
    enc_s = time.perf_counter() - t0
    dec = np.asarray(imagecodecs.jpegxl_decode(data), dtype=np.uint8)[..., :3]
    return C.Coded(data, dec, len(data), {"codec": "jpegxl", "distance": distance}, enc_s)


def guetzli_available() -> bool:
    return shutil.which(GUETZLI) is not None


def guetzli(rgb: np.ndarray, quality: int = GUETZLI_QUALITY) -> C.Coded:
    """Guetzli's JPEG at ``quality`` (Debian's program), decoded by Pillow."""
    from PIL import Image

    if not guetzli_available():
        raise Unavailable("Guetzli needs Debian's guetzli program: apt-get install guetzli")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.jpg"
        Image.fromarray(np.ascontiguousarray(rgb)).save(src)
        t0 = time.perf_counter()
        subprocess.run([GUETZLI, "--quality", str(quality), str(src), str(out)], check=True,
                       capture_output=True)
        enc_s = time.perf_counter() - t0
        data = out.read_bytes()
    return C.Coded(data, C.decode_jpeg(data), len(data), {"codec": "guetzli", "quality": quality}, enc_s)


def fixed_qf(label_qfs: Sequence[int], coverage: float = 0.9) -> int:
    """The lowest QF at or above the label QF of at least ``coverage`` of the images."""
    qfs = np.sort(np.asarray(label_qfs, dtype=int))
    if not len(qfs):
        raise ValueError("no training labels to choose a fixed quality factor from")
    return int(qfs[max(0, math.ceil(coverage * len(qfs)) - 1)])


def ssim(ref: np.ndarray, test: np.ndarray) -> float:
    """Single-scale SSIM (pytorch-msssim, 8-bit RGB, data range 255)."""
    import torch
    from pytorch_msssim import ssim as _ssim

    t = [torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].double() for a in (ref, test)]
    return float(_ssim(t[0], t[1], data_range=255.0, size_average=True))


def ssim_target(pairs: Sequence[tuple[np.ndarray, np.ndarray]], coverage: float = 0.9) -> float:
    """The SSIM target: the ``coverage`` quantile of the JND images' SSIM (training pairs)."""
    values = sorted(ssim(ref, jnd) for ref, jnd in pairs)
    if not values:
        raise ValueError("no training pairs to choose an SSIM target from")
    return float(values[max(0, math.ceil(coverage * len(values)) - 1)])


def ssim_search(rgb: np.ndarray, target: float, qf_range: tuple[int, int] = SSIM_RANGE) -> C.Coded:
    """The lowest JPEG quality in ``qf_range`` whose SSIM reaches ``target`` (bisection; the
    top of the range when none does)."""
    t0 = time.perf_counter()
    lo, hi = qf_range[0] - 1, qf_range[1]
    coded = {}

    def ok(q: int) -> bool:
        coded[q] = C.code_jpeg(rgb, q)
        return ssim(rgb, coded[q].rgb) >= target

    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    out = coded.get(hi) or C.code_jpeg(rgb, hi)
    out.enc_s = time.perf_counter() - t0
    out.setting["tries"] = len(coded)
    return out
