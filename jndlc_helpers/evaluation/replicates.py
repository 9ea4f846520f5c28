"""BD-rate and BS_JND over training seeds and test images: the statistics of replicated runs.

With several training seeds per (method, family, quality), an RD table (``evaluate.COLUMNS``,
``seed`` column) holds one curve per image and seed. A method is compared with an anchor on
the curves averaged over images and seeds. Seeds are paired: the method of seed s is compared
with the anchor of seed s (common random numbers: same crops, same order, same noise), so the
noise the two trainings share cancels; an anchor with one seed only (the pretrained baseline,
not trained here) is compared with every seed of the method.

The 95% interval adds two parts in quadrature, on each side of the value:

- images: a percentile bootstrap over the test images (resampled with replacement, the same
  draw for method and anchor, every seed kept): how far the value moves with other images;
- seeds: a Student-t half-width over the per-seed values (the statistic of each seed pair on
  all images; k - 1 degrees of freedom): how far it moves with other trainings.

A method with one seed has no spread of its own: it borrows its anchor family's control's
(``seed_spread``): against the control, the spread of one control seed against another (the
control's seed pairs); against any other anchor, the spread of the control's per-seed values
against it; the half-width is then that of *one* seed, t(0.975, k_c - 1) x SD. Where the
control has fewer than two seeds there is nothing to borrow: the row's interval covers the
images only, says so, and is left out of "differs".

A row "differs" from its anchor where its interval excludes 0. Tables read many rows side by
side, so each row also gets a p-value (the interval read as a normal one: z = value / SE,
with SE = the half-width on the side of 0 over 1.96) and ``holm``: whether it still differs
after Holm's step-down correction over every tested row of its table (``holm``). The
control's own seed-to-seed spread (``noise_floor``: the BD-rate of one control seed against
another) is how far two trainings of the same loss land apart.

Coverage on made-up tables with seed and image noise is tested (about 95%) and measured in
``benchmarks/bench_interval_coverage.py``.
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..vocab import CONTROL, METRIC_OF, QUALITY_METRICS
from .bdrate import BD_COLUMNS, MIN_OVERLAP, bd_rate, bd_rate_table, cubic_check, row_seed
from .bsjnd import PER_IMAGE_COLUMNS, SUMMARY_COLUMNS, bsjnd, bsjnd_per_image, common_images, jod_targets, status_summary

INTERVAL = "95%: images bootstrapped, seeds Student-t"
INTERVAL_BORROWED = "95%: images bootstrapped, one seed with the control's seed spread ({n} seeds)"
INTERVAL_IMAGES = "95%: images bootstrapped only (one seed, no seed spread to borrow): not tested"
REPLICATE_COLUMNS = BD_COLUMNS + ["n_seeds", "differs", "p", "holm", "qualities"]
BSJND_COLUMNS = SUMMARY_COLUMNS + ["n_seeds", "differs", "p", "holm", "qualities"]
ALPHA = 0.05


def shared_qualities(rd: pd.DataFrame, method: str, anchor: str, family: str) -> list[float]:
    """The qualities both ``method`` and ``anchor`` have rows at in ``family`` (a comparison's range)."""
    sub = rd[rd["family"] == family]
    return sorted(set(sub.loc[sub["method"] == method, "quality"]) & set(sub.loc[sub["method"] == anchor, "quality"]))


def qualities_text(qualities: Iterable[float]) -> str:
    """'1,3,5,7': a row's qualities, as the tables write them."""
    return ",".join(f"{q:g}" for q in qualities)


def n_seeds(rd: pd.DataFrame, method: str, family: str) -> int:
    """How many training seeds ``method`` has in ``family``."""
    sub = rd[(rd["method"] == method) & (rd["family"] == family)]
    return int(sub["seed"].nunique()) if len(sub) else 0


def cube(rd: pd.DataFrame, method: str, family: str, metric: str, seeds: list[int], images: list[str],
         qualities: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """(bpp, quality) arrays of shape seeds x images x qualities for one method."""
    sub = rd[(rd["method"] == method) & (rd["family"] == family)]
    table = sub.pivot_table(index=["seed", "image"], columns="quality", values=["bpp", metric], aggfunc="mean")
    idx = pd.MultiIndex.from_product([seeds, images])
    shape = (len(seeds), len(images), len(qualities))
    return tuple(table[v].reindex(index=idx, columns=qualities).to_numpy(float).reshape(shape)
                 for v in ("bpp", metric))  # type: ignore[return-value]


def pairing(rd: pd.DataFrame, method: str, anchor: str, family: str) -> tuple[list[int], list[int]]:
    """(method seeds, anchor seeds), index-aligned: the pairs each statistic compares."""
    def seeds(m: str) -> list[int]:
        return sorted(int(s) for s in rd.loc[(rd["method"] == m) & (rd["family"] == family), "seed"].unique())

    ms, an = seeds(method), seeds(anchor)
    if len(an) == 1:
        return ms, an * len(ms)
    if len(ms) == 1 and ms[0] not in an:
        return [], []
    common = [s for s in ms if s in an]
    return common, common


def _mean_curves(arrays: tuple[np.ndarray, ...], w_seed: np.ndarray, w_image: np.ndarray) -> list[np.ndarray]:
    """Each (seeds x images x qualities) array averaged with the given resample counts."""
    w = np.outer(w_seed, w_image)
    return [np.einsum("si,siq->q", w, a) / w.sum() for a in arrays]


def bd_rate_replicated(rd: pd.DataFrame, method: str, anchor: str, family: str, metric: str,
                       n_boot: int = 1000, seed: int = 0, min_overlap: float = MIN_OVERLAP,
                       control: str = CONTROL) -> dict[str, Any]:
    """BD-rate (PCHIP) of ``method`` against ``anchor`` on the seed- and image-average
    curves, its interval (``combined_interval``), and the cubic cross-check; one row of
    ``REPLICATE_COLUMNS`` (interpolation "pchip"; ``cubic`` and ``cubic_check`` extra)."""
    ms, an = pairing(rd, method, anchor, family)
    row = {"method": method, "family": family, "key": f"{method}-{family}", "anchor": anchor, "metric": metric,
           "interpolation": "pchip", "aggregate": "average-curve", "bd_rate": math.nan, "low": math.nan,
           "high": math.nan, "interval": "", "n_images": 0, "n_used": 0, "n_boot": 0, "n_boot_failed": 0,
           "check": "", "reason": "", "n_seeds": len(ms), "differs": False, "p": math.nan, "holm": False,
           "cubic": math.nan, "cubic_check": "", "qualities": ""}
    if not ms:
        return {**row, "reason": f"no seed of {method} has a run of {anchor} with the same seed"}
    sub = rd[rd["family"] == family]
    qualities = shared_qualities(rd, method, anchor, family)
    row["qualities"] = qualities_text(qualities)
    images = sorted(set(sub.loc[sub["method"] == method, "image"]) & set(sub.loc[sub["method"] == anchor, "image"]))
    tb, tq = cube(rd, method, family, metric, ms, images, qualities)
    ab, aq = cube(rd, anchor, family, metric, sorted(set(an)), images, qualities)
    ab, aq = ab[[sorted(set(an)).index(s) for s in an]], aq[[sorted(set(an)).index(s) for s in an]]
    arrays = (ab, aq, tb, tq)
    if not all(np.isfinite(a).all() for a in arrays):
        return {**row, "n_images": len(images), "reason": f"bpp or {metric} missing for some seed, image and quality"}
    k, n = len(ms), len(images)
    kw = {"min_overlap": min_overlap}
    curves = _mean_curves(arrays, np.ones(k), np.ones(n))
    value, reason = bd_rate(*curves, method="pchip", **kw)
    cubic, _ = bd_rate(*curves, method="cubic", **kw)
    row.update(bd_rate=value, reason=reason or "", n_images=n, n_used=n if reason is None else 0, cubic=cubic,
               cubic_check=cubic_check(*curves, cubic, value))
    if reason is not None or n_boot <= 0:
        return row
    rng = np.random.default_rng(row_seed(seed, method, family, anchor, metric, "replicated"))
    boots = np.array([bd_rate(*_mean_curves(arrays, np.ones(k), np.bincount(rng.integers(0, n, n), minlength=n)),
                              method="pchip", **kw)[0] for _ in range(n_boot)])
    per_seed = np.array([bd_rate(*_mean_curves(arrays, np.eye(k)[i], np.ones(n)), method="pchip", **kw)[0]
                         for i in range(k)])
    borrowed = seed_spread(rd, anchor, family, metric, control) if k == 1 else None
    row.update(n_boot=n_boot, n_boot_failed=int((~np.isfinite(boots)).sum()),
               **combined_interval(value, boots, per_seed, borrowed))
    return row


def seed_spread(rd: pd.DataFrame, anchor: str, family: str, metric: str,
                control: str = CONTROL) -> tuple[float, int] | None:
    """(SD, number of seeds) of one seed's BD-rate against ``anchor``, borrowed from the
    control's seeds (see the module docstring); None with fewer than two control seeds."""
    seeds = sorted(int(s) for s in rd.loc[(rd["method"] == control) & (rd["family"] == family), "seed"].unique())
    if len(seeds) < 2:
        return None
    if anchor == control:
        vals = [_one_pair(rd, control, family, metric, a, b) for a, b in itertools.combinations(seeds, 2)]
        vals = np.array([v for v in vals if np.isfinite(v)])
        sd = float(np.sqrt(np.mean(vals**2))) if len(vals) else math.nan  # the pairs' expected mean is 0
    else:
        vals = np.array([bd_rate_replicated(rd[(rd["method"] != control) | (rd["seed"] == s)], control, anchor,
                                            family, metric, n_boot=0)["bd_rate"] for s in seeds])
        vals = vals[np.isfinite(vals)]
        sd = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
    return (sd, len(seeds)) if np.isfinite(sd) else None


def _one_pair(rd: pd.DataFrame, control: str, family: str, metric: str, a: int, b: int) -> float:
    """BD-rate of control seed ``b`` against control seed ``a``."""
    one = rd[(rd["method"] == control) & rd["seed"].isin((a, b))]
    one = one.assign(method=one["method"].where(one["seed"] != b, "_other"), seed=0)
    return bd_rate_replicated(one, "_other", control, family, metric, n_boot=0)["bd_rate"]


def seed_halfwidth(per_seed: np.ndarray) -> float:
    """Student-t 95% half-width of the mean of the per-seed values (0 with one seed)."""
    from scipy.stats import t

    v = per_seed[np.isfinite(per_seed)]
    if len(v) < 2:
        return 0.0
    return float(t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))


def combined_interval(value: float, image_boots: np.ndarray, per_seed: np.ndarray,
                      borrowed: tuple[float, int] | None = None) -> dict[str, Any]:
    """low, high, interval, differs and p: the image bootstrap's 95% distances from ``value``
    and the seeds' Student-t half-width, added in quadrature on each side. With one seed
    the half-width is one seed's from ``borrowed`` (SD, seeds), else the row is images only."""
    from scipy.stats import t

    good = image_boots[np.isfinite(image_boots)]
    if len(good) < 2 or not np.isfinite(value):
        return {}
    lo_i, hi_i = np.quantile(good, [0.025, 0.975])
    tested = int(np.isfinite(per_seed).sum()) >= 2 or borrowed is not None
    if int(np.isfinite(per_seed).sum()) >= 2:
        h, kind = seed_halfwidth(per_seed), INTERVAL
    elif borrowed is not None:
        h, kind = float(t.ppf(0.975, borrowed[1] - 1) * borrowed[0]), INTERVAL_BORROWED.format(n=borrowed[1])
    else:
        h, kind = 0.0, INTERVAL_IMAGES
    lo = value - math.hypot(max(value - lo_i, 0.0), h)
    hi = value + math.hypot(max(hi_i - value, 0.0), h)
    return {"low": float(lo), "high": float(hi), "interval": kind, "differs": bool(tested and (lo > 0 or hi < 0)),
            "p": p_value(value, lo, hi) if tested else math.nan}


def p_value(value: float, low: float, high: float) -> float:
    """Two-sided p of value = 0 from a 95% interval read as a normal one (SE from the side of 0)."""
    from scipy.stats import norm

    half = (value - low) if value >= 0 else (high - value)
    if not (np.isfinite(half) and half > 0):
        return 0.0 if value != 0 else 1.0
    return float(2 * norm.sf(abs(value) / (half / norm.ppf(0.975))))


def holm(p: Iterable[float], alpha: float = ALPHA) -> np.ndarray:
    """Holm's step-down: which of the p-values (NaN: not tested) stay significant at ``alpha``
    over all the tested ones."""
    p = np.asarray(list(p), float)
    out = np.zeros(len(p), bool)
    tested = np.flatnonzero(np.isfinite(p))
    for rank, i in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        if p[i] > alpha / (len(tested) - rank):
            break
        out[i] = True
    return out


def with_holm(table: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``holm`` over every row of each group of ``by`` (a table), from its ``p``."""
    table = table.copy()
    table["holm"] = False
    for _, group in table.groupby(by, sort=False):
        table.loc[group.index, "holm"] = holm(group["p"])
    return table


def bd_rate_table_replicated(rd: pd.DataFrame, proposed: Iterable[str], anchors: Iterable[str],
                             families: Iterable[str], metrics: Iterable[str], n_boot: int = 1000,
                             seed: int = 0, control: str = CONTROL) -> pd.DataFrame:
    """``bd_rate_replicated`` for every (family, anchor, method, metric) with rows; also a
    "cubic" row per pair (point value, no interval), so ``report.tables.table_i`` reads it.
    ``control``: the method whose seed spread one-seed rows borrow."""
    rows = []
    for family, anchor, method, metric in itertools.product(families, anchors, proposed, metrics):
        if method == anchor or metric not in rd or n_seeds(rd, anchor, family) == 0 \
                or n_seeds(rd, method, family) == 0:
            continue
        r = bd_rate_replicated(rd, method, anchor, family, metric, n_boot=n_boot, seed=seed, control=control)
        cubic, check = r.pop("cubic"), r.pop("cubic_check")
        rows.append(r)
        rows.append({**r, "interpolation": "cubic", "bd_rate": cubic, "low": math.nan, "high": math.nan,
                     "interval": "", "n_boot": 0, "n_boot_failed": 0, "check": check, "differs": False,
                     "p": math.nan, "reason": "" if np.isfinite(cubic) else (r["reason"] or "cubic fit undefined")})
    table = pd.DataFrame(rows, columns=REPLICATE_COLUMNS)
    return with_holm(table, ["anchor", "interpolation"]) if len(table) else table


def noise_floor(rd: pd.DataFrame, control: str, families: Iterable[str],
                metrics: Iterable[str] | None = None) -> dict[str, Any]:
    """The control's seed-to-seed spread: per family and metric, the BD-rate (PCHIP,
    image-average curves) of every control seed against every other one, the largest of
    them in absolute value, and the seed-to-seed SD they imply (a pair's difference has
    twice one seed's variance)."""
    out: dict[str, Any] = {}
    for family in families:
        seeds = sorted(int(s) for s in rd.loc[(rd["method"] == control) & (rd["family"] == family), "seed"].unique())
        for metric in metrics or [METRIC_OF[family]]:
            pairs = {f"{b} vs {a}": _one_pair(rd, control, family, metric, a, b)
                     for a, b in itertools.permutations(seeds, 2)}
            vals = np.array([v for v in pairs.values() if np.isfinite(v)])
            out[f"{family}/{metric}"] = {  # plain JSON: None where there is no value
                "seeds": seeds, "pairs": {k: v if np.isfinite(v) else None for k, v in pairs.items()},
                "max_abs": float(np.abs(vals).max()) if len(vals) else None,
                "sd": float(vals.std(ddof=1) / math.sqrt(2)) if len(vals) > 1 else None}
    return out


def bsjnd_replicated(rd: pd.DataFrame, jnd: pd.DataFrame, proposed: Iterable[str], baseline: str,
                     families: Iterable[str], metric: str | None = None, n_boot: int = 1000,
                     seed: int = 0, control: str = CONTROL) -> tuple[pd.DataFrame, pd.DataFrame]:
    """BS_JND (eq. 9) per image and seed, paired by seed as ``pairing``; the summary is the
    mean saving over every (seed, image) in range, with images bootstrapped and seeds Student-t.
    ``control``: the method whose seed spread one-seed rows borrow.
    Returns (per-image table with a ``seed`` column, summary in ``BSJND_COLUMNS``)."""
    per = []
    for method, family in itertools.product(proposed, families):
        if method == baseline:
            continue
        ms, an = pairing(rd, method, baseline, family)
        for s, a in zip(ms, an):
            t = rd[(rd["method"] == method) & (rd["family"] == family) & (rd["seed"] == s)]
            b = rd[(rd["method"] == baseline) & (rd["family"] == family) & (rd["seed"] == a)]
            p = bsjnd_per_image(pd.concat([t, b]), jnd, [method], baseline=baseline, families=[family],
                                metric=metric)
            per.append(p.assign(seed=s))
    per_image = (pd.concat(per, ignore_index=True) if per  # none proposed: empty, with the columns
                 else pd.DataFrame(columns=[*PER_IMAGE_COLUMNS, "seed"]))
    common = common_images(per_image) if len(per_image) else {}
    rows = []
    for k, g in per_image.groupby(["method", "family", "key", "baseline", "metric", "interpolation"], sort=False):
        borrowed = bsjnd_seed_spread(rd, jnd, baseline, k[1], metric, control) if g["seed"].nunique() == 1 else None
        rows.append(_bsjnd_row(k, g, n_boot, seed, common.get(tuple(k[i] for i in (1, 3, 4, 5)), set()), borrowed)
                    | {"qualities": qualities_text(shared_qualities(rd, k[0], baseline, k[1]))})
    table = pd.DataFrame(rows, columns=BSJND_COLUMNS)
    return per_image, with_holm(table, ["baseline"]) if len(table) else table


def bsjnd_seed_spread(rd: pd.DataFrame, jnd: pd.DataFrame, baseline: str, family: str, metric: str | None,
                      control: str = CONTROL) -> tuple[float, int] | None:
    """(SD, seeds) of one seed's mean BS_JND against ``baseline``, borrowed from the control's
    seeds as ``seed_spread`` does for BD-rate; None with fewer than two control seeds."""
    ctl = rd[(rd["method"] == control) & (rd["family"] == family)]
    seeds = sorted(int(s) for s in ctl["seed"].unique())
    if len(seeds) < 2:
        return None

    def mean_saving(test: pd.DataFrame, base: pd.DataFrame) -> float:
        per = bsjnd_per_image(pd.concat([test.assign(method="_one"), base]), jnd, ["_one"],
                              baseline=str(base["method"].iloc[0]), families=[family], metric=metric)
        v = per["saving"].to_numpy(float)
        return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else math.nan

    if baseline == control:
        vals = np.array([mean_saving(ctl[ctl["seed"] == b], ctl[ctl["seed"] == a])
                         for a, b in itertools.combinations(seeds, 2)])
        vals = vals[np.isfinite(vals)]
        sd = float(np.sqrt(np.mean(vals**2))) if len(vals) else math.nan
    else:
        base = rd[(rd["method"] == baseline) & (rd["family"] == family)]
        vals = np.array([mean_saving(ctl[ctl["seed"] == s], base) for s in seeds])
        vals = vals[np.isfinite(vals)]
        sd = float(vals.std(ddof=1)) if len(vals) > 1 else math.nan
    return (sd, len(seeds)) if np.isfinite(sd) else None


def _bsjnd_row(key: tuple, g: pd.DataFrame, n_boot: int, seed: int, common: set[str],
               borrowed: tuple[float, int] | None = None) -> dict[str, Any]:
    """One summary row: mean over (seed, image) savings; ``combined_interval`` of the image
    bootstrap (seeds kept) and the per-seed means (one seed: ``borrowed``); ``mean_common``
    over the ``common`` images (in range, in some seed, for every method of the family)."""
    grid = g.pivot_table(index="seed", columns="image", values="saving", aggfunc="mean", dropna=False)
    v = grid.to_numpy(float)
    ok = np.isfinite(v)
    k, n = v.shape
    mean = float(v[ok].mean()) if ok.any() else math.nan
    ci: dict[str, Any] = {}
    if ok.any() and n_boot > 0:
        rng = np.random.default_rng(row_seed(seed, *map(str, key), "replicated"))
        boots = []
        for _ in range(n_boot):
            w = np.bincount(rng.integers(0, n, n), minlength=n)[None, :] * ok
            boots.append((np.where(ok, v, 0) * w).sum() / w.sum() if w.sum() else math.nan)
        per_seed = np.array([row[ok_row].mean() if ok_row.any() else math.nan for row, ok_row in zip(v, ok)])
        ci = combined_interval(mean, np.asarray(boots), per_seed, borrowed)
    s = g["saving"].to_numpy(float)
    shared = grid.loc[:, [c for c in grid.columns if c in common]].to_numpy(float)
    return {**dict(zip(["method", "family", "key", "baseline", "metric", "interpolation"], key)),
            "mean": mean, "median": float(np.nanmedian(s)) if np.isfinite(s).any() else math.nan,
            "low": ci.get("low", math.nan), "high": ci.get("high", math.nan), "interval": ci.get("interval", ""),
            "n_boot": n_boot if ci else 0,
            "n_images": n, "n_used": int(ok.any(axis=0).sum()), "n_out_of_range": int((~ok.any(axis=0)).sum()),
            "status": status_summary(g.loc[~np.isfinite(g["saving"].to_numpy(float)), "status"]),
            "mean_common": float(np.nanmean(shared)) if np.isfinite(shared).any() else math.nan,
            "n_common": int(np.isfinite(shared).any(axis=0).sum()) if shared.size else 0,
            "n_seeds": k, "differs": ci.get("differs", False), "p": ci.get("p", math.nan), "holm": False}


# --------------------------------------------------------------------------- one seed or several
def quality_metrics(rd: pd.DataFrame) -> tuple[str, ...]:
    """The metrics an RD table is read in: PSNR and MS-SSIM, and our JOD when it holds JOD."""
    return QUALITY_METRICS + (("jod",) if has_jod(rd) else ())


def is_replicated(rd: pd.DataFrame) -> bool:
    """Whether the RD table holds more than one training seed of some model."""
    return "seed" in rd and rd["seed"].nunique() > 1


def seed_mean(rd: pd.DataFrame) -> pd.DataFrame:
    """The RD table with each (image, method, family, quality) averaged over its seeds
    (the table itself when it holds one seed)."""
    if not is_replicated(rd):
        return rd
    keys = ["image", "method", "family", "quality"]
    return rd.groupby(keys, as_index=False).mean(numeric_only=True).assign(seed=0)


def has_jod(rd: pd.DataFrame) -> bool:
    """Whether the RD table holds JOD values (``jod`` knob on)."""
    return "jod" in rd and bool(rd["jod"].notna().any())


def first_seed_rows(rd: pd.DataFrame) -> pd.DataFrame:
    """The RD rows of each model's first training seed (the models the figures decode)."""
    return rd[rd["seed"] == rd.groupby(["method", "family"])["seed"].transform("min")]


def bd_rate_for(rd: pd.DataFrame, proposed: Iterable[str], anchors: Iterable[str], families: Iterable[str],
                metrics: Iterable[str], n_boot: int, seed: int, workers: int = 1) -> pd.DataFrame:
    """Every BD-rate: over training seeds and test images, seeds paired
    (``bd_rate_table_replicated``) when ``rd`` is replicated, else ``bdrate.bd_rate_table``."""
    if is_replicated(rd):
        return bd_rate_table_replicated(rd, proposed, list(anchors), families, metrics, n_boot=n_boot, seed=seed)
    return bd_rate_table(rd, proposed, anchors=list(anchors), metrics=metrics, families=families, n_boot=n_boot,
                         seed=seed, workers=workers)


def noise_floor_for(rd: pd.DataFrame, families: Iterable[str], control: str = CONTROL) -> dict[str, Any] | None:
    """The control's seed-to-seed spread (``noise_floor``), or None for a single seed."""
    return noise_floor(rd, control, families) if is_replicated(rd) else None


def bsjnd_against(rd: pd.DataFrame, jnd: pd.DataFrame, methods: list[str], baselines: Iterable[str],
                  families: Iterable[str], n_boot: int, seed: int,
                  jod: tuple[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-image, summary) BS_JND of ``methods`` against each baseline present in ``rd``
    (per image and seed, paired by seed, when ``rd`` is replicated); with
    ``jod=(labeller, tau)`` and JOD in ``rd``, also read in JOD where the label lies
    (``bsjnd.jod_targets``)."""
    statistic = bsjnd_replicated if is_replicated(rd) else bsjnd
    families = list(families)
    per, summary = [], []
    for base in baselines:
        if not (rd["method"] == base).any():
            continue
        proposed = [m for m in methods if m != base]
        targets = [(jnd, {})] + ([(jod_targets(jnd, *jod), {"metric": "jod"})] if jod and has_jod(rd) else [])
        for jq, kw in targets:
            p, s = statistic(rd, jq, proposed, baseline=base, families=families, n_boot=n_boot, seed=seed, **kw)
            per.append(p)
            summary.append(s)
    return pd.concat(per, ignore_index=True), pd.concat(summary, ignore_index=True)
