"""Closed-loop JND targeting: the lowest-rate setting whose decoded image stays within the
JND, by the criterion that made the labels (ColorVideoVDP JOD >= 10 - tau on the
labeller's display model, ``data.labellers``).

The JOD rises with the rate almost monotonically, so the searches bisect:
- JPEG: quality factors 1-100, about 7 encodes (QF 100 is tried when every QF below
  fails: an image that fails there has no JND setting);
- the learned codec: the trained qualities first (bisection among them), then the
  continuous quality r between the lowest trained quality that passes and the one below
  it (``ladder``), to ``tol`` in r. The trained-quality answer is kept beside it: what
  the same search gives without a continuous rate.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from . import codecs as C
from . import ladder as L
from . import models as MD
from ..data.labellers import DEFAULT_DISPLAY, LABEL_THREADS, cvvdp_jod, torch_threads

TOL = 0.125  # the continuous quality's bisection stops at this width


@dataclass
class Found:
    """One image at its JND setting: the coded image, its JOD, whether a setting passed
    (False: the highest one failed and ``coded`` is that one), how many encodes it took."""

    coded: C.Coded
    jod: float
    found: bool
    tries: int
    seconds: float
    setting: float  # QF, or the continuous quality r


def jod(ref: np.ndarray, test: np.ndarray, display: str = DEFAULT_DISPLAY) -> float:
    """ColorVideoVDP's JOD of ``test`` against ``ref`` (one torch thread, as the labeller)."""
    with torch_threads(LABEL_THREADS):
        return cvvdp_jod(ref, test, display)


class Trials:
    """setting -> (coded image, JOD), each setting coded and judged once."""

    def __init__(self, rgb: np.ndarray, code: Callable[[float], C.Coded], threshold: float, display: str):
        self.rgb, self.code, self.threshold, self.display = rgb, code, threshold, display
        self.seen: dict[float, tuple[C.Coded, float]] = {}

    def __call__(self, setting: float) -> tuple[C.Coded, float]:
        if setting not in self.seen:
            coded = self.code(setting)
            self.seen[setting] = (coded, jod(self.rgb, coded.rgb, self.display))
        return self.seen[setting]

    def passes(self, setting: float) -> bool:
        return self(setting)[1] >= self.threshold

    def found(self, setting: float, ok: bool, t0: float) -> Found:
        coded, score = self(setting)
        return Found(coded, score, ok, len(self.seen), time.perf_counter() - t0, float(setting))


def lowest_passing(points: Sequence[float], passes: Callable[[float], bool]) -> float | None:
    """The lowest of ascending ``points`` that passes, by bisection (JOD taken as
    monotone); None when the highest fails (it is tried only when all below fail)."""
    lo, hi = -1, len(points) - 1  # points[lo] fails (below the first: assumed), points[hi] passes (assumed)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if passes(points[mid]) else (mid, hi)
    if hi == len(points) - 1 and not passes(points[hi]):
        return None
    return points[hi]


def bisect(lo: float, hi: float, passes: Callable[[float], bool], tol: float) -> float:
    """Lowest passing value in (lo, hi] to ``tol``, with ``lo`` failing and ``hi`` passing."""
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if passes(mid) else (mid, hi)
    return hi


def jpeg_at_jnd(rgb: np.ndarray, tau: float = 1.0, preprocessor: str | None = None,
                display: str = DEFAULT_DISPLAY) -> Found:
    """The lowest JPEG quality factor (plain or ``preprocessor``) within the JND."""
    t0 = time.perf_counter()
    trials = Trials(rgb, lambda q: C.code_jpeg(rgb, int(q), preprocessor), 10.0 - tau, display)
    qf = lowest_passing(range(1, 101), trials.passes)
    return trials.found(100 if qf is None else qf, qf is not None, t0)


def learned_at_jnd(rgb: np.ndarray, refs: list[MD.ModelRef], tau: float = 1.0, tol: float = TOL,
                   display: str = DEFAULT_DISPLAY) -> tuple[Found, Found]:
    """(continuous, trained qualities only): the lowest continuous quality r of the
    family ``refs`` within the JND, and the lowest trained quality within it."""
    t0 = time.perf_counter()
    lad = L.image_ladder(refs, rgb)
    trials = Trials(rgb, lambda r: _code(lad, rgb, r), 10.0 - tau, display)
    qs = [float(q) for q in lad.qualities]
    q = lowest_passing(qs, trials.passes)
    if q is None:
        missed = trials.found(lad.high, False, t0)
        return missed, missed
    discrete = trials.found(q, True, t0)
    below = qs[qs.index(q) - 1] if q > qs[0] else lad.low
    if q == qs[0] and trials.passes(below):
        r = below
    else:
        r = bisect(below, q, trials.passes, tol)
    return trials.found(r, True, t0), discrete


def _code(lad: L.ImageLadder, rgb: np.ndarray, r: float) -> C.Coded:
    ref, step = lad.setting(r)
    coded = C.code_learned(ref, rgb, step)
    coded.setting["r"] = float(r)
    return coded
