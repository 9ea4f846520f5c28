"""Are the base models real codecs? Their RD curves against Pillow's JPEG.

``base_model_report`` reads a tidy RD table (``evaluate.COLUMNS``: one row per image,
method, family, quality) holding the base models (family "mse" and "ms-ssim") and the
JPEG anchor (method "jpeg"), and the JND quality of each test image
(``metrics.jnd_quality_table``). It returns what ``benchmarks/bench_base_models.py``
records: BD-rate (PCHIP, dataset-average curves) of the MSE family against JPEG in
PSNR and of the MS-SSIM family in MS-SSIM dB, the mean-bpp span, whether each family's
curve is monotone, the fraction of test images whose JND quality lies within each
family's per-image curve, and each model's gap to JPEG in dB at equal bpp.

``control_shift`` says how far a fine-tuned control has moved from the base models it
started from (``benchmarks/bench_control_shift.py``): its BD-rates against them, as in
Table I, and its mean change of rate and quality per quality.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd

from ..vocab import CONTROL, METRIC_OF, PRETRAINED
from .bdrate import bd_rate, bd_rate_table


def average_curve(rd: pd.DataFrame, method: str, family: str | None = None) -> pd.DataFrame:
    """Mean bpp, PSNR and MS-SSIM dB per quality of one method, sorted by bpp."""
    rows = rd[rd["method"] == method]
    if family is not None:
        rows = rows[rows["family"] == family]
    if rows.empty:
        raise ValueError(f"no rows for method={method!r}, family={family!r}")
    curve = rows.groupby("quality")[["bpp", "psnr", "ms_ssim_db"]].mean()
    return curve.sort_values("bpp").reset_index()


def is_monotone(curve: pd.DataFrame, axis: str) -> bool:
    """Rate and quality both strictly increase with the model's quality index."""
    c = curve.sort_values("quality")
    return bool(np.all(np.diff(c["bpp"]) > 0) and np.all(np.diff(c[axis]) > 0))


def gap_db(bpp: float, quality: float, anchor: pd.DataFrame, axis: str) -> float:
    """``quality`` minus the anchor's quality at the same bpp (linear in log bpp);
    NaN outside the anchor's rate range."""
    a = anchor.sort_values("bpp")
    x, y = np.log(a["bpp"].to_numpy()), a[axis].to_numpy()
    if not x[0] <= math.log(bpp) <= x[-1]:
        return math.nan
    return float(quality - np.interp(math.log(bpp), x, y))


def jnd_in_range(rd: pd.DataFrame, jnd: pd.DataFrame, method: str, family: str) -> float:
    """Fraction of images whose JND quality lies within the family's per-image curve."""
    axis = METRIC_OF[family]
    rows = rd[(rd["method"] == method) & (rd["family"] == family)]
    inside = []
    for _, j in jnd.iterrows():
        q = rows.loc[rows["image"] == j["image"], axis]
        if q.empty:
            raise ValueError(f"image {j['image']!r} has a JND quality but no {family} RD rows")
        inside.append(q.min() <= j[axis] <= q.max())
    return float(np.mean(inside)) if inside else math.nan


def bracket(anchor: pd.DataFrame, axis: str, lo: float, hi: float) -> pd.DataFrame:
    """The anchor's points with ``axis`` within [lo, hi], plus the nearest one on each side.

    A densely sampled anchor (JPEG at 5-95) spans far more quality than a codec family;
    BD-rate integrates over the common range anyway, and this keeps the overlap measure
    about that range rather than about the anchor's sampling."""
    a = anchor.sort_values(axis).reset_index(drop=True)
    v = a[axis].to_numpy()
    first = max(int(np.searchsorted(v, lo, side="right")) - 1, 0)
    last = min(int(np.searchsorted(v, hi, side="left")), len(a) - 1)
    return a.iloc[first:last + 1].sort_values("bpp").reset_index(drop=True)


def base_model_report(rd: pd.DataFrame, jnd: pd.DataFrame, method: str = PRETRAINED,
                      anchor: str = "jpeg") -> dict[str, Any]:
    """The benchmark's numbers (see the module docstring); families missing in ``rd`` are
    left out, and a BD-rate that cannot be computed is NaN with its reason."""
    ref = average_curve(rd, anchor)
    out: dict[str, Any] = {"families": {}}
    spans = []
    for family, axis in METRIC_OF.items():
        if not ((rd["method"] == method) & (rd["family"] == family)).any():
            continue
        curve = average_curve(rd, method, family)
        near = bracket(ref, axis, curve[axis].min(), curve[axis].max())
        value, why = bd_rate(near["bpp"], near[axis], curve["bpp"], curve[axis], method="pchip")
        out["families"][family] = {
            "axis": axis, "bd_rate_vs_jpeg": value, "bd_rate_reason": why,
            "monotone": is_monotone(curve, axis),
            "bpp": curve["bpp"].round(4).tolist(), axis: curve[axis].round(3).tolist(),
            "db_vs_jpeg": [round(gap_db(b, q, ref, axis), 3) for b, q in zip(curve["bpp"], curve[axis])],
            "jnd_in_range_fraction": jnd_in_range(rd, jnd, method, family),
        }
        spans += curve["bpp"].tolist()
    fam = out["families"]
    if not fam:
        raise ValueError(f"no base-model rows (method={method!r}) in the RD table")
    out.update(
        bd_rate_vs_jpeg_mse_psnr=fam.get("mse", {}).get("bd_rate_vs_jpeg", math.nan),
        bd_rate_vs_jpeg_msssim_msssimdb=fam.get("ms-ssim", {}).get("bd_rate_vs_jpeg", math.nan),
        bpp_min=float(min(spans)), bpp_max=float(max(spans)),
        monotone=all(f["monotone"] for f in fam.values()),
        jnd_in_range_fraction=min(f["jnd_in_range_fraction"] for f in fam.values()),
    )
    return out


def control_shift(rd: pd.DataFrame, control: str = CONTROL, base: str = PRETRAINED,
                  families: Iterable[str] = tuple(METRIC_OF), n_boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """Per family: ``control``'s BD-rates against ``base`` (PCHIP, both aggregates,
    "<aggregate>/<metric>": bd_rate, low, high, measurable = the interval excludes 0;
    None and the reason where it cannot be computed),
    its mean change of bpp (%), PSNR and MS-SSIM (dB) per quality, and
    ``moves_measurably`` in the family's own metric (dataset-average curve)."""
    families = list(families)
    bd = bd_rate_table(rd, [control], anchors=[base], families=families, n_boot=n_boot, seed=seed)
    bd = bd[bd["interpolation"] == "pchip"]
    out: dict[str, Any] = {}
    for family in families:
        rows = bd[bd["family"] == family]
        if rows.empty:
            raise ValueError(f"no BD-rate of {control!r} against {base!r} in family {family!r}")
        fam: dict[str, Any] = {f"{r.aggregate}/{r.metric}": _shift(r) for r in rows.itertuples()}
        pre, ctl = (average_curve(rd, m, family).set_index("quality").sort_index() for m in (base, control))
        fam["bpp_change_percent"] = ((ctl["bpp"] / pre["bpp"] - 1) * 100).round(2).tolist()
        fam["psnr_change_db"] = (ctl["psnr"] - pre["psnr"]).round(3).tolist()
        fam["ms_ssim_db_change_db"] = (ctl["ms_ssim_db"] - pre["ms_ssim_db"]).round(3).tolist()
        fam["moves_measurably"] = fam[f"average-curve/{METRIC_OF[family]}"]["measurable"]
        out[family] = fam
    return out


def _shift(row: Any) -> dict[str, Any]:
    """One BD-rate row as plain JSON: rounded, None (with the reason) where n/a."""
    if math.isnan(row.bd_rate):
        return {"bd_rate": None, "low": None, "high": None, "measurable": False, "reason": row.reason}
    return {"bd_rate": round(row.bd_rate, 3), "low": round(row.low, 3), "high": round(row.high, 3),
            "measurable": bool(row.low > 0 or row.high < 0)}
