"""The no-learning anchor: a per-coefficient rate-distortion rounding decision, with
chroma pre-compensation for the decoder's upsampling.

1. Chroma pre-compensation: the encoder averages 2x2 chroma samples and the decoder
   spreads them back with a triangle filter, which blurs. The low-resolution chroma
   whose *upsampled* version is closest to the full-resolution chroma (least squares,
   a few gradient steps) is coded instead of the plain average.
2. Each AC coefficient u (in quantisation steps) goes to one of its two nearest levels,
   floor(u) or floor(u) + 1, whichever costs less in ``bits + lambda * SSE``: the rate
   from ``rate.RateProxy``, the squared error in RGB (mean over channels, summed over
   pixels; chroma weighted by its colour transform and the upsampling's gain). DC keeps
   JPEG's own rounding.
3. lambda is the image's own JPEG rate-distortion slope at that quality factor
   (``jpeg_slope``, two extra Pillow encodes), times ``multiplier``.

The same rule serves the MS-SSIM family, with the slope measured in MSE, and it cannot do
otherwise: its decision weighs bits against squared error, so an MS-SSIM slope (bits per
unit of 1 - MS-SSIM) has to be turned into bits per unit of squared error first, and the
only conversion at hand, the image's own ratio of the two distortions along JPEG's curve,
gives back exactly the MSE slope (bits/MS-SSIM x MS-SSIM/SSE = bits/SSE). A rule that
weighs every coefficient's squared error alike cannot aim at MS-SSIM. Its perceptual
variant, ``ssim_weighted`` (the method "classical-ssim"), weighs each block's squared
error by its SSIM sensitivity instead: for a small error e in a block of variance
sigma^2, 1 - SSIM ~ mean(e^2) / (2 sigma^2 + C2), so a flat block's error counts more
than a textured one's (``ssim_block_weights``); lambda is then the slope in that weighted
squared error, measured along JPEG's own curve like the others.

The image handed to JPEG holds exactly the chosen levels (``render``), so the encoder's
rounding keeps them; JPEG itself, its tables and the decoder are unchanged.
"""
from __future__ import annotations

import hashlib
import io
import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from . import simulator as S
from .rate import RateProxy, rgb_tensor

# RGB squared error (mean over the 3 channels) per unit error in Cb and in Cr
COLOUR_WEIGHT = ((0.344136286**2 + 1.772**2) / 3, (1.402**2 + 0.714136286**2) / 3)
SLOPE_STEP = 5  # quality factors either side for the local slope
SLOPE_METRICS = ("mse", "ms-ssim", "ssim-weighted")
SSIM_C2 = (0.03 * 255) ** 2  # SSIM's C2 on the 8-bit scale
DEFAULT_MULTIPLIER = 0.7  # chosen on the training images (benchmarks/NOTES_jpeg_preprocessing.md)
CACHE_SIZE = 16
_CHROMA_CACHE: dict[str, torch.Tensor] = {}


@lru_cache(maxsize=1)
def upsampling_gain() -> torch.Tensor:
    """For each chroma coefficient (natural order), the full-resolution squared error
    that a unit error in it leaves after the decoder's upsampling (4 at DC, less above)."""
    canvas = torch.zeros(64, 1, 64, 3, 3, dtype=torch.float64)
    canvas[torch.arange(64), 0, torch.arange(64), 1, 1] = 1.0
    img = S.block_idct(canvas)  # [64, 1, 24, 24]: each basis function in the middle block
    return (S.upsample(img) ** 2).sum((1, 2, 3)).float()


def error_weights(quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """SSE per squared step of error: luma [1, 1, 64, 1, 1], chroma [1, 2, 64, 1, 1]."""
    ql, qc = S.quant_tables(quality)
    luma = (ql**2).view(1, 1, 64, 1, 1)
    colour = torch.tensor(COLOUR_WEIGHT).view(1, 2, 1, 1, 1)
    chroma = colour * (qc**2 * upsampling_gain()).view(1, 1, 64, 1, 1)
    return luma, chroma


def precompensate_chroma(ycc: torch.Tensor, steps: int = 20) -> torch.Tensor:
    """Low-resolution Cb, Cr [N, 2, H/2, W/2] whose upsampling best matches ``ycc``'s
    full-resolution chroma (gradient descent on the least-squares error from the average)."""
    target = ycc[:, 1:].detach()
    c = S.downsample(target).clone()
    with torch.enable_grad():
        for _ in range(steps):
            c.requires_grad_(True)
            err = ((S.upsample(c) - target) ** 2).sum()
            (grad,) = torch.autograd.grad(err, c)
            c = (c - grad / 8).detach()  # 1/8 = 1 / (2 * the operator's largest gain, 4)
    return c


def _precompensated(ycc: torch.Tensor) -> torch.Tensor:
    """``precompensate_chroma``, remembered for the last few images: it does not depend on
    the quality factor, and an evaluation codes each image at many."""
    key = hashlib.sha1(ycc.detach().cpu().numpy().tobytes()).hexdigest()
    if key not in _CHROMA_CACHE:
        if len(_CHROMA_CACHE) >= CACHE_SIZE:
            _CHROMA_CACHE.pop(next(iter(_CHROMA_CACHE)))
        _CHROMA_CACHE[key] = precompensate_chroma(ycc)
    return _CHROMA_CACHE[key]


def targets(x: torch.Tensor, quality: int, precompensate: bool = True) -> S.Coefficients:
    """The coefficients (in steps) the decisions start from: JPEG's own, or with the
    chroma pre-compensated."""
    if not precompensate:
        return S.analyse(x, quality)
    ycc = S.rgb_to_ycc(S.pad_to_mcu(x))
    ql, qc = S.quant_tables(quality)
    chroma = _precompensated(ycc) if x.shape[0] == 1 else precompensate_chroma(ycc)
    return S.Coefficients(S.block_dct(ycc[:, :1] - 128) / ql.view(1, 1, 64, 1, 1),
                          S.block_dct(chroma - 128) / qc.view(1, 1, 64, 1, 1))


def ssim_block_weights(x: torch.Tensor) -> torch.Tensor:
    """Each 8x8 block's SSIM sensitivity [N, 1, H/8, W/8] (whole MCUs), normalised to mean 1
    per image: the mean over RGB channels of 1 / (2 sigma^2 + C2), sigma^2 the channel's
    variance in the block (``x`` [N, 3, H, W] on the 8-bit scale)."""
    x = S.pad_to_mcu(x.double())
    var = (F.avg_pool2d(x * x, 8) - F.avg_pool2d(x, 8) ** 2).clamp_min(0)
    w = (1 / (2 * var + SSIM_C2)).mean(1, keepdim=True)
    return (w / w.mean((-2, -1), keepdim=True)).float()


def block_weights(x: torch.Tensor) -> S.Coefficients:
    """``ssim_block_weights`` shaped for ``rd_scores``: luma [N, 1, 1, h, w] and chroma
    [N, 1, 1, h/2, w/2] (the mean over the MCU's four luma blocks)."""
    w = ssim_block_weights(x)
    return S.Coefficients(w.unsqueeze(2), F.avg_pool2d(w, 2).unsqueeze(2))


def rd_scores(u: S.Coefficients, quality: int, lam: torch.Tensor, proxy: RateProxy,
              blocks: S.Coefficients | None = None) -> S.Coefficients:
    """J(floor) - J(floor + 1) in bits for every coefficient (> 0: the upper level is
    cheaper), with J = bits + lam * SSE; ``lam`` per image [N], times each block's weight
    where ``blocks`` (``block_weights``) is given."""
    weights = error_weights(quality)
    out = []
    for g, (c, w) in enumerate(zip(u, weights)):
        f = torch.floor(c)
        lam_ = lam.view(-1, 1, 1, 1, 1).to(c) * (1.0 if blocks is None else blocks[g].to(c))
        j_lo = proxy.coefficient_bits(f, g) + lam_ * w.to(c) * (c - f) ** 2
        j_hi = proxy.coefficient_bits(f + 1, g) + lam_ * w.to(c) * (c - f - 1) ** 2
        out.append(j_lo - j_hi)
    return S.Coefficients(*out)


def choose_levels(u: S.Coefficients, scores: S.Coefficients) -> S.Coefficients:
    """floor(u) + [score > 0] for AC coefficients; DC rounded as JPEG rounds it."""
    out = []
    for c, s in zip(u, scores):
        lv = torch.floor(c) + (s > 0).to(c)
        lv[:, :, 0] = torch.sign(c[:, :, 0]) * torch.floor(c[:, :, 0].abs() + 0.5)
        out.append(lv)
    return S.Coefficients(*out)


def render(levels: S.Coefficients, quality: int, size: tuple[int, int]) -> torch.Tensor:
    """The image to hand to JPEG, [N, 3, H, W] uint8 values as float: luma and the
    low-resolution chroma that the chosen levels decode to, chroma repeated 2x2 so
    that the encoder's averaging gives it back."""
    ql, qc = S.quant_tables(quality)
    y = S.block_idct(levels.luma * ql.view(1, 1, 64, 1, 1).to(levels.luma)) + 128
    c = S.block_idct(levels.chroma * qc.view(1, 1, 64, 1, 1).to(levels.chroma)) + 128
    c = F.interpolate(c, scale_factor=2, mode="nearest")
    rgb = S.ycc_to_rgb(torch.cat([y, c], 1))[..., : size[0], : size[1]]
    return torch.round(rgb).clamp(0, 255)


def _jpeg_point(rgb: np.ndarray, quality: int, metric: str) -> tuple[float, float]:
    """(bpp, D) of Pillow's JPEG of ``rgb``: D is the MSE on the 8-bit scale, 1 - MS-SSIM,
    or the MSE with each pixel's error weighted by its block's ``ssim_block_weights``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        dec = np.asarray(im.convert("RGB"))
    bpp = 8.0 * len(buf.getvalue()) / (rgb.shape[0] * rgb.shape[1])
    sq = ((dec.astype(np.float64) - rgb) ** 2).mean(-1)
    if metric == "mse":
        return bpp, float(sq.mean())
    if metric == "ssim-weighted":
        w = ssim_block_weights(rgb_tensor(rgb))[0, 0].double().numpy()
        return bpp, float((sq * np.kron(w, np.ones((8, 8)))[: sq.shape[0], : sq.shape[1]]).mean())
    from ..evaluation.metrics import ms_ssim

    return bpp, 1.0 - ms_ssim(rgb, dec)


def jpeg_slope(rgb: np.ndarray, quality: int, metric: str = "mse") -> float:
    """The image's own JPEG trade-off at ``quality``: bpp gained per unit of D lost
    between quality -/+ SLOPE_STEP (D of ``SLOPE_METRICS``: MSE on the 8-bit scale,
    1 - MS-SSIM, or the SSIM-weighted MSE). For ``mse`` this is lambda in bits per unit of
    summed squared error; for ``ssim-weighted``, per unit of weighted squared error."""
    if metric not in SLOPE_METRICS:
        raise ValueError(f"slope metric must be one of {SLOPE_METRICS}, got {metric!r}")
    quality = S.check_quality(quality)
    lo, hi = max(quality - SLOPE_STEP, 1), min(quality + SLOPE_STEP, 100)
    (r0, d0), (r1, d1) = _jpeg_point(rgb, lo, metric), _jpeg_point(rgb, hi, metric)
    if d0 <= d1 or r1 <= r0:
        return math.nan
    return (r1 - r0) / (d0 - d1)


def classical_preprocess(rgb: np.ndarray, quality: int, proxy: RateProxy, multiplier: float = DEFAULT_MULTIPLIER,
                         precompensate: bool = True, ssim_weighted: bool = False) -> np.ndarray:
    """The anchor's preprocessed image (H, W, 3) uint8 for JPEG at ``quality``; with
    ``ssim_weighted``, its variant that weighs each block's squared error by its SSIM
    sensitivity (lambda from the slope in that weighted error)."""
    x = rgb_tensor(rgb)
    lam = jpeg_slope(rgb, quality, "ssim-weighted" if ssim_weighted else "mse") * multiplier
    with torch.no_grad():
        u = targets(x, quality, precompensate)
        if math.isfinite(lam):
            blocks = block_weights(x) if ssim_weighted else None
            levels = choose_levels(u, rd_scores(u, quality, torch.tensor([lam]), proxy, blocks))
        else:  # no usable slope (a flat image): JPEG's own rounding
            levels = S.quantise(u)
        out = render(levels, quality, tuple(x.shape[-2:]))
    return out[0].permute(1, 2, 0).to(torch.uint8).numpy()
