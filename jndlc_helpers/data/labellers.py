"""Proxy JND labels for images without human labels.

A labeller picks the first-JND JPEG quality factor (QF) of an image: the lowest QF
whose encode stays "not noticeably different" from the original at that QF *and at
every higher QF*. Two criteria:

- ``"cvvdp"`` (default): ColorVideoVDP's predicted JOD stays >= 10 - tau
  (tau = 1 JOD: the difference 75% of observers notice in a paired comparison).
- ``"namm"``: Yang et al. (2005) pixel-domain JND profile (NAMM); the luminance
  error of the encode may exceed the profile on at most ``max_visible`` of the pixels.

QF search (both labellers): the grid 100, 90, ..., 10 is scanned from high to low and
stops at the first failure; the gap between that failure and the last pass is then
scanned from high to low in steps of 5, then of 1, each scan stopping at its first
failure. QFs between tested points are not evaluated: "every higher quality" is
checked on the grid plus the refined gap (JOD is close to monotonic in QF). Cost:
(100 - QF_jnd) / 10 + at most 6 evaluations per image (about 0.35 s each for a
512x512 image with ColorVideoVDP on a 2-core CPU).

The NAMM criterion is a per-pixel threshold model, not a calibrated first JND: with
``max_visible`` = 0.05 its labels on the embedded photographs fall at QF 44-90
(median 88) where ColorVideoVDP's (tau = 1, standard_fhd) fall at QF 18-78 (median 27),
and the two do not rank the images alike. It is the cheap labeller of the smoke profile.

These labels are proxies, not human JND data; every table built on them says so.

When even the highest QF fails the criterion there is no JND1 to find: ``label_image``
still returns that encode (so a dataset can be inspected) but with a ``status`` other
than ``"ok"``; labels.csv carries the status, and ``check_labels`` (run by the
pipeline's data step) refuses a dataset holding such rows, naming them.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
from PIL import Image
import PIL
from scipy import ndimage as ndi

from ..evaluation.metrics import JOD_DISPLAY, ms_ssim, psnr  # 8-bit RGB, as every table here

LABELLERS = ("cvvdp", "namm")
DEFAULT_QF_GRID: tuple[int, ...] = tuple(range(100, 0, -10))  # 100, 90, ..., 10
DEFAULT_REFINE_STEPS: tuple[int, ...] = (5, 1)
# Embedded images are small and viewed 1:1 on a desktop monitor: "standard_fhd" is a
# 24-inch Full HD monitor at 0.6 m (~38 px/degree). On "standard_4k" (~75 px/degree)
# JPEG artefacts are so small that astronaut still passes tau = 1 at QF 10.
DEFAULT_DISPLAY = JOD_DISPLAY  # one display model for labels and evaluation (evaluation/metrics.py)
NAMM_MAX_VISIBLE = 0.05  # conservative: near pixel-level invisibility (module docstring)
# One torch thread while labelling (ColorVideoVDP, MS-SSIM): on a busy 2-core machine
# two OpenMP threads spin-wait for each other (embedded build measured at 324 s with
# 2 threads vs 92 s with 1 while other jobs ran; on an idle machine 1 thread costs
# little).
LABEL_THREADS = 1

# The JPEG setting every JND1 encode uses (labellers and convert.convert_jpeg_jnd).
JPEG_SETTING: dict[str, Any] = {
    "codec": "JPEG (Pillow / libjpeg)",
    "pillow_version": PIL.__version__,
    "subsampling": "4:2:0",
    "optimize": False,
    "progressive": False,
    "quantisation": "libjpeg standard tables scaled by quality (IJG)",
}


# ---------------------------------------------------------------- JPEG + quality

def jpeg_setting_text() -> str:
    """One-line summary of :data:`JPEG_SETTING` for CSV cells."""
    return (f"Pillow {JPEG_SETTING['pillow_version']} libjpeg, {JPEG_SETTING['subsampling']}, "
            f"optimize={JPEG_SETTING['optimize']}, progressive={JPEG_SETTING['progressive']}")


def jpeg_encode(rgb: np.ndarray, qf: int) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 image at quality ``qf`` with :data:`JPEG_SETTING`."""
    if not 1 <= int(qf) <= 100:
        raise ValueError(f"JPEG quality factor must be 1..100, got {qf}")
    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(
        buf, format="JPEG", quality=int(qf), subsampling=2, optimize=False, progressive=False)
    return buf.getvalue()


def jpeg_roundtrip(rgb: np.ndarray, qf: int) -> tuple[np.ndarray, int]:
    """(decoded uint8 RGB, number of bytes) of the JPEG encode at ``qf``."""
    data = jpeg_encode(rgb, qf)
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), len(data)


def pair_quality(ref: np.ndarray, jnd: np.ndarray) -> dict[str, float]:
    """PSNR and MS-SSIM of a JND image against its original (8-bit RGB)."""
    return {"psnr": psnr(ref, jnd), "ms_ssim": ms_ssim(ref, jnd)}


# ---------------------------------------------------------------- QF search

def search_lowest_qf(passes: Callable[[int], bool], grid: Iterable[int] = DEFAULT_QF_GRID,
                     refine_steps: Sequence[int] = DEFAULT_REFINE_STEPS) -> tuple[int, bool, list[int]]:
    """Lowest QF that passes with every higher tested QF passing too.

    Scans ``grid`` from high to low and stops at the first failure; then, for each
    step in ``refine_steps``, scans the gap between the last pass and that failure
    from high to low with this step, again stopping at the first failure.
    Returns (qf, found, evaluated QFs in order); ``found`` is False when even the
    highest grid QF fails (qf is then that QF).
    """
    grid = sorted({int(q) for q in grid}, reverse=True)
    if not grid or grid[-1] < 1 or grid[0] > 100:
        raise ValueError(f"QF grid must lie in 1..100, got {grid}")
    tried: list[int] = []

    def ok(q: int) -> bool:
        tried.append(q)
        return passes(q)

    last_ok, failed = None, 0  # QF 0 does not exist: "fails" below the grid
    for q in grid:
        if not ok(q):
            failed = q
            break
        last_ok = q
    if last_ok is None:
        return grid[0], False, tried
    for step in refine_steps:
        for q in range(last_ok - step, failed, -step):
            if not ok(q):
                failed = q
                break
            last_ok = q
    return last_ok, True, tried


# ---------------------------------------------------------------- ColorVideoVDP

@functools.lru_cache(maxsize=4)
def _cvvdp_metric(display: str, device: str):
    try:
        import pycvvdp
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise ImportError("the 'cvvdp' labeller needs ColorVideoVDP: pip install cvvdp") from e
    import torch

    return pycvvdp.cvvdp(display_name=display, device=torch.device(device))


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run with ``n`` torch CPU threads (None: leave the setting alone), then restore it.

    On a busy 2-core machine one thread is often faster than two: OpenMP threads that
    wait for a descheduled sibling spin instead of working.
    """
    if n is None:
        yield
        return
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def cvvdp_jod(ref: np.ndarray, test: np.ndarray, display: str = DEFAULT_DISPLAY,
              device: str = "cpu") -> float:
    """ColorVideoVDP's predicted JOD (10 = no visible difference) of ``test`` vs ``ref``."""
    import torch

    metric = _cvvdp_metric(display, device)
    with torch.no_grad():
        q, _ = metric.predict(test, ref, dim_order="HWC")
    return float(q)


# ---------------------------------------------------------------- NAMM JND profile

_B = np.array([[1, 1, 1, 1, 1], [1, 2, 2, 2, 1], [1, 2, 0, 2, 1],
               [1, 2, 2, 2, 1], [1, 1, 1, 1, 1]], dtype=np.float64) / 32.0
# Chou & Li's four directional high-pass operators (Yang et al. 2005 use them for G).
_G = [np.array(g, dtype=np.float64) / 16.0 for g in (
    [[0, 0, 0, 0, 0], [1, 3, 8, 3, 1], [0, 0, 0, 0, 0], [-1, -3, -8, -3, -1], [0, 0, 0, 0, 0]],
    [[0, 0, 1, 0, 0], [0, 8, 3, 0, 0], [1, 3, 0, -3, -1], [0, 0, -3, -8, 0], [0, 0, -1, 0, 0]],
    [[0, 0, 1, 0, 0], [0, 0, 3, 8, 0], [-1, -3, 0, 3, 1], [0, -8, -3, 0, 0], [0, 0, -1, 0, 0]],
    [[0, 1, 0, -1, 0], [0, 3, 0, -3, 0], [0, 8, 0, -8, 0], [0, 3, 0, -3, 0], [0, 1, 0, -1, 0]],
)]
NAMM_PARAMS: dict[str, float] = {"eta": 0.117, "overlap": 0.3, "canny_high": 0.5,
                                 "canny_sigma": math.sqrt(2.0), "edge_weight": 0.1}


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma on the 0..255 scale (float64)."""
    x = np.asarray(rgb, dtype=np.float64)
    if x.ndim == 2:
        return x
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def _edge_weight(y: np.ndarray, high: float, sigma: float, edge_weight: float) -> np.ndarray:
    """1 away from edges, ``edge_weight`` on dilated Canny edges, smoothed (edge protection)."""
    from skimage.feature import canny

    img = y / 255.0
    smooth = ndi.gaussian_filter(img, sigma, mode="nearest")
    mag = np.hypot(ndi.sobel(smooth, 0), ndi.sobel(smooth, 1))
    peak = float(mag.max())
    if peak <= 0:
        return np.ones_like(y)
    # MATLAB-style relative thresholds (edge(I, 'canny', 0.5): low = 0.4 * high).
    edges = canny(img, sigma=sigma, low_threshold=0.4 * high * peak, high_threshold=high * peak)
    yy, xx = np.mgrid[-3:4, -3:4]
    edges = ndi.binary_dilation(edges, structure=(yy**2 + xx**2) <= 9)
    w = 1.0 - (1.0 - edge_weight) * edges.astype(np.float64)
    return ndi.gaussian_filter(w, 0.8, truncate=2.0 / 0.8, mode="nearest")  # 5x5 kernel


def namm_profile(rgb: np.ndarray, eta: float = NAMM_PARAMS["eta"],
                 overlap: float = NAMM_PARAMS["overlap"],
                 canny_high: float = NAMM_PARAMS["canny_high"],
                 canny_sigma: float = NAMM_PARAMS["canny_sigma"],
                 edge_weight: float = NAMM_PARAMS["edge_weight"]) -> np.ndarray:
    """Per-pixel luminance JND threshold (0..255 scale), Yang et al. 2005 NAMM.

    T_l: luminance adaptation of the 5x5 weighted background bg,
    17(1 - sqrt(bg/127)) + 3 for bg <= 127, 3/128 (bg - 127) + 3 otherwise.
    T_t = eta * G * W_e: contrast masking from the largest of four directional
    gradients G, edge-protected by W_e. T = T_l + T_t - overlap * min(T_l, T_t).
    """
    y = luminance(rgb)
    bg = ndi.correlate(y, _B, mode="reflect")
    t_l = np.where(bg <= 127, 17.0 * (1.0 - np.sqrt(bg / 127.0)) + 3.0, 3.0 / 128.0 * (bg - 127.0) + 3.0)
    grad = np.max([np.abs(ndi.correlate(y, g, mode="reflect")) for g in _G], axis=0)
    t_t = eta * grad * _edge_weight(y, canny_high, canny_sigma, edge_weight)
    return t_l + t_t - overlap * np.minimum(t_l, t_t)


def namm_visible_fraction(ref: np.ndarray, test: np.ndarray, profile: np.ndarray | None = None) -> float:
    """Fraction of pixels whose luminance error exceeds the NAMM profile of ``ref``."""
    t = namm_profile(ref) if profile is None else profile
    err = np.abs(luminance(test) - luminance(ref))
    return float(np.mean(err > t))


# ---------------------------------------------------------------- labeller

def label_image(rgb: np.ndarray, labeller: str = "cvvdp", tau: float = 1.0, *,
                display: str = DEFAULT_DISPLAY, device: str = "cpu",
                max_visible: float = NAMM_MAX_VISIBLE, qf_grid: Iterable[int] = DEFAULT_QF_GRID,
                refine_steps: Sequence[int] = DEFAULT_REFINE_STEPS, with_jod: bool = False,
                threads: int | None = LABEL_THREADS) -> dict[str, Any]:
    """Proxy first-JND label of an (H, W, 3) uint8 image.

    Returns dict(qf, jod, psnr, ms_ssim, bpp, jnd_rgb, labeller, params, status):
    ``status`` is "ok", or says that no QF passed (``qf`` is then not a label). ``jnd_rgb``
    is the decoded JPEG at ``qf``; ``jod`` is its predicted JOD (cvvdp; NaN for namm
    unless ``with_jod``); PSNR / MS-SSIM are of JND1 vs the original, bpp from the
    JPEG bytes. ``tau`` is the JOD drop allowed by "cvvdp"; ``max_visible`` the
    fraction of pixels above the JND profile allowed by "namm"; ``threads`` the torch
    CPU threads while labelling (None: torch's setting).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"label_image needs an (H, W, 3) uint8 image, got {rgb.shape} {rgb.dtype}")
    grid = tuple(sorted({int(q) for q in qf_grid}, reverse=True))
    cache: dict[int, tuple[np.ndarray, int]] = {}
    scores: dict[int, float] = {}

    def encode(q: int) -> tuple[np.ndarray, int]:
        if q not in cache:
            cache[q] = jpeg_roundtrip(rgb, q)
        return cache[q]

    params, passes = _criterion(rgb, labeller, tau, display, device, max_visible, encode, scores)
    with torch_threads(threads):
        qf, found, tried = search_lowest_qf(passes, grid, refine_steps)
        jnd_rgb, nbytes = encode(qf)
        if labeller == "cvvdp":
            jod = scores[qf]
        else:
            jod = cvvdp_jod(rgb, jnd_rgb, display, device) if with_jod else float("nan")
        quality = pair_quality(rgb, jnd_rgb)
    params.update({"qf_grid": grid_text(grid), "refine_steps": list(refine_steps), "found": found,
                   "evaluations": len(tried),
                   "jpeg": jpeg_setting_text()})
    return {
        "qf": int(qf),
        "jod": float(jod),
        **quality,
        "bpp": nbytes * 8.0 / (rgb.shape[0] * rgb.shape[1]),
        "jnd_rgb": jnd_rgb,
        "labeller": labeller,
        "params": params,
        "status": "ok" if found else search_failure(labeller, qf, scores.get(qf, math.nan), tau, max_visible),
        "scores": {int(q): float(s) for q, s in scores.items()},
    }


def _criterion(rgb: np.ndarray, labeller: str, tau: float, display: str, device: str, max_visible: float,
               encode: Callable[[int], tuple[np.ndarray, int]], scores: dict[int, float]
               ) -> tuple[dict[str, Any], Callable[[int], bool]]:
    """``labeller``'s knobs (for the labels' ``params``) and its test of a QF, which
    records each QF's score in ``scores``: cvvdp's JOD >= 10 - tau, or namm's fraction
    of visible pixels <= max_visible."""
    if labeller == "cvvdp":
        if tau <= 0:
            raise ValueError(f"tau must be > 0 JOD, got {tau}")
        params = {"display": display, "tau": float(tau), "criterion": "JOD >= 10 - tau"}

        def passes(q: int) -> bool:
            scores[q] = cvvdp_jod(rgb, encode(q)[0], display, device)
            return scores[q] >= 10.0 - tau
    elif labeller == "namm":
        if not 0 <= max_visible < 1:
            raise ValueError(f"max_visible must be in [0, 1), got {max_visible}")
        profile = namm_profile(rgb)
        params = {"max_visible": float(max_visible), **NAMM_PARAMS,
                  "criterion": "fraction of pixels with |dY| > T_NAMM <= max_visible"}

        def passes(q: int) -> bool:
            scores[q] = namm_visible_fraction(rgb, encode(q)[0], profile)
            return scores[q] <= max_visible
    else:
        raise ValueError(f"unknown labeller {labeller!r}; choose one of {LABELLERS}")
    return params, passes


def search_failure(labeller: str, qf: int, score: float, tau: float, max_visible: float) -> str:
    """The status of an image no QF passes for."""
    if labeller == "cvvdp":
        crit = f"JOD {score:.2f} < {10 - tau:g} (10 - tau)"
    else:
        crit = f"visible fraction {score:.3f} > {max_visible:g}"
    return f"no JND found: even QF {qf} fails ({crit})"


def check_labels(labels_csv: str | os.PathLike) -> None:
    """Raise ``ValueError`` naming every image of ``labels_csv`` whose label search
    failed (``status`` other than "ok"); files without a status column pass."""
    import pandas as pd

    path = Path(labels_csv)
    if not path.is_file():
        return
    df = pd.read_csv(path)
    if "status" not in df:
        return
    bad = df[df["status"].fillna("ok").astype(str) != "ok"]
    if len(bad):
        lines = "; ".join(f"{r.image}: {r.status}" for r in bad.itertuples())
        raise ValueError(f"{path}: {len(bad)} image(s) have no JND label ({lines}); raise tau, "
                         "drop these images or label them by hand")


def grid_text(grid: Iterable[int]) -> str:
    """'100..5 step 5' for an evenly spaced descending grid, else the list."""
    g = sorted({int(q) for q in grid}, reverse=True)
    steps = {a - b for a, b in zip(g, g[1:])}
    if len(g) > 2 and len(steps) == 1:
        return f"{g[0]}..{g[-1]} step {steps.pop()}"
    return ",".join(map(str, g))


def params_json(params: dict[str, Any]) -> str:
    """Compact JSON of a labeller's params for one CSV cell."""
    return json.dumps(params, sort_keys=True, separators=(",", ":"))
