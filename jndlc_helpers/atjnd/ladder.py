"""A continuous quality r over a family of trained models, for one image.

At a trained quality q_i, r = q_i is that model as trained (step 1). Between trained
qualities, q_{i-1} < r < q_i, the model q_i codes with a coarser latent step
``s_i ** ((q_i - r) / (q_i - q_{i-1}))``, where the junction step s_i is the step at
which model q_i's estimated bits for *this image* fall to those of model q_{i-1} as
trained (``rate.matching_step``): the rate is continuous across the trained models and
falls as r falls. Below the lowest trained quality, r in [q_1 - 1, q_1) coarsens q_1 up
to ``LOWEST_STEP``. The model above is coarsened, not the one below refined: a decoder
trained for a step of 1 gains little from a finer one (measured in docs/at_jnd.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import models as MD
from . import rate

LOWEST_STEP = 2.0  # the coarsest step of the lowest trained model (r = q_1 - 1)


@dataclass(frozen=True)
class ImageLadder:
    """The trained models of a family (ascending quality) and this image's junction steps."""

    refs: tuple[MD.ModelRef, ...]
    junctions: tuple[float, ...]  # junctions[i]: model i's step at r = q_{i-1} (LOWEST_STEP for i = 0)

    @property
    def qualities(self) -> tuple[int, ...]:
        return tuple(r.quality for r in self.refs)

    @property
    def low(self) -> float:
        return float(self.qualities[0] - 1)

    @property
    def high(self) -> float:
        return float(self.qualities[-1])

    def setting(self, r: float) -> tuple[MD.ModelRef, float]:
        """(model, step) of continuous quality ``r`` (clipped to [low, high])."""
        r = min(max(float(r), self.low), self.high)
        qs = self.qualities
        i = next(i for i, q in enumerate(qs) if r <= q + 1e-9)
        below = qs[i - 1] if i else qs[0] - 1
        frac = (qs[i] - r) / (qs[i] - below)
        return self.refs[i], rate.store_step(self.junctions[i] ** frac) if frac > 1e-9 else 1.0


def image_ladder(refs: list[MD.ModelRef], rgb: np.ndarray) -> ImageLadder:
    """The junction steps of ``refs`` (one family, ascending quality) for ``rgb``."""
    import torch

    from ..evaluation.evaluate import to_tensor

    refs = sorted(refs, key=lambda r: r.quality)
    if not all(rate.scalable(MD.load(r)) for r in refs):  # autoregressive: trained qualities only
        return ImageLadder(tuple(refs), (1.0,) * len(refs))
    x = to_tensor(np.ascontiguousarray(rgb, dtype=np.uint8))
    with torch.no_grad():
        bits = [rate.bit_estimator(MD.load(r), x) for r in refs]
    junctions = [LOWEST_STEP]
    for i in range(1, len(refs)):
        junctions.append(rate.matching_step(bits[i], bits[i - 1](1.0)))
    return ImageLadder(tuple(refs), tuple(junctions))
