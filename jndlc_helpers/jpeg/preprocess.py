"""The learned preprocessor: a small network on the block grid that decides, for every
AC coefficient, which of its two nearest quantisation levels JPEG will keep.

It sees what JPEG will do: the image's own block-DCT coefficients in quantisation
steps (so the 8x8 grid and each coefficient's step are explicit), their distance to
the rounding boundary, the quantisation steps (the quality factor) and the image's
lambda. Its output is a correction, in bits, to the classical rule's score
(``classical.rd_scores``): the last layer starts at zero, so an untrained network *is*
the classical anchor, and training moves decisions where the simulated end-to-end
cost says so. Each coefficient moves by at most half a step in the decision's terms:
it can only pick floor(u) or floor(u) + 1, never a level further away.

Training relaxes the decision with an expected cost (``relaxed_levels``): a coefficient
near the boundary is floor(u) + 1 with probability p (a ramp of its score), its expected
rate is exact (the rate proxy is separable) and its expected squared error is the error
of the mean level plus the variance p(1 - p) * step^2 (``variance_sse``), so MSE-based
losses see the true expected cost, not a biased staircase.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from . import classical as C
from . import simulator as S
from .rate import RateProxy, rgb_tensor

N_FEATURES = 4  # per coefficient: score, distance to the boundary, magnitude, log step
SCORE_SCALE = 8.0  # bits: scores are fed as score / SCORE_SCALE, clipped
OUT_SCALE = 4.0  # bits: the network's correction is out * OUT_SCALE


class BlockNet(nn.Module):
    """1x1 conv, 3x3 conv over neighbouring blocks, 1x1 conv; the last layer starts at zero."""

    def __init__(self, channels: int, out: int, hidden: int):
        super().__init__()
        self.inp = nn.Conv2d(channels, hidden, 1)
        self.mid = nn.Conv2d(hidden, hidden, 3, padding=1, padding_mode="replicate")
        self.out = nn.Conv2d(hidden, out, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        h = F.gelu(self.inp(f))
        return self.out(F.gelu(self.mid(h)) + h)


def coefficient_features(u: torch.Tensor, score: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """[N, C, 64, h, w] -> [N, C * 64 * N_FEATURES, h, w]."""
    n, c, _, h, w = u.shape
    f = torch.floor(u)
    feats = torch.stack([
        (score / SCORE_SCALE).clamp(-4, 4),
        u - f - 0.5,
        torch.sign(f + 0.5) * torch.log2(1 + (f + 0.5).abs()),
        torch.log(q.view(1, 1, 64, 1, 1)).expand_as(u) / 4,
    ], 3)
    return feats.reshape(n, c * 64 * N_FEATURES, h, w)


class Preprocessor(nn.Module):
    """Score corrections for luma (one 64-coefficient block per cell) and chroma (Cb and
    Cr blocks together); conditioned on the quality factor and lambda."""

    def __init__(self, hidden: int = 48):
        super().__init__()
        self.hidden = hidden
        self.luma = BlockNet(64 * N_FEATURES + 1, 64, hidden)
        self.chroma = BlockNet(2 * 64 * N_FEATURES + 1, 128, hidden)

    def forward(self, u: S.Coefficients, scores: S.Coefficients, quality: int, lam: torch.Tensor) -> S.Coefficients:
        """Corrected scores (bits; > 0 picks floor(u) + 1)."""
        out = []
        for net, c, s, q in zip((self.luma, self.chroma), u, scores, S.quant_tables(quality)):
            f = coefficient_features(c, s, q.to(c))
            loglam = torch.log(lam.to(c)).view(-1, 1, 1, 1).expand(-1, 1, *f.shape[-2:]) / 10
            corr = net(torch.cat([f, loglam], 1)).view_as(c)
            out.append(s + OUT_SCALE * corr)
        return S.Coefficients(*out)


def ramp(scores: torch.Tensor, width: float) -> torch.Tensor:
    """P(upper level): 0 below -width/2, 1 above width/2, linear between."""
    return (0.5 + scores / width).clamp(0, 1)


def relaxed_levels(u: S.Coefficients, scores: S.Coefficients, width: float) -> tuple[S.Coefficients, S.Coefficients]:
    """(mean levels, P(upper level)) for AC; DC rounded as JPEG rounds it (p = 0)."""
    means, probs = [], []
    for c, s in zip(u, scores):
        f = torch.floor(c)
        p = ramp(s, width)
        dc = torch.sign(c[:, :, :1]) * torch.floor(c[:, :, :1].abs() + 0.5)
        p = torch.cat([torch.zeros_like(p[:, :, :1]), p[:, :, 1:]], 2)
        means.append(torch.cat([dc, (f + p)[:, :, 1:]], 2))
        probs.append(p)
    return S.Coefficients(*means), S.Coefficients(*probs)


def variance_sse(probs: S.Coefficients, quality: int) -> torch.Tensor:
    """Expected extra squared error (summed, mean over RGB) of random levels, per image."""
    return sum((p * (1 - p) * w.to(p)).sum((1, 2, 3, 4)) for p, w in zip(probs, C.error_weights(quality)))


def decide(model: Preprocessor, x: torch.Tensor, quality: int, lam: torch.Tensor, proxy: RateProxy,
           precompensate: bool = True) -> tuple[S.Coefficients, S.Coefficients]:
    """(target coefficients u, corrected scores) for images ``x`` [N, 3, H, W] (8-bit scale)."""
    u = C.targets(x, quality, precompensate)
    scores = C.rd_scores(u, quality, lam, proxy)
    return u, model(u, scores, quality, lam)


def preprocess_image(model: Preprocessor, rgb: np.ndarray, quality: int, proxy: RateProxy,
                     multiplier: float = C.DEFAULT_MULTIPLIER) -> np.ndarray:
    """The network's preprocessed image (H, W, 3) uint8 for JPEG at ``quality``."""
    x = rgb_tensor(rgb)
    lam = C.jpeg_slope(rgb, quality) * multiplier
    if not math.isfinite(lam):
        return np.asarray(rgb, dtype=np.uint8).copy()
    with torch.no_grad():
        u, scores = decide(model, x, quality, torch.tensor([lam]), proxy)
        levels = C.choose_levels(u, scores)
        out = C.render(levels, quality, tuple(x.shape[-2:]))
    return out[0].permute(1, 2, 0).to(torch.uint8).numpy()


def save_weights(path: str | os.PathLike, model: Preprocessor, meta: dict[str, Any]) -> Path:
    """The network's weights in half precision (a few hundred KB) and what it was trained with."""
    from ..files import atomic_write

    state = {k: v.half() for k, v in model.state_dict().items()}
    return atomic_write(path, lambda p: torch.save({"state_dict": state, "hidden": model.hidden, "meta": meta}, p))


def load_weights(path: str | os.PathLike) -> tuple[Preprocessor, dict[str, Any]]:
    """(model in eval mode, its meta) from ``save_weights``' file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"preprocessor weights not found: {path}")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
        model = Preprocessor(int(raw["hidden"]))
        model.load_state_dict({k: v.float() for k, v in raw["state_dict"].items()})
    except Exception as e:  # torch.load raises many kinds on a foreign file
        raise ValueError(f"{path}: not a JPEG preprocessor weights file ({e})") from e
    return model.eval(), raw.get("meta", {})
