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

from ..evaluation.bdrate import CUBIC_TOLERANCE, INTERVAL_BOOTSTRAP, MIN_IMAGES_FOR_INTERVAL, MIN_OVERLAP
from ..evaluation.bsjnd import jod_rule
from ..vocab import CONTROL, METRIC_OF, PRETRAINED, QUALITY_METRICS
from ..codec.features import feature_label
from ..config import METHOD_VARIANTS, PAPER_TABLE_I, PAPER_TABLE_II, provenance_label
from ..files import write_text

BD_METRIC_TO_PAPER = {"psnr": "psnr", "ms_ssim_db": "ms-ssim", "ms_ssim": "ms-ssim"}
PAPER_SETUP = "paper: Cheng2020-attention, pretrained baseline, VideoSet test split, human JND labels"
INTERP_NAMES = {"cubic": "VCEG-M33 cubic polynomial", "pchip": "PCHIP", "linear": "piecewise-linear"}
JOD_ROW_LABEL = "JOD (ours, not the paper's)"
JOD_NOTE = "ours, not the paper's: ColorVideoVDP JOD axis"


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


BD_METRIC_NAMES = {"psnr": "PSNR", "ms_ssim_db": "MS-SSIM (dB)", "jod": JOD_ROW_LABEL}
NO_PAPER_VALUE = "no paper value (not in the paper)"


def _note(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _bd_metrics(bd: pd.DataFrame) -> list[str]:
    """PSNR and MS-SSIM (dB) always (the paper's); JOD when it was computed."""
    return [*QUALITY_METRICS] + (["jod"] if (bd["metric"] == "jod").any() else [])


def fwl_note(key: str, features: str | None) -> str:
    """'F = <feature extractor>' on FWL rows, with the variant's input or calibration
    (``config.METHOD_VARIANTS``); empty elsewhere or when unknown."""
    if not features or key.split("-")[0] != "fwl":
        return ""
    variant = METHOD_VARIANTS.get(key.removesuffix(f"-{_family(key)}"), {})
    how = ("fed Caffe's input (0-255 minus the mean)" if variant.get("feature_input") == "caffe" else
           f"w calibrated for a feature term of {variant['feature_share']:.0%} of D at the start"
           if "feature_share" in variant else "")
    return _note(f"F = {feature_label(features)}", how)


def _qualities(value: Any) -> tuple[str, ...]:
    """A row's ``qualities`` ("1,3,5,7", as ``replicates.qualities_text`` writes it) as a tuple."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)) or str(value) in ("", "nan"):
        return ()
    return tuple(f"{float(q):g}" for q in str(value).split(","))


def partial_note(row: pd.Series, table: pd.DataFrame) -> str:
    """'qualities 1, 3 only (of 1, 3, 5, 7)' on a row over fewer qualities than the table's others."""
    full = sorted({q for v in table.get("qualities", []) for q in _qualities(v)}, key=float)
    mine = _qualities(row.get("qualities"))
    return f"qualities {', '.join(mine)} only (of {', '.join(full)})" if mine and set(mine) < set(full) else ""


def table_i(bd: pd.DataFrame, anchor: str = CONTROL, aggregate: str = "average-curve",
            features: str | None = None) -> pd.DataFrame:
    """Table I: our BD-rates (``bdrate.bd_rate_table`` rows) beside the paper's.

    One row per (method key, BD metric), the paper's keys first; ``ours`` is the PCHIP
    headline with its interval (``low``, ``high``, ``interval``), ``cubic`` the
    VCEG-M33 cross-check and ``cubic_check`` where it is not to be trusted. Rows in
    JOD are ours, not the paper's, and say so. ``note`` gives the reason of every n/a
    and, on FWL rows, the feature extractor ``features`` that produced them.
    """
    sel = bd[(bd["anchor"] == anchor) & (bd["aggregate"] == aggregate)]
    rows = []
    keys = list(PAPER_TABLE_I) + sorted(set(sel["key"]) - set(PAPER_TABLE_I))
    for key in keys:
        for bd_metric in _bd_metrics(bd):
            paper = PAPER_TABLE_I.get(key, {}).get(BD_METRIC_TO_PAPER.get(bd_metric, ""), math.nan)
            mine = sel[(sel["key"] == key) & (sel["metric"] == bd_metric)]
            head = _first(mine[mine["interpolation"] == "pchip"])
            cubic = _first(mine[mine["interpolation"] == "cubic"])
            val = float(head.get("bd_rate", math.nan))
            reason = "not evaluated (no such run in this profile)" if head.empty else (head.get("reason") or "")
            rows.append({
                "key": key,
                "bd_metric": BD_METRIC_NAMES.get(bd_metric, bd_metric),
                "ours": val,
                "low": float(head.get("low", math.nan)),
                "high": float(head.get("high", math.nan)),
                "interval": _interval_text(head),
                "cubic": float(cubic.get("bd_rate", math.nan)),
                "cubic_check": _note(cubic.get("check", "") or "",
                                     "" if cubic.empty or np.isfinite(cubic.get("bd_rate", math.nan))
                                     else f"cubic n/a: {cubic.get('reason') or 'undefined'}"),
                "paper": paper,
                "diff": val - paper,
                "n_used": int(head.get("n_used", 0)),
                "n_images": int(head.get("n_images", 0)),
                **_replicates(head),
                "anchor": anchor,
                "aggregate": aggregate,
                "note": _note(reason, partial_note(head, sel), "" if np.isfinite(paper) else (
                    JOD_NOTE if bd_metric == "jod" else NO_PAPER_VALUE), fwl_note(key, features)),
            })
    return pd.DataFrame(rows)


def _interval_text(row: pd.Series) -> str:
    """'bootstrap 95% (1000 resamples, 3 failed)', 'per-image range' or why there is none."""
    kind = row.get("interval", "") or ""
    if kind == INTERVAL_BOOTSTRAP:
        return f"{kind} ({int(row.get('n_boot', 0))} resamples, {int(row.get('n_boot_failed', 0))} failed)"
    if kind:
        return f"{kind} ({int(row.get('n_used', 0))} images)"
    return "" if row.empty else "none: no per-image value"


def table_ii(summary: pd.DataFrame, baseline: str = CONTROL, features: str | None = None) -> pd.DataFrame:
    """Table II: our mean BS_JND (``bsjnd.bsjnd_summary`` rows) beside the paper's.

    Columns key, metric, ours (mean), median, low, high, interval, paper, diff,
    n_used, n_out_of_range, n_images, common (the mean over the n_common images that
    every method of the family has a saving for), n_common, baseline, interpolation, note; ``note`` says
    why any value is n/a and which images were left out. Rows on the JOD axis are
    ours, not the paper's.
    """
    sel = summary[summary["baseline"] == baseline]
    rows = []
    paper_rows = [(k, None) for k in PAPER_TABLE_II]
    extra = sorted({(k, m) for k, m in zip(sel["key"], sel["metric"])} - {(k, METRIC_OF.get(
        _family(k))) for k in PAPER_TABLE_II})
    for key, metric in paper_rows + extra:
        mine = sel[sel["key"] == key]
        mine = mine[mine["metric"] != "jod"] if metric is None else mine[mine["metric"] == metric]
        s = _first(mine)
        metric = s.get("metric", METRIC_OF.get(_family(key), "")) if metric is None else metric
        val = float(s.get("mean", math.nan))
        paper = PAPER_TABLE_II.get(key, math.nan) if metric != "jod" else math.nan
        if s.empty:
            why = "not evaluated (no such run in this profile)"
        elif int(s.get("n_used", 0)) == 0:
            why = f"no image in range: {s.get('status') or 'no image'}"
        elif s.get("status"):
            why = f"left out: {s.get('status')}"
        else:
            why = ""
        rows.append({
            "key": key,
            "metric": JOD_ROW_LABEL if metric == "jod" else metric,
            "ours": val,
            "median": float(s.get("median", math.nan)),
            "low": float(s.get("low", math.nan)),
            "high": float(s.get("high", math.nan)),
            "interval": _interval_text(s),
            "paper": paper,
            "diff": val - paper,
            "n_used": int(s.get("n_used", 0)),
            "n_out_of_range": int(s.get("n_out_of_range", 0)),
            "n_images": int(s.get("n_images", 0)),
            "common": float(s.get("mean_common", math.nan)),
            "n_common": int(s.get("n_common", 0)) if pd.notna(s.get("n_common", 0)) else 0,
            **_replicates(s),
            "baseline": baseline,
            "interpolation": s.get("interpolation", ""),
            "note": _note(why, partial_note(s, sel), "" if np.isfinite(paper) else (
                JOD_NOTE if metric == "jod" else NO_PAPER_VALUE), fwl_note(key, features)),
        })
    return pd.DataFrame(rows)


def _replicates(row: pd.Series) -> dict[str, Any]:
    """Training seeds and whether the row differs from its anchor after Holm's correction
    over the table's rows (with its p-value), for rows over replicated runs."""
    if "n_seeds" not in row:
        return {}
    holm = row.get("holm", row.get("differs", False))
    return {"seeds": int(row.get("n_seeds", 0) or 0), "p": float(row.get("p", math.nan)),
            "differs": bool(holm is True or str(holm) == "True")}


def interval_note(replicated: bool) -> str:
    """How the table's intervals were made."""
    if replicated:
        return ("Intervals: 95% over training seeds and test images (images bootstrapped, the same draw for "
                "method and anchor; the per-seed values' spread as a Student-t interval; the two added in "
                "quadrature); each method paired with the anchor of the same training seed; a method with one "
                "seed borrows the spread of one control seed. 'differs': still different from 0 after Holm's "
                "correction over every row of the table (p from the interval read as a normal one).")
    return (f"Intervals: bootstrap 95% over test images where >= {MIN_IMAGES_FOR_INTERVAL} images are used, "
            "else the range of per-image values.")


def _family(key: str) -> str:
    return "ms-ssim" if key.endswith("-ms-ssim") else "mse"


def jod_text(provenance: Mapping[str, Any]) -> str:
    """'JOD: ColorVideoVDP, display model standard_fhd' (or '' without JOD)."""
    display = provenance.get("jod_display")
    if not display:
        return ""
    at = provenance.get("jod_threshold")
    if jod_rule(str(provenance.get("labeller", ""))) == "measured":
        where = "; BS_JND in JOD reads each curve at the JOD of that image's JND1 image"
    else:
        where = f"; BS_JND in JOD reads each curve at JOD = {at:g} (10 - tau, the label's threshold)" if at else ""
    return f" JOD rows (ours, not the paper's): ColorVideoVDP, display model '{display}'{where}."


def stats_notes(min_overlap: float = MIN_OVERLAP, replicated: bool = False) -> str:
    """How the BD-rates were computed, for the reader of the table."""
    return (f"Curves are compared where their quality ranges overlap by >= {min_overlap:.0%} of their union "
            f"(bjontegaard's default is stricter), never extrapolated. MS-SSIM (dB) = -10 log10(1 - MS-SSIM) "
            f"per image, averaged over images (CompressAI's plot takes the dB of the mean MS-SSIM instead). "
            f"{interval_note(replicated)}")


def caption_i(provenance: Mapping[str, Any], anchor: str, aggregate: str,
              min_overlap: float = MIN_OVERLAP, replicated: bool = False) -> str:
    return (f"Table I: BD-rate (%) against anchor '{anchor}', aggregate '{aggregate}', "
            f"interpolation {INTERP_NAMES['pchip']} on log-rate (headline); '{INTERP_NAMES['cubic']}' is a "
            f"cross-check, flagged where its fit is not monotone over the overlap or departs from PCHIP by "
            f"more than {CUBIC_TOLERANCE:g} points; negative = fewer bits. {stats_notes(min_overlap, replicated)}"
            f"{jod_text(provenance)} Ours: {describe(provenance)}. Paper values ({PAPER_SETUP}).")


def caption_ii(provenance: Mapping[str, Any], baseline: str, interpolation: str, replicated: bool = False) -> str:
    return (f"Table II: BS_JND (%), bitrate saving at each test image's JND quality against "
            f"'{baseline}' (eq. 9), {INTERP_NAMES.get(interpolation, interpolation)} interpolation of "
            f"log-rate, no extrapolation (images out of range counted, 'note' says why). "
            f"{interval_note(replicated)}"
            f" 'common': the mean over the n_common images in range for every method of the family (the same "
            f"images for each row).{jod_text(provenance)} Ours: {describe(provenance)}. Paper values ({PAPER_SETUP}).")


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
                  anchor: str = CONTROL, aggregate: str = "average-curve",
                  min_overlap: float = MIN_OVERLAP) -> dict[str, Path]:
    """Build Table I and write it as CSV, Markdown and LaTeX."""
    t = table_i(bd, anchor, aggregate, features=provenance.get("features"))
    return write_table(t, out_base, caption_i(provenance, anchor, aggregate, min_overlap, "n_seeds" in bd))


def write_table_ii(summary: pd.DataFrame, out_base: str | os.PathLike, provenance: Mapping[str, Any],
                   baseline: str = CONTROL) -> dict[str, Path]:
    """Build Table II and write it as CSV, Markdown and LaTeX."""
    t = table_ii(summary, baseline, features=provenance.get("features"))
    interp = ", ".join(sorted({str(x) for x in t["interpolation"] if x})) or "pchip"
    return write_table(t, out_base, caption_ii(provenance, baseline, interp, "n_seeds" in summary))


# Each table against each control, in the files the notebooks and the README name.
TABLE_I_FILES = {PRETRAINED: "table1_bd_rate", CONTROL: "table1_bd_rate_vs_finetuned"}
TABLE_II_FILES = {PRETRAINED: "table2_bs_jnd", CONTROL: "table2_bs_jnd_vs_finetuned"}


def write_tables(bd: pd.DataFrame | None, summary: pd.DataFrame | None, out_dir: str | os.PathLike,
                 provenance: Mapping[str, Any]) -> list[Path]:
    """Table I (from ``bd``) and Table II (from ``summary``) against each control they
    hold, into ``out_dir`` (``TABLE_I_FILES``, ``TABLE_II_FILES``); returns the bases."""
    written = []
    for control, name in TABLE_I_FILES.items():
        if bd is not None and (bd["anchor"] == control).any():
            written.append(Path(out_dir) / name)
            write_table_i(bd, written[-1], provenance, anchor=control)
    for control, name in TABLE_II_FILES.items():
        if summary is not None and (summary["baseline"] == control).any():
            written.append(Path(out_dir) / name)
            write_table_ii(summary, written[-1], provenance, baseline=control)
    return written


def results_markdown(figures_dir: str | os.PathLike) -> str:
    """The README's summary of a published run: per model, Table I's BD-rates (PSNR and
    MS-SSIM dB) against the pretrained and the fine-tuned baseline, the paper's values, and
    Table II's BS_JND against both, each with its interval (and seeds, where replicated)."""
    d = Path(figures_dir)

    def read(name: str) -> pd.DataFrame:
        path = d / f"{name}.csv"
        return pd.read_csv(path, comment="#") if path.is_file() else pd.DataFrame(columns=["key"])

    t1, t1c = read("table1_bd_rate"), read("table1_bd_rate_vs_finetuned")
    t2, t2c = read("table2_bs_jnd"), read("table2_bs_jnd_vs_finetuned")

    def cell(t: pd.DataFrame, key: str, col: str, value: str, images: bool = False) -> str:
        r = t[(t["key"] == key) & (t[col] == value)] if len(t) else t
        if r.empty or not np.isfinite(r["ours"].iloc[0]):
            return "-" if r.empty else "n/a"
        r = r.iloc[0]
        out = f"{r['ours']:.2f} [{r['low']:.1f}, {r['high']:.1f}]"
        if images:
            out += f" ({int(r['n_used'])} of {int(r['n_images'])})"
        return out + (" *" if r.get("differs") is True or str(r.get("differs")) == "True" else "")

    def paper_i(key: str) -> str:
        p = PAPER_TABLE_I.get(key)
        return f"{p['psnr']:.2f} / {p['ms-ssim']:.2f}" if p else "n/a"

    keys = sorted(set(t1["key"]) | set(t1c["key"]), key=lambda k: (_family(k) != "mse", k.split("-")[0] != CONTROL,
                                                                    k))
    lines = ["| model | vs pretrained: PSNR | MS-SSIM (dB) | vs fine-tuned control: PSNR | MS-SSIM (dB) | "
             "paper (PSNR / MS-SSIM) | BS_JND vs pretrained (images) | vs control | paper |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in keys:
        own = METRIC_OF[_family(k)]
        paper_ii = PAPER_TABLE_II.get(k)
        lines.append(" | ".join([
            f"| {k}", cell(t1, k, "bd_metric", "PSNR"), cell(t1, k, "bd_metric", "MS-SSIM (dB)"),
            cell(t1c, k, "bd_metric", "PSNR"), cell(t1c, k, "bd_metric", "MS-SSIM (dB)"), paper_i(k),
            cell(t2, k, "metric", own, True), cell(t2c, k, "metric", own, True),
            f"{paper_ii:.2f} |" if paper_ii is not None else "n/a |"]))
    return "\n".join(lines) + "\n"


def effects_markdown(jnd_effect: str | os.PathLike) -> str:
    """The README's answer: from ``benchmarks/results/jnd_effect.json``, each method's BD-rate and
    BS_JND against the fine-tuned control of its seed, per family in its own metric, with 95%
    intervals, seeds, FWL's feature share, and the control's seed-to-seed spread. Bold: still
    different from 0 after Holm's correction over the table's rows. A row trained at fewer
    qualities than the profile's (a grid still running) names the ones it has."""
    import json

    d = json.loads(Path(jnd_effect).read_text())
    by = {(e["method"], e["metric"]): e for e in d["effects"]}
    methods = list(dict.fromkeys(e["method"] for e in d["effects"]))

    def cell(e: dict | None, key: str, low: str, high: str, holm: str) -> str:
        if e is None or e.get(key) is None:
            return "n/a"
        text = f"{e[key]:+.2f} [{e[low]:+.2f}, {e[high]:+.2f}]"
        return f"**{text}**" if e.get(holm) else text

    def partial(e: dict) -> str:
        q = e.get("qualities")
        return "" if not q or q == d.get("qualities") else " (q" + ",".join(map(str, q)) + " only)"

    def share(e: dict | None) -> str:
        return "" if e is None or e.get("feature_share") is None else f"{100 * e['feature_share']:.3g}%"

    lines = ["| method | seeds | MSE family: BD-rate (PSNR) | BS_JND | feature share | "
             "MS-SSIM family: BD-rate (MS-SSIM dB) | BS_JND | feature share |", "|---|---|---|---|---|---|---|---|"]
    for m in methods:
        a, b = by.get((m, "mse")), by.get((m, "ms-ssim"))
        seeds = "/".join(str(e["seeds"]) + partial(e) for e in (a, b) if e)
        lines.append(f"| {m} | {seeds} | {cell(a, 'bd_rate_vs_control', 'low', 'high', 'holm')} | "
                     f"{cell(a, 'bs_jnd_vs_control', 'bs_jnd_low', 'bs_jnd_high', 'bs_jnd_holm')} | {share(a)} | "
                     f"{cell(b, 'bd_rate_vs_control', 'low', 'high', 'holm')} | "
                     f"{cell(b, 'bs_jnd_vs_control', 'bs_jnd_low', 'bs_jnd_high', 'bs_jnd_holm')} | {share(b)} |")
    floor = d.get("control_noise_floor", {})
    spread = [f"{(floor.get(k) or {}).get('max_abs', float('nan')):.2f}" for k in ("mse/psnr", "ms-ssim/ms_ssim_db")]
    lines.append(f"| *control seed to seed (largest pair)* | | *{spread[0]}* | | | *{spread[1]}* | | |")
    return "\n".join(lines) + "\n"
