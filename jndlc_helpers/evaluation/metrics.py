"""Image quality metrics on 8-bit reconstructions: PSNR, MS-SSIM (and in dB), JOD.

Everything is measured as CompressAI's ``eval_model`` does: reconstructions are
clamped to [0, 1], scaled by 255 and rounded, so the numbers are those of the
8-bit image a user would save. MS-SSIM is pytorch-msssim's 5-scale version with
``data_range=255``; it needs images larger than 160 px per side and gives NaN on
smaller ones. JOD (just-objectionable-difference, 10 = no visible difference) is
ColorVideoVDP's prediction, an extra perceptual column.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import torch

from ..vocab import MSSSIM_MIN_SIDE  # pytorch-msssim's 5 scales, 11-tap window: (11 - 1) * 2**4 < min side

JOD_DISPLAY = "standard_fhd"  # ColorVideoVDP display model: one for labelling and evaluation

_JOD_METRICS: dict[str, object] = {}


def to_8bit(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    """A float tensor [N, 3, H, W] of 8-bit values (0..255, integers).

    Float tensors are taken as [0, 1] images (clamped, x255, rounded); uint8 arrays
    (H, W, 3) or (3, H, W) tensors are taken as they are.
    """
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8:
            raise TypeError(f"numpy images must be uint8 (H, W, 3), got {x.dtype}")
        if x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB array, got shape {x.shape}")
        return torch.from_numpy(np.require(x, requirements=["C", "W"])).permute(2, 0, 1)[None].float()
    if x.dim() == 3:
        x = x[None]
    if x.dtype == torch.uint8:
        return x.float()
    return (x.detach().float() * 255).clamp(0, 255).round()


def to_uint8_array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 array from a [0, 1] tensor or an 8-bit array."""
    if isinstance(x, np.ndarray) and x.dtype == np.uint8:
        return x
    t = to_8bit(x)
    return t[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def psnr(ref: torch.Tensor | np.ndarray, rec: torch.Tensor | np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two 8-bit images (inf when identical)."""
    return _psnr8(to_8bit(ref), to_8bit(rec), peak)


def _psnr8(a: torch.Tensor, b: torch.Tensor, peak: float = 255.0) -> float:
    _check_same_shape(a, b)
    mse = (a.double() - b.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def ms_ssim(ref: torch.Tensor | np.ndarray, rec: torch.Tensor | np.ndarray) -> float:
    """5-scale MS-SSIM on 8-bit values (data_range=255); NaN if a side is <= 160 px."""
    return _ms_ssim8(to_8bit(ref), to_8bit(rec))


def _ms_ssim8(a: torch.Tensor, b: torch.Tensor) -> float:
    from pytorch_msssim import ms_ssim as _ms_ssim

    _check_same_shape(a, b)
    if min(a.shape[-2:]) < MSSSIM_MIN_SIDE:
        return math.nan
    return _ms_ssim(a, b, data_range=255.0).item()


def ms_ssim_db(value: float) -> float:
    """MS-SSIM in dB: -10 log10(1 - MS-SSIM) (inf at 1, NaN stays NaN)."""
    if value is None or not np.isfinite(value):
        return math.nan
    if value >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - value)


def jod_metric(display: str = JOD_DISPLAY):
    """A cached ColorVideoVDP metric object for ``display`` (created on first use)."""
    if display not in _JOD_METRICS:
        try:
            import pycvvdp
        except ImportError as e:  # pragma: no cover - cvvdp is a dependency
            raise ImportError("JOD needs ColorVideoVDP: pip install cvvdp") from e
        _JOD_METRICS[display] = pycvvdp.cvvdp(display_name=display, quiet=True, device=torch.device("cpu"))
    return _JOD_METRICS[display]


def jod_score(ref: torch.Tensor | np.ndarray, rec: torch.Tensor | np.ndarray, display: str = JOD_DISPLAY) -> float:
    """ColorVideoVDP's JOD of ``rec`` against ``ref`` (10 = indistinguishable)."""
    a, b = to_uint8_array(ref), to_uint8_array(rec)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    with torch.no_grad():
        q, _ = jod_metric(display).predict(b, a, dim_order="HWC")
    return float(q)


def image_metrics(
    ref: torch.Tensor | np.ndarray,
    rec: torch.Tensor | np.ndarray,
    jod: bool = False,
    display: str = JOD_DISPLAY,
) -> dict[str, float]:
    """PSNR, MS-SSIM, MS-SSIM in dB and (if ``jod``) JOD of ``rec`` against ``ref``."""
    a, b = to_8bit(ref), to_8bit(rec)
    m = _ms_ssim8(a, b)
    return {
        "psnr": _psnr8(a, b),
        "ms_ssim": m,
        "ms_ssim_db": ms_ssim_db(m),
        "jod": jod_score(a.to(torch.uint8)[0].permute(1, 2, 0).numpy(),
                         b.to(torch.uint8)[0].permute(1, 2, 0).numpy(), display) if jod else math.nan,
    }


def jnd_quality_table(
    pairs: Iterable[Sequence[str | os.PathLike]],
    jod: bool = False,
    display: str = JOD_DISPLAY,
) -> pd.DataFrame:
    """Quality of each JND1 image against its reference.

    ``pairs`` are (ref_path, jnd_path); the result has one row per pair with columns
    image (the reference's file stem), psnr, ms_ssim, ms_ssim_db and, with
    ``jod=True``, jod. Images of different sizes raise ``ValueError`` naming both.
    """
    from ..files import load_rgb

    rows = []
    for ref_path, jnd_path in pairs:
        ref, jnd = load_rgb(ref_path), load_rgb(jnd_path)
        if ref.shape != jnd.shape:
            raise ValueError(f"{jnd_path}: size {jnd.shape} differs from its reference {ref_path} {ref.shape}")
        m = image_metrics(ref, jnd, jod=jod, display=display)
        row = {"image": Path(ref_path).stem, **{k: m[k] for k in ("psnr", "ms_ssim", "ms_ssim_db")}}
        if jod:
            row["jod"] = m["jod"]
        rows.append(row)
    cols = ["image", "psnr", "ms_ssim", "ms_ssim_db"] + (["jod"] if jod else [])
    return pd.DataFrame(rows, columns=cols)


def _check_same_shape(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
