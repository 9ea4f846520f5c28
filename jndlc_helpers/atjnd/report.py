"""Notebook 08's figure, comparison gallery and the benchmark's numbers."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import methods as ME


def figure_bpp(P: dict[str, Any], rows: pd.DataFrame, label: str) -> Path:
    """bpp per test image for each method, images sorted by the plain JPEG's closed-loop
    bpp; a hollow marker where the image is not within the JND by the labels' JOD."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = rows[rows["method"] == "jpeg-closed-loop"].sort_values("bpp")["image"].tolist()
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, method in enumerate(m for m in ME.METHODS if rows.loc[rows["method"] == m, "bpp"].notna().any()):
        g = rows[rows["method"] == method].set_index("image").reindex(order)
        x, ok = np.arange(len(order)), g["within_jod"].fillna(False).astype(bool).to_numpy()
        line, = ax.plot(x, g["bpp"], "-", lw=0.8, alpha=0.6, label=method, color=f"C{i % 10}")
        ax.plot(x[ok], g["bpp"].to_numpy()[ok], "o", color=line.get_color(), ms=5)
        ax.plot(x[~ok], g["bpp"].to_numpy()[~ok], "o", mfc="none", color=line.get_color(), ms=7)
    ax.set_xticks(range(len(order)), order, rotation=60, ha="right", fontsize=8)
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter

    for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        axis(FormatStrFormatter("%g"))
    ax.set_ylabel("bpp (whole file, log scale)")
    ax.set_title("Bits to look unchanged, per image (hollow: not within JND by JOD)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.text(0.01, 0.005, label, fontsize=6, wrap=True)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    out = Path(P["run_dir"]) / "figures" / "atjnd_bpp_per_image.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def gallery(rows: pd.DataFrame, originals: dict[str, str], recon: Path):
    """A ``report.widgets.Gallery``: the original and every method's at-JND decode
    (``recon``/<method>/<image>.png)."""
    from ..report.widgets import Gallery

    ran = rows[rows["bpp"].notna()].copy()
    ran["path"] = [str(Path(recon) / m / f"{i}.png") for m, i in zip(ran["method"], ran["image"])]
    original = pd.DataFrame({"image": list(originals), "method": "original", "path": list(originals.values()),
                             "bpp": 24.0, "psnr": math.inf, "ms_ssim": 1.0, "jod": 10.0})
    table = pd.concat([original, ran[["image", "method", "path", "bpp", "psnr", "ms_ssim", "jod"]]], ignore_index=True)
    return Gallery(table.assign(family="at JND", quality=0), originals)


def _row(table: pd.DataFrame, method: str) -> dict[str, Any]:
    r = table.set_index("method").loc[method]
    return {"method": method, "bpp_mean": r.bpp_mean, "bpp_median": r.bpp_median,
            "within_jnd_jod": r.within_jnd_jod, "within_jnd_psnr": r.within_jnd_psnr,
            "within_jnd_second_judge": r.within_jnd_second_judge, "jod_excess_mean": r.jod_excess_mean,
            "encode_s": r.encode_s}


def _ratio(rows: pd.DataFrame, a: str, b: str) -> float:
    """Mean bpp of ``a`` over mean bpp of ``b`` on the images both coded."""
    pa = rows[rows["method"] == a].set_index("image")["bpp"]
    pb = rows[rows["method"] == b].set_index("image")["bpp"]
    both = pa.dropna().index.intersection(pb.dropna().index)
    return float(pa[both].mean() / pb[both].mean()) if len(both) else math.nan


def numbers(P: dict[str, Any], rows: pd.DataFrame, table: pd.DataFrame, preds: dict, label: str) -> dict[str, Any]:
    """at_jnd.json's fields: per method rows, the ratios (side by side, same images), the
    predictor's QF error and within-JND fraction, and the provenance."""
    pj = rows[rows["method"] == "jpeg-predictor"].set_index("image")
    labels = pd.read_csv(Path(P["data_root"]) / "labels.csv", dtype={"image": str}).set_index("image")["qf"]
    return {
        "methods": [_row(table, m) for m in table["method"]],
        "preprocessed_vs_plain_jpeg_bpp": _ratio(rows, "jpeg-preprocessed-closed-loop", "jpeg-closed-loop"),
        "learned_vs_plain_jpeg_bpp": _ratio(rows, "learned-closed-loop", "jpeg-closed-loop"),
        "jxl_d1_vs_learned_bpp": _ratio(rows, "jpegxl-d1", "learned-closed-loop"),
        "predictor_qf_mae": float((pj["predicted"] - labels.reindex(pj.index)).abs().mean()),
        "predictor_within_jnd": float(pj["within_jod"].astype(bool).mean()),
        "predictor_vs_closed_loop_bpp": _ratio(rows, "jpeg-predictor", "jpeg-closed-loop"),
        "learned_predictor_within_jnd": float(rows.loc[rows["method"] == "learned-predictor", "within_jod"]
                                              .astype(bool).mean()),
        "learned_predictor_vs_closed_loop_bpp": _ratio(rows, "learned-predictor", "learned-closed-loop"),
        "predictor_margins": {k: p.margin for k, p in preds.items()},
        "images": int(rows["image"].nunique()),
        "second_judge": str(rows["second_judge"].dropna().iloc[0]) if rows["second_judge"].notna().any() else None,
        "provenance": label,
        "profile": P["profile"],
        "labels": "human JND labels" if "human" in str(P.get("labeller")) else f"proxy JND labels ({P.get('labeller')})",
    }
