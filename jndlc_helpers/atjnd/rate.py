"""A continuous rate for the learned codec: a latent quantisation-step scale on fixed models.

A hyperprior codec quantises its latent y with step 1. Coding ``y / step`` instead, with
the entropy model's means and scales divided by the same step, and multiplying the
decoded latent back by it, quantises y with any ``step`` the decoder knows: a coarser
step (> 1) spends fewer bits, with no training. It is the gain unit of Cui et al.
(CVPR 2021, "Asymmetric gained deep image compression") with one gain, 1 / step, for
every channel, and its inverse gain at the decoder. The hyperprior's side information
(z) is coded as trained.

``bit_estimator`` gives a model's estimated bits for one image at any step from one
pass of the transforms: ``ladder`` uses it to join the trained models into one dial.

Only hyperprior models (``ScaleHyperprior``, ``MeanScaleHyperprior``) are scaled here;
an autoregressive model (Cheng2020) codes its trained qualities only (step 1).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn


def scalable(model: nn.Module) -> bool:
    """Whether ``step_scaled`` can change ``model``'s quantisation step."""
    from compressai.models import ScaleHyperprior

    return isinstance(model, ScaleHyperprior) and type(model).compress in (
        ScaleHyperprior.compress, _mean_scale_compress())


def _mean_scale_compress():
    from compressai.models import MeanScaleHyperprior

    return MeanScaleHyperprior.compress


def _has_means(model: nn.Module) -> bool:
    from compressai.models import MeanScaleHyperprior

    return isinstance(model, MeanScaleHyperprior)


class StepScaled(nn.Module):
    """``model`` (a hyperprior) quantising its latent with ``step``: the same
    ``compress`` / ``decompress`` interface, so that ``evaluation.evaluate.code_image``
    pads, codes and crops it as it does any CompressAI model."""

    def __init__(self, model: nn.Module, step: float):
        super().__init__()
        if not scalable(model):
            raise ValueError(f"a quantisation step other than 1 needs a hyperprior model, not {type(model).__name__}")
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"the quantisation step must be a positive number, got {step}")
        self.model, self.step = model, float(step)

    def _params(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(scales, means) of y / step from the hyperprior (means None without them)."""
        params = self.model.h_s(z_hat)
        if _has_means(self.model):
            scales, means = params.chunk(2, 1)
            return scales / self.step, means / self.step
        return params / self.step, None

    def compress(self, x: torch.Tensor) -> dict[str, Any]:
        m = self.model
        y = m.g_a(x)
        z = m.h_a(y if _has_means(m) else torch.abs(y))
        z_strings = m.entropy_bottleneck.compress(z)
        z_hat = m.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        scales, means = self._params(z_hat)
        indexes = m.gaussian_conditional.build_indexes(scales)
        y_strings = m.gaussian_conditional.compress(y / self.step, indexes, means=means)
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def decompress(self, strings: list, shape) -> dict[str, torch.Tensor]:
        m = self.model
        z_hat = m.entropy_bottleneck.decompress(strings[1], shape)
        scales, means = self._params(z_hat)
        indexes = m.gaussian_conditional.build_indexes(scales)
        y_hat = m.gaussian_conditional.decompress(strings[0], indexes, z_hat.dtype, means=means)
        return {"x_hat": m.g_s(y_hat * self.step).clamp_(0, 1)}


def with_step(model: nn.Module, step: float) -> nn.Module:
    """``model`` itself at step 1 (bit for bit the evaluation's codec), else ``StepScaled``."""
    return model if step == 1.0 else StepScaled(model, step)


def store_step(step: float) -> float:
    """``step`` as the file stores it (IEEE half precision): the encoder codes with this
    value, so that the decoder, reading it back, uses the very same one."""
    return float(np.float16(step))


@torch.no_grad()
def bit_estimator(model: nn.Module, x: torch.Tensor):
    """steps -> the model's estimated bits for image ``x`` [1, 3, H, W] (padded as coded):
    z's bits plus y's at each latent step, from the eval-mode likelihoods. The transforms
    run once; each step costs only the entropy model."""
    from ..evaluation.evaluate import padding
    import torch.nn.functional as F

    m = model
    y = m.g_a(F.pad(x, padding(*x.shape[-2:])[0]))
    z = m.h_a(y if _has_means(m) else torch.abs(y))
    z_hat, z_lik = m.entropy_bottleneck(z, training=False)
    params = m.h_s(z_hat)
    scales, means = params.chunk(2, 1) if _has_means(m) else (params, None)
    z_bits = float(-torch.log2(z_lik).sum())

    def bits(step: float) -> float:
        mu = None if means is None else means / step
        _, lik = m.gaussian_conditional(y / step, scales / step, means=mu, training=False)
        return z_bits + float(-torch.log2(lik).sum())

    return bits


def matching_step(bits, target: float, top: float = 16.0) -> float:
    """The step >= 1 at which ``bits(step)`` falls to ``target`` (bisection on log step;
    1 when the model spends no more than ``target`` as trained, ``top`` at most)."""
    if bits(1.0) <= target:
        return 1.0
    lo, hi = 0.0, math.log(top)
    if bits(top) > target:
        return top
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if bits(math.exp(mid)) > target else (lo, mid)
    return math.exp(hi)
