"""BS_JND (eq. 9, Table II): the bitrate saved in reaching each image's JND quality.

Per test image, q_J is the quality (PSNR, or MS-SSIM) of its JND1 image against the
original. Each method's per-image RD curve gives the bpp it needs to reach q_J:

1. points are sorted by bpp and only those that raise the quality are kept
   (a point with more bits and no better quality is dominated), so quality is
   strictly increasing in rate;
2. log(bpp) is interpolated over quality, by PCHIP (monotone, so the read-off rate
   never decreases with quality) or piecewise-linearly (``interp="linear"``);
3. q_J outside the kept curve's quality range is never extrapolated: that image
   is left out for that comparison and counted (``n_out_of_range``). A q_J within
   ``END_TOLERANCE`` (relative) of an end point is on the curve: an image whose JND
   image is a curve's own end point (its label's JPEG quality factor is an anchor's
   lowest) must not fall in or out of range on the last bit of a float.

saving = (bpp_proposed - bpp_baseline) / bpp_baseline * 100 (negative = fewer bits).
MS-SSIM thresholds are read in dB by default (``ms_ssim_db``): the same threshold,
so the same images are in range, on a scale where RD curves are closer to linear.

On the JOD axis (ours), q_J is what defines the label (``jod_targets``): 10 - tau for
ColorVideoVDP proxy labels, each JND1 image's measured JOD for human labels (VideoSet,
MCL-JCI, KonJND-1k) and other labellers. Methods lose different images out of range,
so the summary also gives the mean over the images every method of the comparison
has a saving for (``mean_common``, ``n_common``): the like-for-like column.
"""
from __future__ import annotations

import math
import re
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..vocab import CONTROL, DISTORTIONS, METRIC_OF
from .bdrate import INTERVAL_BOOTSTRAP, INTERVAL_RANGE, MIN_IMAGES_FOR_INTERVAL, row_seed

PER_IMAGE_COLUMNS = [
    "image", "method", "family", "key", "baseline", "metric", "interpolation", "q_jnd",
    "bpp_proposed", "bpp_baseline", "saving", "status",
]
SUMMARY_COLUMNS = [
    "method", "family", "key", "baseline", "metric", "interpolation", "mean", "median",
    "low", "high", "interval", "n_boot", "n_images", "n_used", "n_out_of_range", "status",
    "mean_common", "n_common",
]
JOD_THRESHOLD_LABELLERS = ("cvvdp",)  # proxy labels defined by a JOD threshold (10 - tau)
END_TOLERANCE = 1e-9  # relative: a target this close to a curve's end point is that point


def jod_rule(labeller: str) -> str:
    """How BS_JND in JOD finds an image's q_J: "threshold" (10 - tau: the definition of
    a ColorVideoVDP proxy label) or "measured" (its JND1 image's JOD: human labels)."""
    return "threshold" if str(labeller).strip().lower() in JOD_THRESHOLD_LABELLERS else "measured"


def jod_threshold(tau: float) -> float:
    """The JOD that defines a proxy JND label (10 - tau): where BS_JND reads JOD curves."""
    return 10.0 - float(tau)


def jod_targets(jnd: pd.DataFrame, labeller: str, tau: float) -> pd.DataFrame:
    """The JND quality table with its ``jod`` column as BS_JND in JOD must read it
    (``jod_rule``): 10 - tau for every image, or each image's measured JND1 JOD."""
    if jod_rule(labeller) == "threshold":
        return jnd.assign(jod=jod_threshold(tau))
    if "jod" not in jnd or not jnd["jod"].notna().any():
        raise ValueError(f"labeller={labeller!r}: BS_JND in JOD reads each image's measured JND1 JOD, and the JND "
                         "quality table has none (evaluate with jod=True)")
    return jnd.copy()


def monotone_curve(bpp: Sequence[float], quality: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Points of an RD curve sorted by rate, keeping those that raise the quality."""
    b, q = np.asarray(bpp, float), np.asarray(quality, float)
    ok = np.isfinite(b) & np.isfinite(q) & (b > 0)
    b, q = b[ok], q[ok]
    order = np.lexsort((-q, b))  # by rate; at equal rate the best quality first
    b, q = b[order], q[order]
    keep, best = [], -np.inf
    for i, qi in enumerate(q):
        if qi > best:
            keep.append(i)
            best = qi
    return b[keep], q[keep]


def rate_at_quality(
    bpp: Sequence[float], quality: Sequence[float], q_target: float, interp: str = "pchip"
) -> tuple[float, str | None]:
    """The bpp a curve needs to reach ``q_target``, and None; or (NaN, reason)."""
    if interp not in ("pchip", "linear"):
        raise ValueError(f"interp must be 'pchip' or 'linear', got {interp!r}")
    if not np.isfinite(q_target):
        return math.nan, "JND quality is not finite"
    b, q = monotone_curve(bpp, quality)
    if len(b) < 2:
        return math.nan, f"curve has {len(b)} usable point(s), needs >= 2"
    for end in (q[0], q[-1]):
        if math.isclose(q_target, end, rel_tol=END_TOLERANCE):
            q_target = float(end)
    if q_target < q[0]:
        return math.nan, f"q_J {q_target:.4g} below the curve ({q[0]:.4g}..{q[-1]:.4g})"
    if q_target > q[-1]:
        return math.nan, f"q_J {q_target:.4g} above the curve ({q[0]:.4g}..{q[-1]:.4g})"
    if interp == "linear":
        return float(np.exp(np.interp(q_target, q, np.log(b)))), None
    from scipy.interpolate import PchipInterpolator

    return float(np.exp(PchipInterpolator(q, np.log(b))(q_target))), None


def bsjnd_per_image(
    df: pd.DataFrame,
    jnd: pd.DataFrame,
    proposed: Iterable[str],
    baseline: str = CONTROL,
    families: Iterable[str] = DISTORTIONS,
    metric: str | Mapping[str, str] | None = None,
    interp: str = "pchip",
) -> pd.DataFrame:
    """One row per (image, proposed method, family) with the saving or why it is missing.

    ``df``: the per-image evaluation table (``evaluate.COLUMNS``); ``jnd``: the JND
    quality table (``metrics.jnd_quality_table``: image, psnr, ms_ssim, ms_ssim_db).
    ``metric``: one quality column for all families, or {family: column}; by default
    PSNR for MSE-trained models and MS-SSIM (in dB) for MS-SSIM-trained ones.
    """
    metric_of = dict(METRIC_OF)
    if isinstance(metric, str):
        metric_of = {f: metric for f in (*DISTORTIONS, *families)}
    elif metric is not None:
        metric_of.update(metric)
    q_j = jnd.set_index(jnd["image"].astype(str))
    rows = []
    for family in families:
        col = metric_of[family]
        base = df[(df["method"] == baseline) & (df["family"] == family)]
        if base.empty:
            continue
        for method in proposed:
            test = df[(df["method"] == method) & (df["family"] == family)]
            if test.empty or method == baseline:
                continue
            for image in sorted(set(base["image"]) & set(test["image"])):
                row = {"image": image, "method": method, "family": family, "key": f"{method}-{family}",
                       "baseline": baseline, "metric": col, "interpolation": interp}
                if image not in q_j.index:
                    rows.append({**row, "q_jnd": math.nan, "bpp_proposed": math.nan,
                                 "bpp_baseline": math.nan, "saving": math.nan,
                                 "status": "no JND quality for this image"})
                    continue
                q = float(q_j.loc[image, col])
                b_im, t_im = base[base["image"] == image], test[test["image"] == image]
                bb, why_b = rate_at_quality(b_im["bpp"], b_im[col], q, interp)
                bt, why_t = rate_at_quality(t_im["bpp"], t_im[col], q, interp)
                status = "ok"
                if why_b or why_t:
                    status = "; ".join(f"{who}: {w}" for who, w in ((baseline, why_b), (method, why_t)) if w)
                saving = (bt - bb) / bb * 100 if status == "ok" else math.nan
                rows.append({**row, "q_jnd": q, "bpp_proposed": bt, "bpp_baseline": bb,
                             "saving": saving, "status": status})
    return pd.DataFrame(rows, columns=PER_IMAGE_COLUMNS)


def bsjnd_summary(per_image: pd.DataFrame, n_boot: int = 1000, seed: int = 0,
                  min_images_for_interval: int = MIN_IMAGES_FOR_INTERVAL) -> pd.DataFrame:
    """Mean, median and an interval of the savings, with counts and a status.

    ``n_used`` images have a saving; ``n_out_of_range`` were left out because q_J
    lies outside a curve (or a curve was unusable); ``status`` says why, per kind.
    ``low``/``high`` span a bootstrap 95% interval of the mean (seeded from the row's
    key) where at least ``min_images_for_interval`` images are used, otherwise the
    range of the per-image savings (``interval`` names which). ``mean_common`` is the
    mean over the ``n_common`` images that every method of the same family, baseline,
    metric and interpolation has a saving for (``common_images``).
    """
    rows = []
    keys = ["method", "family", "key", "baseline", "metric", "interpolation"]
    common = common_images(per_image)
    for k, g in per_image.groupby(keys, sort=False):
        s = g["saving"].to_numpy(float)
        ok = np.isfinite(s)
        v = s[ok]
        lo = hi = math.nan
        interval, boots_n = "", 0
        if len(v) >= min_images_for_interval and n_boot > 0:
            rng = np.random.default_rng(row_seed(seed, *map(str, k)))
            boots = v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1)
            lo, hi = (float(x) for x in np.quantile(boots, [0.025, 0.975]))
            interval, boots_n = INTERVAL_BOOTSTRAP, n_boot
        elif len(v):
            lo, hi, interval = float(v.min()), float(v.max()), INTERVAL_RANGE
        shared = common.get(tuple(k[i] for i in (1, 3, 4, 5)), set())
        v_common = g.loc[g["image"].isin(shared), "saving"].to_numpy(float)
        rows.append({**dict(zip(keys, k)),
                     "mean": float(v.mean()) if len(v) else math.nan,
                     "median": float(np.median(v)) if len(v) else math.nan,
                     "low": lo, "high": hi, "interval": interval, "n_boot": boots_n,
                     "n_images": len(g), "n_used": int(ok.sum()), "n_out_of_range": int((~ok).sum()),
                     "status": status_summary(g.loc[~ok, "status"]),
                     "mean_common": float(v_common.mean()) if len(v_common) else math.nan,
                     "n_common": len(v_common)})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def common_images(per_image: pd.DataFrame) -> dict[tuple, set[str]]:
    """{(family, baseline, metric, interpolation): the images every method compared
    there has a saving for}."""
    out = {}
    for k, g in per_image.groupby(["family", "baseline", "metric", "interpolation"], sort=False):
        ok = g[np.isfinite(g["saving"].to_numpy(float))]
        sets = [set(ok.loc[ok["method"] == m, "image"]) for m in g["method"].unique()]
        out[k] = set.intersection(*sets) if sets else set()
    return out


def status_summary(statuses: Iterable[str]) -> str:
    """'q_J above the curve of iwl (2 images); ...': per-image statuses by kind."""
    kinds: dict[str, int] = {}
    for st in statuses:
        kind = re.sub(r"\s*\([^)]*\)", "", str(st))  # drop the curve's range
        kind = re.sub(r"q_J [-+0-9.eE]+", "q_J", kind)
        kinds[kind] = kinds.get(kind, 0) + 1
    return "; ".join(f"{k} ({n} image{'s' if n > 1 else ''})" for k, n in sorted(kinds.items()))


def bsjnd(df: pd.DataFrame, jnd: pd.DataFrame, proposed: Iterable[str], baseline: str = CONTROL,
          n_boot: int = 1000, seed: int = 0, **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-image table, summary table); ``kw`` go to ``bsjnd_per_image``."""
    per = bsjnd_per_image(df, jnd, proposed, baseline=baseline, **kw)
    return per, bsjnd_summary(per, n_boot=n_boot, seed=seed)
