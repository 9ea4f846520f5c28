"""BD-rate (Table I) with the ``bjontegaard`` package, with reasons instead of guesses.

Interpolation methods (``bjontegaard.bd_rate(..., method=...)``):

- ``"cubic"``: VCEG-M33 (Bjontegaard 2001) — a third-order polynomial least-squares
  fit (``np.polyfit(quality, log10(rate), 3)``) integrated over the overlapping
  quality range. In bjontegaard 1.3 this is the method named ``'cubic'`` (the
  package has no ``'polyfit'``); it needs at least 4 points per curve.
- ``"pchip"``: piecewise cubic Hermite interpolation, as in the JCT-VC/JVET common
  test conditions; it needs at least 2 points per curve.

Rates enter as log10(bpp); the result is (10**mean_diff - 1) * 100 percent, negative
when the tested method needs fewer bits. A BD-rate is NaN, with a ``reason``, when a
curve has too few points, repeated or non-finite qualities, rates <= 0, quality
that does not increase with rate (``require_monotonic``) or when the two curves'
quality ranges overlap by less than ``min_overlap`` of their union (bjontegaard's
own overlap measure; the package only warns and would extrapolate).

Two aggregates: ``"average-curve"`` (BD-rate of the dataset-average RD curves, the
usual way) and ``"per-image-mean"`` (mean of per-image BD-rates over the images
where it is defined). Each comes with a bootstrap 95% interval over test images.
"""
from __future__ import annotations

import math
import warnings
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

METHODS = ("cubic", "pchip")
MIN_POINTS = {"cubic": 4, "pchip": 2, "akima": 2}
AGGREGATES = ("average-curve", "per-image-mean")
QUALITY_METRICS = ("psnr", "ms_ssim_db")
BD_COLUMNS = [
    "method", "family", "key", "anchor", "metric", "interpolation", "aggregate",
    "bd_rate", "ci_low", "ci_high", "n_images", "n_used", "n_boot", "reason",
]


def curve_problem(rate: Sequence[float], quality: Sequence[float], method: str,
                  require_monotonic: bool = True) -> str | None:
    """Why (rate, quality) cannot be used for a BD-rate with ``method``, or None."""
    r, q = np.asarray(rate, float), np.asarray(quality, float)
    if len(r) < MIN_POINTS[method]:
        return f"{len(r)} points, {method} needs >= {MIN_POINTS[method]}"
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        return "non-finite rate or quality"
    if np.any(r <= 0):
        return "rate <= 0"
    if len(np.unique(q)) != len(q):
        return "repeated quality values"
    if require_monotonic:
        order = np.argsort(r)
        if np.any(np.diff(q[order]) <= 0):
            return "quality does not increase with rate"
    return None


def overlap_fraction(q_anchor: Sequence[float], q_test: Sequence[float]) -> float:
    """Overlap of the two quality ranges over their union (bjontegaard's measure)."""
    a, t = np.asarray(q_anchor, float), np.asarray(q_test, float)
    lo, hi = max(a.min(), t.min()), min(a.max(), t.max())
    span = max(a.max(), t.max()) - min(a.min(), t.min())
    return max(hi - lo, 0.0) / span if span > 0 else 0.0


def bd_rate(
    rate_anchor: Sequence[float], q_anchor: Sequence[float],
    rate_test: Sequence[float], q_test: Sequence[float],
    method: str = "cubic", min_overlap: float = 0.5, require_monotonic: bool = True,
) -> tuple[float, str | None]:
    """BD-rate (%) of test against anchor and None, or (NaN, reason)."""
    import bjontegaard as bd

    if method not in MIN_POINTS:
        raise ValueError(f"method must be one of {sorted(MIN_POINTS)}, got {method!r}")
    for who, r, q in (("anchor", rate_anchor, q_anchor), ("test", rate_test, q_test)):
        why = curve_problem(r, q, method, require_monotonic)
        if why:
            return math.nan, f"{who} curve: {why}"
    ov = overlap_fraction(q_anchor, q_test)
    if ov < min_overlap:
        return math.nan, f"quality ranges overlap {ov:.0%} < {min_overlap:.0%}"
    ra, qa = _sorted(rate_anchor, q_anchor)
    rt, qt = _sorted(rate_test, q_test)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overlap and point counts checked above
        value = bd.bd_rate(ra, qa, rt, qt, method=method, require_matching_points=False, min_overlap=0)
    if not np.isfinite(value):
        return math.nan, "bjontegaard returned a non-finite value"
    return float(value), None


def _sorted(rate, quality) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rate, float), np.asarray(quality, float)
    order = np.argsort(q)  # bjontegaard interpolates log-rate over increasing quality
    return r[order], q[order]


def _curves(df: pd.DataFrame, method: str, family: str, metric: str) -> pd.DataFrame:
    """image x quality tables of bpp and ``metric`` for one method."""
    sub = df[(df["method"] == method) & (df["family"] == family)]
    return sub.pivot_table(index="image", columns="quality", values=["bpp", metric], aggfunc="mean")


def _avg_bd(arrays: tuple[np.ndarray, ...], rows: np.ndarray, **kw) -> tuple[float, str | None]:
    """BD-rate of the curves averaged over image ``rows`` (repeats allowed)."""
    ra, qa, rt, qt = (x[rows].mean(axis=0) for x in arrays)
    return bd_rate(ra, qa, rt, qt, **kw)


def bd_rate_table(
    df: pd.DataFrame,
    proposed: Iterable[str],
    anchors: Iterable[str] = ("baseline", "baseline-pretrained"),
    families: Iterable[str] = ("mse", "ms-ssim"),
    metrics: Iterable[str] = QUALITY_METRICS,
    methods: Iterable[str] = METHODS,
    aggregates: Iterable[str] = AGGREGATES,
    n_boot: int = 1000,
    seed: int = 0,
    min_overlap: float = 0.5,
    require_monotonic: bool = True,
) -> pd.DataFrame:
    """BD-rates of every proposed method against every anchor, from a per-image table.

    ``df`` has the columns of ``evaluate.COLUMNS``. Methods are compared within a
    family (the training metric). Rows: ``BD_COLUMNS``; ``key`` is "<method>-<family>"
    (the keys of ``config.PAPER_TABLE_I``), ``metric`` is "psnr" or "ms_ssim_db",
    ``interpolation`` "cubic" (VCEG-M33) or "pchip", ``aggregate`` "average-curve" or
    "per-image-mean", ``ci_low``/``ci_high`` a bootstrap 95% interval over images
    (``n_boot`` resamples, seeded), ``n_used`` the images with a defined value.
    Pairs with no rows are skipped.
    """
    rows = []
    rng_seed = np.random.SeedSequence(seed)
    for family in families:
        for anchor in anchors:
            for method in proposed:
                if method == anchor:
                    continue
                for metric in metrics:
                    a, t = _curves(df, anchor, family, metric), _curves(df, method, family, metric)
                    if a.empty or t.empty:
                        continue
                    images = sorted(set(a.index) & set(t.index))
                    a, t = a.loc[images], t.loc[images]
                    for interp in methods:
                        kw = {"method": interp, "min_overlap": min_overlap, "require_monotonic": require_monotonic}
                        for agg in aggregates:
                            rng = np.random.default_rng(rng_seed.spawn(1)[0])
                            value, reason, used, boots = _aggregate(a, t, images, metric, agg, kw, n_boot, rng)
                            lo, hi = _interval(boots)
                            rows.append({
                                "method": method, "family": family, "key": f"{method}-{family}",
                                "anchor": anchor, "metric": metric, "interpolation": interp,
                                "aggregate": agg, "bd_rate": value, "ci_low": lo, "ci_high": hi,
                                "n_images": len(images), "n_used": used, "n_boot": n_boot,
                                "reason": reason or "",
                            })
    return pd.DataFrame(rows, columns=BD_COLUMNS)


def _aggregate(a, t, images, metric, agg, kw, n_boot, rng):
    """(value, reason, n_used, bootstrap values) for one aggregate."""
    n = len(images)
    if agg == "average-curve":
        if not _complete(a, metric) or not _complete(t, metric):
            return (math.nan, f"average curve undefined: bpp or {metric} missing or NaN for some image and "
                    "quality (MS-SSIM is NaN on images <= 160 px)", 0, [])
        arrays = (a["bpp"].to_numpy(float), a[metric].to_numpy(float),
                  t["bpp"].to_numpy(float), t[metric].to_numpy(float))
        value, reason = _avg_bd(arrays, np.arange(n), **kw)
        boots = []
        if reason is None and n > 1:
            for _ in range(n_boot):
                boots.append(_avg_bd(arrays, rng.integers(0, n, n), **kw)[0])
        return value, reason, (n if reason is None else 0), boots
    if agg == "per-image-mean":
        per, reasons = [], {}
        for im in images:
            ra, rt = a.loc[im], t.loc[im]
            ok_a, ok_t = ra["bpp"].notna() & ra[metric].notna(), rt["bpp"].notna() & rt[metric].notna()
            v, why = bd_rate(ra["bpp"][ok_a].values, ra[metric][ok_a].values,
                             rt["bpp"][ok_t].values, rt[metric][ok_t].values, **kw)
            per.append(v)
            if why:
                reasons[why] = reasons.get(why, 0) + 1
        per = np.asarray(per, float)
        ok = np.isfinite(per)
        reason = "; ".join(f"{k} ({v} images)" for k, v in sorted(reasons.items())) or None
        if not ok.any():
            return math.nan, reason or "no image has a BD-rate", 0, []
        value = float(per[ok].mean())
        boots = []
        if ok.sum() > 1:
            vals = per[ok]
            for _ in range(n_boot):
                boots.append(float(vals[rng.integers(0, len(vals), len(vals))].mean()))
        note = None if reason is None else f"left out: {reason}"
        return value, note, int(ok.sum()), boots
    raise ValueError(f"aggregate must be one of {AGGREGATES}, got {agg!r}")


def _complete(c: pd.DataFrame, metric: str) -> bool:
    return bool(c["bpp"].notna().all().all() and c[metric].notna().all().all())


def _interval(boots: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    b = np.asarray(boots, float)
    b = b[np.isfinite(b)]
    if len(b) < 2:
        return math.nan, math.nan
    a = (1 - level) / 2
    return float(np.quantile(b, a)), float(np.quantile(b, 1 - a))
