"""Tables I (BD-rate) and II (BS_JND) beside the paper's values, as CSV, Markdown and LaTeX.

Each table states how its numbers were obtained: the provenance label (profile, data,
JND labeller, model, training budget), the anchor it is measured against, the
aggregate and the interpolation. The paper's values were measured against the
pretrained Cheng2020-attention baseline on VideoSet's test split; a difference
column shows ours minus theirs.
"""
from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .config import PAPER_TABLE_I, PAPER_TABLE_II, provenance_label
from .files import write_text

BD_METRIC_TO_PAPER = {"psnr": "psnr", "ms_ssim_db": "ms-ssim", "ms_ssim": "ms-ssim"}
PAPER_SETUP = "paper: Cheng2020-attention, pretrained baseline, VideoSet test split, human JND labels"
INTERP_NAMES = {"cubic": "VCEG-M33 cubic polynomial", "pchip": "PCHIP", "linear": "piecewise-linear"}


def describe(provenance: Mapping[str, Any]) -> str:
    """The provenance label, naming the JND labeller even when it is the paper's."""
    text = provenance_label(dict(provenance))
    lab = provenance.get("labeller")
    if lab is not None and str(lab) not in text:
        text += f" | labeller={lab}"
    return text


def _first(rows: pd.DataFrame) -> pd.Series:
    """The first row, or an empty Series (whose ``.get`` gives the default)."""
    return rows.iloc[0] if len(rows) else pd.Series(dtype=object)


def table_i(
    bd: pd.DataFrame,
    anchor: str = "baseline",
    aggregate: str = "average-curve",
    interpolation: str = "cubic",
) -> pd.DataFrame:
    """Table I: our BD-rates (``bdrate.bd_rate_table`` rows) beside the paper's.

    One row per (method key, BD metric), the paper's keys first; columns key,
    bd_metric, ours, ci_low, ci_high, paper, diff (ours - paper), n_used, n_images,
    anchor, aggregate, interpolation, reason.
    """
    sel = bd[(bd["anchor"] == anchor) & (bd["aggregate"] == aggregate) & (bd["interpolation"] == interpolation)]
    rows = []
    keys = list(PAPER_TABLE_I) + sorted(set(sel["key"]) - set(PAPER_TABLE_I))
    for key in keys:
        for bd_metric in ("psnr", "ms_ssim_db"):
            paper = PAPER_TABLE_I.get(key, {}).get(BD_METRIC_TO_PAPER[bd_metric], math.nan)
            ours = _first(sel[(sel["key"] == key) & (sel["metric"] == bd_metric)])
            val = float(ours.get("bd_rate", math.nan))
            rows.append({
                "key": key,
                "bd_metric": "PSNR" if bd_metric == "psnr" else "MS-SSIM (dB)",
                "ours": val,
                "ci_low": float(ours.get("ci_low", math.nan)),
                "ci_high": float(ours.get("ci_high", math.nan)),
                "paper": paper,
                "diff": val - paper,
                "n_used": int(ours.get("n_used", 0)),
                "n_images": int(ours.get("n_images", 0)),
                "anchor": anchor,
                "aggregate": aggregate,
                "interpolation": interpolation,
                "reason": ours.get("reason", "not evaluated") or "",
            })
    return pd.DataFrame(rows)


def table_ii(summary: pd.DataFrame, baseline: str = "baseline") -> pd.DataFrame:
    """Table II: our mean BS_JND (``bsjnd.bsjnd_summary`` rows) beside the paper's.

    Columns key, metric, ours (mean), median, ci_low, ci_high, paper, diff, n_used,
    n_out_of_range, n_images, baseline, interpolation.
    """
    sel = summary[summary["baseline"] == baseline]
    rows = []
    for key in list(PAPER_TABLE_II) + sorted(set(sel["key"]) - set(PAPER_TABLE_II)):
        s = _first(sel[sel["key"] == key])
        val = float(s.get("mean", math.nan))
        paper = PAPER_TABLE_II.get(key, math.nan)
        rows.append({
            "key": key,
            "metric": s.get("metric", "psnr" if key.endswith("-mse") else "ms_ssim_db"),
            "ours": val,
            "median": float(s.get("median", math.nan)),
            "ci_low": float(s.get("ci_low", math.nan)),
            "ci_high": float(s.get("ci_high", math.nan)),
            "paper": paper,
            "diff": val - paper,
            "n_used": int(s.get("n_used", 0)),
            "n_out_of_range": int(s.get("n_out_of_range", 0)),
            "n_images": int(s.get("n_images", 0)),
            "baseline": baseline,
            "interpolation": s.get("interpolation", ""),
        })
    return pd.DataFrame(rows)


def caption_i(provenance: Mapping[str, Any], anchor: str, aggregate: str, interpolation: str) -> str:
    return (f"Table I: BD-rate (%) against anchor '{anchor}', aggregate '{aggregate}', "
            f"interpolation {INTERP_NAMES.get(interpolation, interpolation)} on log-rate; "
            f"95% bootstrap interval over test images; negative = fewer bits. "
            f"Ours: {describe(provenance)}. Paper values ({PAPER_SETUP}).")


def caption_ii(provenance: Mapping[str, Any], baseline: str, interpolation: str) -> str:
    return (f"Table II: BS_JND (%), bitrate saving at each test image's JND quality against "
            f"'{baseline}' (eq. 9), {INTERP_NAMES.get(interpolation, interpolation)} interpolation of "
            f"log-rate, no extrapolation (images out of range counted); 95% bootstrap interval. "
            f"Ours: {describe(provenance)}. Paper values ({PAPER_SETUP}).")


def write_table(df: pd.DataFrame, out_base: str | os.PathLike, caption: str,
                floatfmt: str = ".2f") -> dict[str, Path]:
    """Write ``out_base``.csv (caption as '# ' comment lines), .md and .tex."""
    out_base = Path(out_base)
    paths = {}
    csv_body = df.to_csv(index=False, float_format="%.4f")
    paths["csv"] = write_text(out_base.with_name(out_base.name + ".csv"), f"# {caption}\n" + csv_body)
    md = df.astype(object).where(df.notna(), None).to_markdown(index=False, floatfmt=floatfmt, missingval="n/a")
    paths["md"] = write_text(out_base.with_name(out_base.name + ".md"), f"{caption}\n\n{md}\n")
    paths["tex"] = write_text(out_base.with_name(out_base.name + ".tex"), to_latex(df, caption, floatfmt))
    return paths


def read_table_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV written by ``write_table`` (skipping the caption comment)."""
    return pd.read_csv(path, comment="#")


def latex_escape(text: str) -> str:
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
            "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return re.sub(r"[\\&%$#_{}~^]", lambda m: repl[m.group()], str(text))


def to_latex(df: pd.DataFrame, caption: str, floatfmt: str = ".2f") -> str:
    """LaTeX of ``df`` with the caption: pandas' ``to_latex`` (needs jinja2), else a
    plain hand-written ``tabular``. The caption is also a leading comment line."""
    try:
        import jinja2  # noqa: F401  (pandas' to_latex renders through it)
    except ImportError:
        return _plain_latex(df, caption, floatfmt)
    body = df.to_latex(index=False, escape=True, na_rep="n/a", caption=latex_escape(caption),
                       float_format=lambda v: format(v, floatfmt))
    return "% " + caption.replace("\n", " ") + "\n" + body


def _plain_latex(df: pd.DataFrame, caption: str, floatfmt: str = ".2f") -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "n/a" if not np.isfinite(v) else format(float(v), floatfmt)
        return latex_escape(v)

    cols = "l" * len(df.columns)
    lines = [
        "% " + caption.replace("\n", " "),
        "\\begin{table}[t]",
        "\\centering",
        "\\caption{" + latex_escape(caption) + "}",
        "\\resizebox{\\linewidth}{!}{%",
        "\\begin{tabular}{" + cols + "}",
        "\\hline",
        " & ".join(latex_escape(c) for c in df.columns) + " \\\\",
        "\\hline",
    ]
    for _, row in df.iterrows():
        lines.append(" & ".join(cell(v) for v in row.tolist()) + " \\\\")
    lines += ["\\hline", "\\end{tabular}}", "\\end{table}", ""]
    return "\n".join(lines)


def write_table_i(bd: pd.DataFrame, out_base: str | os.PathLike, provenance: Mapping[str, Any],
                  anchor: str = "baseline", aggregate: str = "average-curve",
                  interpolation: str = "cubic") -> dict[str, Path]:
    """Build Table I and write it as CSV, Markdown and LaTeX."""
    t = table_i(bd, anchor, aggregate, interpolation)
    return write_table(t, out_base, caption_i(provenance, anchor, aggregate, interpolation))


def write_table_ii(summary: pd.DataFrame, out_base: str | os.PathLike, provenance: Mapping[str, Any],
                   baseline: str = "baseline") -> dict[str, Path]:
    """Build Table II and write it as CSV, Markdown and LaTeX."""
    t = table_ii(summary, baseline)
    interp = ", ".join(sorted({str(x) for x in t["interpolation"] if x})) or "pchip"
    return write_table(t, out_base, caption_ii(provenance, baseline, interp))
