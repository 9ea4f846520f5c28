"""Rate-distortion losses: CompressAI's baseline and the paper's JND losses.

Every loss is an ``nn.Module`` called as ``loss(out_net, x_o, x_j)`` where ``out_net``
is a CompressAI model's output (``{"x_hat", "likelihoods"}``), ``x_o`` the original
image batch (what the network compresses) and ``x_j`` its JND-quality image (for
unlabelled images, ``x_j = x_o``). It returns a dict in CompressAI's style:

- ``"loss"``        = ``lmbda * D + R``, the value to back-propagate;
- ``"bpp_loss"``    = ``R`` = sum(log likelihoods) / (-ln 2 * N * H * W);
- ``"distortion"``  = ``D``, in the units ``lmbda`` multiplies (see below);
- ``"mse_loss"``    = MSE(x_hat, x_o) for distortion "mse", or
  ``"ms_ssim_loss"`` = MS-SSIM(x_hat, x_o) for distortion "ms-ssim" (CompressAI's names:
  fidelity to the *original*, whatever the loss, so that runs compare);
- extra terms where they exist: ``"jnd_distortion"`` = d(x_o, x_j) (IWL variants),
  ``"feature_loss"`` = MSE(F(x_hat), F(x_j)) and ``"feature_share"``, the feature
  term's share of D (FWL).

Scale of D. ``d`` is the batch MSE on [0, 1] images or ``1 - MS-SSIM``
(pytorch-msssim, ``data_range=1.0``), and CompressAI's convention multiplies the
MSE by ``255**2`` (s = 255**2 for "mse", s = 1 for "ms-ssim"):

========== =====================================================================
baseline   D = s * d(x_o, x_hat)                                   (eq. 5)
pwl        D = s * d(x_j, x_hat)                                   (eq. 6)
iwl        D = s * (d(x_o, x_hat) - d(x_o, x_j))                   (eq. 7, no clamp)
iwl-hinge  D = s * mean_i max(0, d_i(x_o, x_hat) - d_i(x_o, x_j))  (ours, not the paper's)
fwl        D = w * s * d(x_o, x_hat) + (1 - w) * c * MSE(F(x_hat), F(x_j))   (eq. 8)
========== =====================================================================

so ``lmbda`` multiplies the whole of D. In FWL only the pixel term carries ``s``;
the feature term is a plain MSE between feature maps (not scaled by 255**2), as in
the authors' code, with w = 0.9 and c = 1 by default (c, the feature term's scale, is
ours: the paper leaves F's scale unstated). So the feature term's share of D depends on
the extractor, its input and the distortion (``features.py`` gives measured
magnitudes); every FWL step reports it as ``"feature_share"`` = (1 - w) c F-term / D,
and ``fwl_share.py`` sets w and c for a given share.

IWL and the baseline have the same gradients: d(x_o, x_j) does not depend on the
network, so eq. 7 only shifts the loss by a constant. Fine-tuning with IWL *is*
fine-tuning the baseline on the same data; any gain of IWL over the pretrained
baseline is a gain of fine-tuning, so a reproduction must carry the fine-tuned
baseline control (loss "baseline" trained on the same data for the same budget).
"iwl-hinge" is our variant that makes the image-wise idea bite: images already
reconstructed better than their JND image contribute no distortion gradient.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorch_msssim import ms_ssim

from ..vocab import DISTORTIONS

LOSS_NAMES = ("baseline", "pwl", "iwl", "iwl-hinge", "fwl")
MSE_SCALE = 255.0**2  # CompressAI's RateDistortionLoss: lmbda * 255**2 * MSE


def bpp_loss(out_net: dict[str, Any], num_pixels: int) -> torch.Tensor:
    """Estimated bits per pixel from the likelihoods (CompressAI's formula)."""
    return sum(
        (torch.log(likelihoods).sum() / (-math.log(2) * num_pixels))
        for likelihoods in out_net["likelihoods"].values()
    )


def mse_per_image(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MSE of each image of a batch, shape [N]."""
    return (a - b).pow(2).flatten(1).mean(1)


def ms_ssim_per_image(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MS-SSIM (data_range 1) of each image of a batch, shape [N]."""
    return ms_ssim(a, b, data_range=1.0, size_average=False)


class JNDRateDistortionLoss(nn.Module):
    """Base class: ``loss = lmbda * D + bpp``; subclasses define D (``distortion``)."""

    name = "base"

    def __init__(self, lmbda: float, distortion: str = "mse"):
        super().__init__()
        if distortion not in DISTORTIONS:
            raise ValueError(f"distortion must be one of {DISTORTIONS}, got {distortion!r}")
        self.lmbda = float(lmbda)
        self.distortion_name = distortion
        self.scale = MSE_SCALE if distortion == "mse" else 1.0

    def d(self, x_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Batch distortion d (unscaled): MSE or 1 - MS-SSIM, as CompressAI computes it."""
        if self.distortion_name == "mse":
            return F.mse_loss(x_hat, target)
        return 1 - ms_ssim(x_hat, target, data_range=1.0)

    def d_per_image(self, x_hat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-image distortion d_i (unscaled), shape [N]."""
        if self.distortion_name == "mse":
            return mse_per_image(x_hat, target)
        return 1 - ms_ssim_per_image(x_hat, target)

    @property
    def fidelity_key(self) -> str:
        """CompressAI's name for the fidelity to the original: mse_loss or ms_ssim_loss."""
        return "mse_loss" if self.distortion_name == "mse" else "ms_ssim_loss"

    def d_original(self, x_hat: torch.Tensor, x_o: torch.Tensor, out: dict[str, torch.Tensor]) -> torch.Tensor:
        """d(x_o, x_hat) for the batch, computed once per step and reported in ``out``
        (an MS-SSIM of 4 x 192 px costs as much as a tenth of a CPU step)."""
        if self.fidelity_key not in out:
            out[self.fidelity_key] = (F.mse_loss(x_hat, x_o) if self.distortion_name == "mse"
                                      else ms_ssim(x_hat, x_o, data_range=1.0))
        return out["mse_loss"] if self.distortion_name == "mse" else 1 - out["ms_ssim_loss"]

    def distortion(self, x_hat, x_o, x_j, out: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, out_net: dict[str, Any], x_o: torch.Tensor, x_j: torch.Tensor) -> dict[str, torch.Tensor]:
        N, _, H, W = x_o.size()
        x_hat = out_net["x_hat"]
        out: dict[str, torch.Tensor] = {"bpp_loss": bpp_loss(out_net, N * H * W)}
        out["distortion"] = self.distortion(x_hat, x_o, x_j, out)
        self.d_original(x_hat, x_o, out)  # the report, where the distortion did not need it
        out["loss"] = self.lmbda * out["distortion"] + out["bpp_loss"]
        return out


class BaselineLoss(JNDRateDistortionLoss):
    """D = s * d(x_o, x_hat): CompressAI's ``RateDistortionLoss`` exactly (eq. 5)."""

    name = "baseline"

    def distortion(self, x_hat, x_o, x_j, out):
        return self.scale * self.d_original(x_hat, x_o, out)  # same ops, same bits as CompressAI


class PixelWiseJNDLoss(JNDRateDistortionLoss):
    """PWL, eq. 6: D = s * d(x_j, x_hat) -- learn the JND image instead of the original."""

    name = "pwl"

    def distortion(self, x_hat, x_o, x_j, out):
        return self.scale * self.d(x_hat, x_j)


class ImageWiseJNDLoss(JNDRateDistortionLoss):
    """IWL, eq. 7: D = s * (d(x_o, x_hat) - d(x_o, x_j)), exactly as published (no clamp).

    d(x_o, x_j) does not depend on the network, so the gradients are the baseline's:
    IWL fine-tuning is baseline fine-tuning (compare with the fine-tuned baseline).
    """

    name = "iwl"

    def distortion(self, x_hat, x_o, x_j, out):
        with torch.no_grad():
            jnd = self.d(x_j, x_o)
        out["jnd_distortion"] = jnd
        return self.scale * (self.d_original(x_hat, x_o, out) - jnd)


class ImageWiseHingeLoss(JNDRateDistortionLoss):
    """IWL with a hinge -- OUR extension, not in the paper.

    D = s * mean_i max(0, d_i(x_o, x_hat) - d_i(x_o, x_j)): an image reconstructed
    better than its own JND image costs no distortion, so the rate term alone acts on
    it. Unlike eq. 7 this changes the gradients.
    """

    name = "iwl-hinge"

    def distortion(self, x_hat, x_o, x_j, out):
        with torch.no_grad():
            jnd = self.d_per_image(x_j, x_o)
        out["jnd_distortion"] = jnd.mean()
        d_i = self.d_per_image(x_hat, x_o)
        out[self.fidelity_key] = d_i.mean() if self.distortion_name == "mse" else 1 - d_i.mean()  # the report, for free
        return self.scale * torch.clamp(d_i - jnd, min=0).mean()


class FeatureWiseJNDLoss(JNDRateDistortionLoss):
    """FWL, eq. 8: D = w * s * d(x_o, x_hat) + (1 - w) * c * MSE(F(x_hat), F(x_j)).

    ``features`` is a frozen extractor F (``features.get_features``); the feature term
    is not scaled by 255**2 (the authors' code), w = 0.9 by default (the authors' code);
    ``feature_scale`` c = 1 by default (ours, see the module docstring).
    """

    name = "fwl"

    def __init__(self, lmbda: float, distortion: str, features: nn.Module, weight: float = 0.9,
                 feature_scale: float = 1.0):
        super().__init__(lmbda, distortion)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"fwl_weight must be in [0, 1], got {weight}")
        if not feature_scale > 0:
            raise ValueError(f"feature_scale must be > 0, got {feature_scale}")
        self.features = features
        self.weight = float(weight)
        self.feature_scale = float(feature_scale)

    def terms(self, x_hat: torch.Tensor, x_o: torch.Tensor, x_j: torch.Tensor,
              out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(s * d(x_o, x_hat), MSE(F(x_hat), F(x_j))): eq. 8's two terms, unweighted."""
        with torch.no_grad():
            f_j = self.features(x_j)
        feat = F.mse_loss(self.features(x_hat), f_j)
        out["feature_loss"] = feat
        return self.scale * self.d_original(x_hat, x_o, out), feat

    def distortion(self, x_hat, x_o, x_j, out):
        pixel, feat = self.terms(x_hat, x_o, x_j, out)
        feature_term = (1 - self.weight) * self.feature_scale * feat
        d = self.weight * pixel + feature_term
        out["feature_share"] = (feature_term / d).detach() if float(d.detach()) > 0 else torch.zeros(())
        return d


_LOSSES = {
    "baseline": BaselineLoss,
    "pwl": PixelWiseJNDLoss,
    "iwl": ImageWiseJNDLoss,
    "iwl-hinge": ImageWiseHingeLoss,
}


def make_loss(
    name: str,
    distortion: str,
    lmbda: float,
    features: str | nn.Module | None = None,
    fwl_weight: float = 0.9,
    feature_scale: float = 1.0,
) -> JNDRateDistortionLoss:
    """Build loss ``name`` (one of LOSS_NAMES) for ``distortion`` ('mse' or 'ms-ssim').

    ``features`` (FWL only): an extractor module, or a name for
    ``features.get_features`` ('vgg16' as the paper, 'nlpd' offline); ``fwl_weight`` w
    and ``feature_scale`` c weigh its two terms.
    """
    if name == "fwl":
        if features is None:
            raise ValueError("loss 'fwl' needs features: 'vgg16' (the paper's) or 'nlpd' (offline), or a module")
        if isinstance(features, str):
            from .features import get_features

            features = get_features(features)
        return FeatureWiseJNDLoss(lmbda, distortion, features, fwl_weight, feature_scale)
    if name not in _LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {LOSS_NAMES}")
    return _LOSSES[name](lmbda, distortion)
