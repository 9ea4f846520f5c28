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

PCHIP is the headline: a least-squares cubic through 4 points oscillates where two
points sit close in rate (a test curve above the anchor everywhere can get a BD-rate
of +43% from the cubic and -10% from PCHIP). The cubic value is kept as a
cross-check, and its ``check`` column flags it where a fitted polynomial is not
monotone over the overlap or where it departs from PCHIP by more than
``CUBIC_TOLERANCE`` percentage points.

Two aggregates: ``"average-curve"`` (BD-rate of the dataset-average RD curves, the
usual way; MS-SSIM in dB is averaged per image, i.e. the mean of
-10 log10(1 - MS-SSIM), not CompressAI's dB of the mean MS-SSIM) and
``"per-image-mean"`` (mean of per-image BD-rates over the images where it is
defined). The interval is a bootstrap 95% interval over test images where at least
``MIN_IMAGES_FOR_INTERVAL`` images are used (fewer give too few distinct resamples),
otherwise the range of the per-image BD-rates; failed resamples are counted. Each
row's bootstrap is seeded from its key, so adding a method moves no other row.
"""
from __future__ import annotations

import hashlib
import math
import warnings
from functools import partial
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .. import parallel
from ..vocab import CONTROL, DISTORTIONS, PRETRAINED, QUALITY_METRICS

METHODS = ("pchip", "cubic")  # headline first
MIN_POINTS = {"cubic": 4, "pchip": 2, "akima": 2}
AGGREGATES = ("average-curve", "per-image-mean")
BD_COLUMNS = [
    "method", "family", "key", "anchor", "metric", "interpolation", "aggregate",
    "bd_rate", "low", "high", "interval", "n_images", "n_used", "n_boot", "n_boot_failed",
    "check", "reason",
]
MIN_OVERLAP = 0.5  # bjontegaard's own default is stricter; stated in every table caption
MIN_IMAGES_FOR_INTERVAL = 10  # 3 images have at most 10 distinct bootstrap resamples
CUBIC_TOLERANCE = 1.0  # percentage points between the cubic cross-check and PCHIP
INTERVAL_BOOTSTRAP = "bootstrap 95%"
INTERVAL_RANGE = "per-image range"


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
    method: str = "pchip", min_overlap: float = MIN_OVERLAP, require_monotonic: bool = True,
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


def cubic_monotone(rate: Sequence[float], quality: Sequence[float], lo: float, hi: float,
                   samples: int = 201) -> bool:
    """Whether VCEG-M33's cubic fit of log-rate over quality rises on [lo, hi]."""
    r, q = np.asarray(rate, float), np.asarray(quality, float)
    poly = np.polyfit(q, np.log10(r), 3)
    slope = np.polyval(np.polyder(poly), np.linspace(lo, hi, samples))
    return bool(np.all(slope > 0))


def cubic_check(rate_anchor: Sequence[float], q_anchor: Sequence[float],
                rate_test: Sequence[float], q_test: Sequence[float],
                cubic: float, pchip: float, tolerance: float = CUBIC_TOLERANCE) -> str:
    """'' when the cubic BD-rate is trustworthy, else why it is not (non-monotone fit
    over the overlap, or more than ``tolerance`` percentage points from PCHIP)."""
    if not np.isfinite(cubic):
        return ""
    lo = max(np.min(q_anchor), np.min(q_test))
    hi = min(np.max(q_anchor), np.max(q_test))
    bad = [who for who, r, q in (("anchor", rate_anchor, q_anchor), ("test", rate_test, q_test))
           if not cubic_monotone(r, q, lo, hi)]
    notes = [f"cubic fit not monotone over the overlap ({', '.join(bad)})"] if bad else []
    if np.isfinite(pchip) and abs(cubic - pchip) > tolerance:
        notes.append(f"cubic departs from PCHIP by {abs(cubic - pchip):.1f} > {tolerance:g} points")
    return "; ".join(notes)


def row_seed(seed: int, *key: str) -> list[int]:
    """A bootstrap seed from the row's key: stable across runs and processes (unlike
    ``hash()``) and independent of which other rows the table holds."""
    digest = hashlib.sha256("|".join(key).encode()).digest()
    return [int(seed), int.from_bytes(digest[:8], "little")]


def _sorted(rate, quality) -> tuple[np.ndarray, np.ndarray]:
    r, q = np.asarray(rate, float), np.asarray(quality, float)
    order = np.argsort(q)  # bjontegaard interpolates log-rate over increasing quality
    return r[order], q[order]


def _curves(df: pd.DataFrame, method: str, family: str, metric: str) -> pd.DataFrame:
    """image x quality tables of bpp and ``metric`` for one method."""
    sub = df[(df["method"] == method) & (df["family"] == family)]
    return sub.pivot_table(index="image", columns="quality", values=["bpp", metric], aggfunc="mean")


Curves = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _image_curves(a: pd.DataFrame, t: pd.DataFrame, image: Any, metric: str) -> Curves:
    """(rate, quality) of anchor and test for one image, points with NaN left out."""
    out = []
    for c in (a.loc[image], t.loc[image]):
        ok = c["bpp"].notna() & c[metric].notna()
        out += [c["bpp"][ok].to_numpy(float), c[metric][ok].to_numpy(float)]
    return tuple(out)  # type: ignore[return-value]


def _mean_curves(a: pd.DataFrame, t: pd.DataFrame, metric: str, rows: np.ndarray) -> Curves:
    """The curves averaged over image ``rows`` (repeats allowed)."""
    return tuple(x.to_numpy(float)[rows].mean(axis=0)
                 for x in (a["bpp"], a[metric], t["bpp"], t[metric]))  # type: ignore[return-value]


def bd_rate_table(
    df: pd.DataFrame,
    proposed: Iterable[str],
    anchors: Iterable[str] = (CONTROL, PRETRAINED),
    families: Iterable[str] = DISTORTIONS,
    metrics: Iterable[str] = QUALITY_METRICS,
    methods: Iterable[str] = METHODS,
    aggregates: Iterable[str] = AGGREGATES,
    n_boot: int = 1000,
    seed: int = 0,
    min_overlap: float = MIN_OVERLAP,
    require_monotonic: bool = True,
    min_images_for_interval: int = MIN_IMAGES_FOR_INTERVAL,
    cubic_tolerance: float = CUBIC_TOLERANCE,
    workers: int = 1,
) -> pd.DataFrame:
    """BD-rates of every proposed method against every anchor, from a per-image table.

    ``df`` has the columns of ``evaluate.COLUMNS``. Methods are compared within a
    family (the training metric). Rows: ``BD_COLUMNS``; ``key`` is "<method>-<family>"
    (the keys of ``config.PAPER_TABLE_I``), ``metric`` "psnr", "ms_ssim_db" or "jod",
    ``interpolation`` "pchip" (the headline) or "cubic" (VCEG-M33, a cross-check
    whose ``check`` says where it is not to be trusted), ``aggregate``
    "average-curve" or "per-image-mean". ``low``/``high`` span the ``interval``: a
    bootstrap 95% interval over images (``n_boot`` resamples seeded from the row's
    key, ``n_boot_failed`` of them without a value) where ``n_used`` >=
    ``min_images_for_interval``, else the range of the per-image BD-rates.
    Pairs with no rows are skipped. ``workers`` > 1 spreads the (method, anchor,
    metric) pairs over processes; the table is the same.
    """
    settings = dict(methods=list(methods), aggregates=list(aggregates), n_boot=n_boot, seed=seed,
                    kw={"min_overlap": min_overlap, "require_monotonic": require_monotonic},
                    min_images=min_images_for_interval, cubic_tolerance=cubic_tolerance)
    tasks = []
    for family in families:
        for anchor in anchors:
            for method in proposed:
                if method == anchor:
                    continue
                for metric in metrics:
                    if metric not in df:
                        continue
                    a, t = _curves(df, anchor, family, metric), _curves(df, method, family, metric)
                    if a.empty or t.empty:
                        continue
                    images = sorted(set(a.index) & set(t.index))
                    tasks.append((family, anchor, method, metric, a.loc[images], t.loc[images]))
    # each row is seeded from its key, so the result does not depend on the split
    rows = [row for _, rows in parallel.imap(partial(_pair_rows, **settings), tasks, workers, ordered=True)
            for row in rows]
    return pd.DataFrame(rows, columns=BD_COLUMNS)


def _pair_rows(task: tuple, methods: list[str], aggregates: list[str], n_boot: int, seed: int,
               kw: dict[str, Any], min_images: int, cubic_tolerance: float) -> list[dict[str, Any]]:
    """The rows of one (family, anchor, method, metric): every aggregate and interpolation."""
    family, anchor, method, metric, a, t = task
    images = list(a.index)
    rows = []
    for agg in aggregates:
        res = {}
        for interp in methods:
            rng = np.random.default_rng(row_seed(seed, method, family, anchor, metric, interp, agg))
            res[interp] = _aggregate(a, t, images, metric, agg, {"method": interp, **kw}, n_boot, rng, min_images)
        for interp in methods:
            r = res[interp]
            check = ""
            if interp == "cubic":
                pchip = res["pchip"]["value"] if "pchip" in res else math.nan
                check = _cubic_row_check(a, t, images, metric, agg, r, pchip, cubic_tolerance)
            rows.append({
                "method": method, "family": family, "key": f"{method}-{family}",
                "anchor": anchor, "metric": metric, "interpolation": interp,
                "aggregate": agg, "bd_rate": r["value"], "low": r["low"], "high": r["high"],
                "interval": r["interval"], "n_images": len(images), "n_used": r["used"],
                "n_boot": r["n_boot"], "n_boot_failed": r["failed"], "check": check,
                "reason": r["reason"] or "",
            })
    return rows


def _per_image(a, t, images, metric, kw) -> tuple[np.ndarray, str | None]:
    """Per-image BD-rates and the reasons (with counts) where one is undefined."""
    per, reasons = [], {}
    for im in images:
        v, why = bd_rate(*_image_curves(a, t, im, metric), **kw)
        per.append(v)
        if why:
            reasons[why] = reasons.get(why, 0) + 1
    reason = "; ".join(f"{k} ({v} images)" for k, v in sorted(reasons.items())) or None
    return np.asarray(per, float), reason


def _aggregate(a, t, images, metric, agg, kw, n_boot, rng, min_images) -> dict[str, Any]:
    """value, reason, used, low, high, interval, n_boot and failed for one aggregate."""
    if agg not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {agg!r}")
    per, per_reason = _per_image(a, t, images, metric, kw)
    ok = np.isfinite(per)
    out = {"value": math.nan, "reason": None, "used": 0, "low": math.nan, "high": math.nan,
           "interval": "", "n_boot": 0, "failed": 0, "per_image": per}
    if agg == "average-curve":
        if not _complete(a, metric) or not _complete(t, metric):
            out["reason"] = (f"average curve undefined: bpp or {metric} missing or NaN for some image and "
                             "quality (MS-SSIM is NaN on images <= 160 px)")
            return out
        n = len(images)
        value, reason = bd_rate(*_mean_curves(a, t, metric, np.arange(n)), **kw)
        out.update(value=value, reason=reason, used=n if reason is None else 0)
        if reason is not None:
            return out
        if n >= min_images and n_boot > 0:
            boots = [bd_rate(*_mean_curves(a, t, metric, rng.integers(0, n, n)), **kw)[0] for _ in range(n_boot)]
            _set_bootstrap(out, boots, n_boot)
        else:
            _set_range(out, per[ok])
        return out
    if not ok.any():
        out["reason"] = per_reason or "no image has a BD-rate"
        return out
    vals = per[ok]
    out.update(value=float(vals.mean()), used=int(ok.sum()),
               reason=None if per_reason is None else f"left out: {per_reason}")
    if len(vals) >= min_images and n_boot > 0:
        _set_bootstrap(out, [float(vals[rng.integers(0, len(vals), len(vals))].mean()) for _ in range(n_boot)],
                       n_boot)
    else:
        _set_range(out, vals)
    return out


def _set_bootstrap(out: dict[str, Any], boots: Sequence[float], n_boot: int) -> None:
    b = np.asarray(boots, float)
    good = b[np.isfinite(b)]
    out.update(n_boot=n_boot, failed=int(len(b) - len(good)))
    if len(good) >= 2:
        out.update(low=float(np.quantile(good, 0.025)), high=float(np.quantile(good, 0.975)),
                   interval=INTERVAL_BOOTSTRAP)


def _set_range(out: dict[str, Any], vals: np.ndarray) -> None:
    if len(vals):
        out.update(low=float(vals.min()), high=float(vals.max()), interval=INTERVAL_RANGE)


def _cubic_row_check(a, t, images, metric, agg, res, pchip: float, tolerance: float) -> str:
    """The ``check`` of a cubic row: where its fits are not monotone, or far from PCHIP."""
    if not np.isfinite(res["value"]):
        return ""
    if agg == "average-curve":
        return cubic_check(*_mean_curves(a, t, metric, np.arange(len(images))), res["value"], pchip, tolerance)
    bad = 0
    for im, v in zip(images, res["per_image"]):
        if np.isfinite(v) and "not monotone" in cubic_check(*_image_curves(a, t, im, metric), v, math.nan):
            bad += 1
    notes = [f"cubic fit not monotone over the overlap for {bad} of {res['used']} images"] if bad else []
    if np.isfinite(pchip) and abs(res["value"] - pchip) > tolerance:
        notes.append(f"cubic departs from PCHIP by {abs(res['value'] - pchip):.1f} > {tolerance:g} points")
    return "; ".join(notes)


def _complete(c: pd.DataFrame, metric: str) -> bool:
    return bool(c["bpp"].notna().all().all() and c[metric].notna().all().all())
