"""The paper's figures: RD curves (Fig. 2), one image's JND read-off (Fig. 5), and
visual comparisons at similar bitrates (Figs. 3-4). PNG + PDF.

Figures are ``matplotlib.figure.Figure`` objects drawn by the Agg renderer, never
through pyplot: nothing here changes the notebook's backend or needs a display.

Every figure carries ``config.provenance_label(provenance)`` as a footer, so a plot
made with proxy labels or a small model never passes for the paper's.
"""
from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..config import METHOD_VARIANTS, provenance_label
from ..files import atomic_write
from ..vocab import ANCHOR_FAMILY, CONTROL, DISTORTIONS, PRETRAINED, QUALITY_METRICS

METHOD_LABELS = {
    PRETRAINED: "Baseline (pretrained)",
    CONTROL: "Baseline (fine-tuned)",
    "pwl": "PWL",
    "iwl": "IWL",
    "iwl-hinge": "IWL-hinge (ours)",
    "fwl": "FWL",
    "fwl-caffe": "FWL (F fed Caffe's input)",
    **{m: f"FWL (feature term {v['feature_share']:.0%} of D)" for m, v in METHOD_VARIANTS.items()
       if "feature_share" in v},
    "jpeg": "JPEG",
    "webp": "WebP",
    "avif": "AVIF",
    "jpeg2000": "JPEG2000",
}
FAMILY_LABELS = {"mse": "MSE", "ms-ssim": "MSSSIM"}
METRIC_LABELS = {"psnr": "PSNR [dB]", "ms_ssim_db": "MS-SSIM [dB]", "ms_ssim": "MS-SSIM",
                 "jod": "JOD (ColorVideoVDP; ours, not the paper's)"}
_STYLE = {
    PRETRAINED: dict(color="0.45", linestyle=":", marker="s"),
    CONTROL: dict(color="black", linestyle="-", marker="s"),
    "pwl": dict(color="tab:green", marker="^"),
    "iwl": dict(color="tab:blue", marker="o"),
    "iwl-hinge": dict(color="tab:purple", marker="D"),
    "fwl": dict(color="tab:red", marker="v"),
    "fwl-caffe": dict(color="tab:brown", marker="v", linestyle="--"),
    "fwl-share2": dict(color="tab:olive", marker="<", linestyle="-."),
    "fwl-share10": dict(color="tab:orange", marker="<", linestyle="-."),
    "fwl-share50": dict(color="tab:pink", marker=">", linestyle="-."),
    "fwl-share80": dict(color="tab:cyan", marker=">", linestyle="-."),
}


def label(method: str, family: str | None = None) -> str:
    """Display name: 'IWL-MSE', 'Baseline (fine-tuned)-MSSSIM', 'JPEG'."""
    name = METHOD_LABELS.get(method, method)
    if family and family != ANCHOR_FAMILY:
        name += f"-{FAMILY_LABELS.get(family, family)}"
    return name


def add_provenance(fig: Figure, provenance: Mapping[str, Any] | None, width: int = 140) -> None:
    """Print the provenance label as a small footer under the axes."""
    if provenance is None:
        return
    text = "\n".join(textwrap.wrap(provenance_label(dict(provenance)), width))
    fig.text(0.01, 0.005, text, fontsize=6.5, color="0.3", ha="left", va="bottom")


REPRODUCIBLE_METADATA = {"pdf": {"CreationDate": None}}


def save_figure(fig: Figure, out_base: str | os.PathLike, formats: Sequence[str] = ("png", "pdf"),
                dpi: int = 150) -> list[Path]:
    """Write ``out_base.png`` and ``out_base.pdf`` atomically, byte-identical run to run
    (the PDF without its creation date)."""
    out_base = Path(out_base)
    paths = []
    for fmt in formats:
        path = out_base.with_name(out_base.name + f".{fmt}")
        atomic_write(path, lambda p, fmt=fmt: fig.savefig(p, format=fmt, dpi=dpi,
                                                            metadata=REPRODUCIBLE_METADATA.get(fmt)))
        paths.append(path)
    return paths


def rd_average(df: pd.DataFrame) -> pd.DataFrame:
    """Dataset-average RD points: mean bpp and quality per (method, family, quality)."""
    cols = [c for c in ("bpp", "psnr", "ms_ssim", "ms_ssim_db", "jod") if c in df]
    out = df.groupby(["method", "family", "quality"], as_index=False)[cols].mean()
    return out.sort_values(["method", "family", "bpp"]).reset_index(drop=True)


def _plot_method(ax, pts: pd.DataFrame, method: str, family: str, metric: str, **extra) -> None:
    style = dict(_STYLE.get(method, {}))
    if family == ANCHOR_FAMILY:
        style = dict(linestyle="--", marker=".", alpha=0.8)
    style.update(extra)
    pts = pts.sort_values("bpp")
    ax.plot(pts["bpp"], pts[metric], label=label(method, family), linewidth=1.2, markersize=4, **style)


def _plot_seeds(ax, rows: pd.DataFrame, method: str, metric: str) -> None:
    """Each training seed's dataset-average curve, thin and faint behind the mean (the seed spread)."""
    if "seed" not in rows or rows["seed"].nunique() < 2:
        return
    color = _STYLE.get(method, {}).get("color", "0.5")
    for _, g in rows.groupby("seed"):
        pts = g.groupby("quality")[["bpp", metric]].mean().sort_values("bpp")
        ax.plot(pts["bpp"], pts[metric], color=color, linewidth=0.6, alpha=0.35)


def plot_rd_curves(
    df: pd.DataFrame,
    out_base: str | os.PathLike,
    provenance: Mapping[str, Any] | None,
    methods: Iterable[str] | None = None,
    anchors: Iterable[str] | None = None,
    families: Sequence[str] = DISTORTIONS,
    metrics: Sequence[str] = QUALITY_METRICS,
    title: str = "RD performance on the test set",
) -> list[Path]:
    """Fig. 2: rows = training metric (family), columns = PSNR / MS-SSIM (dB) (/ JOD).

    Curves are dataset averages per quality (and over training seeds, each seed's curve
    drawn faint behind its mean); classical anchors (family "anchor") are drawn dashed
    in every panel. Writes ``out_base``.png and .pdf.
    """
    fig = rd_curves_figure(df, provenance, methods, anchors, families, metrics, title)
    return save_figure(fig, out_base)


def rd_curves_figure(
    df: pd.DataFrame,
    provenance: Mapping[str, Any] | None,
    methods: Iterable[str] | None = None,
    anchors: Iterable[str] | None = None,
    families: Sequence[str] = DISTORTIONS,
    metrics: Sequence[str] = QUALITY_METRICS,
    title: str = "RD performance on the test set",
) -> Figure:
    """The Fig. 2 figure object (for notebooks); see ``plot_rd_curves``."""
    avg = rd_average(df)
    learned = [m for m in (methods or sorted(set(avg["method"][avg["family"] != ANCHOR_FAMILY])))]
    anchor_names = list(anchors) if anchors is not None else sorted(set(avg["method"][avg["family"] == ANCHOR_FAMILY]))
    fig = Figure(figsize=(5.2 * len(metrics), 4.0 * len(families) + 0.6))
    axes = fig.subplots(len(families), len(metrics), squeeze=False)
    for i, family in enumerate(families):
        for j, metric in enumerate(metrics):
            ax = axes[i][j]
            for m in learned:
                pts = avg[(avg["method"] == m) & (avg["family"] == family)]
                if len(pts):
                    _plot_method(ax, pts, m, family, metric)
                    _plot_seeds(ax, df[(df["method"] == m) & (df["family"] == family)], m, metric)
            for m in anchor_names:
                pts = avg[(avg["method"] == m) & (avg["family"] == ANCHOR_FAMILY)]
                if len(pts):
                    _plot_method(ax, pts, m, ANCHOR_FAMILY, metric)
            ax.set_xlabel("bpp")
            ax.set_ylabel(METRIC_LABELS.get(metric, metric))
            ax.set_title(f"{FAMILY_LABELS.get(family, family)}-trained models, {METRIC_LABELS.get(metric, metric)}",
                         fontsize=9)
            ax.grid(True, alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    add_provenance(fig, provenance)
    return fig


def smooth(values: pd.Series, window: int) -> pd.Series:
    """A centred rolling mean (the ends use what is there)."""
    return values.rolling(window, center=True, min_periods=1).mean()


def training_curves_figure(curves: pd.DataFrame, families: Sequence[str], provenance: Mapping[str, Any] | None,
                           window: int | None = None) -> Figure:
    """Training loss per step: rows = training metric, columns = quality; per method the
    loss smoothed (rolling mean), averaged over seeds with the seeds' range as a band and
    the first seed's raw loss faint behind; the legend outside the axes. A linear axis (IWL's
    loss, eq. 7, can be negative), symmetric-log where the losses differ in scale (``_spread_scale``)."""
    qualities = sorted(curves["quality"].dropna().unique()) if len(curves) else [None]
    fig = Figure(figsize=(3.4 * len(qualities) + 1.8, 2.9 * len(families) + 0.7))
    axes = fig.subplots(len(families), len(qualities), squeeze=False)
    handles = {}
    for i, family in enumerate(families):
        for j, q in enumerate(qualities):
            ax = axes[i][j]
            sub = curves[(curves["family"] == family) & (curves["quality"] == q)] if len(curves) else curves
            lines = []
            for method, g in (sub.groupby("method", sort=False) if len(sub) else []):
                lines.append(_plot_training(ax, g, method, window))
                handles.setdefault(method, lines[-1])
            log = _spread_scale(ax, lines)
            ax.set_title(f"{FAMILY_LABELS.get(family, family)}, q{q}" + (" (symmetric log axis)" if log else ""),
                         fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, alpha=0.3)
            if not ax.lines:
                ax.text(0.5, 0.5, "no training log found", ha="center", va="center", transform=ax.transAxes)
        axes[i][0].set_ylabel("training loss", fontsize=8)
    if handles:
        fig.legend(list(handles.values()), [label(m) for m in handles], loc="center right", fontsize=8,
                   title="smoothed; band: seeds", title_fontsize=7)
    fig.tight_layout(rect=(0, 0.05, 1 - 1.7 / fig.get_figwidth(), 1))
    add_provenance(fig, provenance)
    return fig


def _spread_scale(ax, lines: Sequence[Any], ratio: float = 10.0) -> bool:
    """A symmetric-log y axis where the smoothed losses' typical sizes differ by more than
    ``ratio`` (a loss on another scale, e.g. FWL fed Caffe's input, would flatten the rest);
    linear near 0, where IWL's loss (eq. 7) can be negative."""
    sizes = [float(np.nanmedian(np.abs(line.get_ydata()))) for line in lines]
    sizes = [v for v in sizes if np.isfinite(v) and v > 0]
    if len(sizes) > 1 and max(sizes) > ratio * min(sizes):
        ax.set_yscale("symlog", linthresh=min(sizes) / 2)
        return True
    return False


def _plot_training(ax, g: pd.DataFrame, method: str, window: int | None):
    """One method's curves in one panel; returns the line for the legend."""
    color = _STYLE.get(method, {}).get("color", None)
    seeds = sorted(g["seed"].unique()) if "seed" in g else [0]
    per_seed = []
    for k, s in enumerate(seeds):
        r = (g[g["seed"] == s] if "seed" in g else g).sort_values("step")
        w = window or max(3, len(r) // 25)
        if k == 0:
            raw = ax.plot(r["step"], r["loss"], color=color, linewidth=0.4, alpha=0.15)[0]
            color = raw.get_color()
        per_seed.append(smooth(r.set_index("step")["loss"], w))
    table = pd.concat(per_seed, axis=1)
    line = ax.plot(table.index, table.mean(axis=1), color=color, linewidth=1.3)[0]
    if len(per_seed) > 1:
        ax.fill_between(table.index, table.min(axis=1), table.max(axis=1), color=color, alpha=0.2, linewidth=0)
    return line


def plot_image_rd(
    df: pd.DataFrame,
    image: str,
    q_jnd: float,
    out_base: str | os.PathLike,
    provenance: Mapping[str, Any] | None,
    methods: Sequence[str] = ("baseline", "iwl", "fwl"),
    family: str = "mse",
    metric: str = "psnr",
    interp: str = "pchip",
) -> list[Path]:
    """Fig. 5: one image's RD curves, its JND quality line and the bitrates read off.

    Rates are read with ``bsjnd.rate_at_quality`` (the same rule as Table II); a
    method whose curve does not reach q_J gets no marker and says so in the legend.
    """
    fig = image_rd_figure(df, image, q_jnd, provenance, methods, family, metric, interp)
    return save_figure(fig, out_base)


def image_rd_figure(
    df: pd.DataFrame,
    image: str,
    q_jnd: float,
    provenance: Mapping[str, Any] | None,
    methods: Sequence[str] = ("baseline", "iwl", "fwl"),
    family: str = "mse",
    metric: str = "psnr",
    interp: str = "pchip",
) -> Figure:
    """The Fig. 5 figure object; see ``plot_image_rd``."""
    from ..evaluation.bsjnd import monotone_curve, rate_at_quality

    sub = df[(df["image"].astype(str) == str(image)) & (df["family"] == family)]
    if sub.empty:
        raise ValueError(f"no rows for image {image!r}, family {family!r}")
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.subplots()
    for k, m in enumerate(methods):
        pts = sub[sub["method"] == m]
        if pts.empty:
            continue
        rate, why = rate_at_quality(pts["bpp"], pts[metric], q_jnd, interp)
        style = {"color": f"C{k}", **_STYLE.get(m, {})}
        tag = f" ({rate:.3f} bpp at JND)" if why is None else " (does not reach JND)"
        ax.plot(pts["bpp"], pts[metric], linestyle="none", marker=style.get("marker", "o"),
                color=style.get("color"), markersize=4)
        b, q = monotone_curve(pts["bpp"], pts[metric])
        line = _dense_curve(b, q, interp)
        ax.plot(line[0], line[1], color=style.get("color"), linestyle=style.get("linestyle", "-"),
                linewidth=1.2, label=label(m, family) + tag)
        if why is None:
            ax.axvline(rate, color=style.get("color"), linestyle=":", linewidth=1)
            ax.plot([rate], [q_jnd], marker="*", markersize=11, color=style.get("color"))
    ax.axhline(q_jnd, color="tab:orange", linestyle="--", linewidth=1.2,
               label=f"JND quality ({METRIC_LABELS.get(metric, metric)} = {q_jnd:.3f})")
    ax.set_xlabel("bpp")
    ax.set_ylabel(METRIC_LABELS.get(metric, metric))
    ax.set_title(f"JND-level quality for image {image}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    add_provenance(fig, provenance, width=100)
    return fig


def _dense_curve(b: np.ndarray, q: np.ndarray, interp: str) -> tuple[np.ndarray, np.ndarray]:
    """The interpolated curve (bpp, quality) between the kept points."""
    if len(b) < 2:
        return b, q
    qs = np.linspace(q[0], q[-1], 100)
    if interp == "linear":
        lb = np.interp(qs, q, np.log(b))
    else:
        from scipy.interpolate import PchipInterpolator

        lb = PchipInterpolator(q, np.log(b))(qs)
    return np.exp(lb), qs


# --------------------------------------------------------------------------- visual comparisons

def auto_crop(rgb: np.ndarray, size: int = 64) -> tuple[int, int, int, int]:
    """(top, left, height, width) of the most detailed ``size`` square (gradient energy)."""
    h, w = rgb.shape[:2]
    size = min(size, h, w)
    g = rgb.astype(np.float32).mean(axis=2)
    e = np.abs(np.diff(g, axis=0, prepend=g[:1])) + np.abs(np.diff(g, axis=1, prepend=g[:, :1]))
    ii = np.pad(e.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    s = ii[size:, size:] - ii[:-size, size:] - ii[size:, :-size] + ii[:-size, :-size]
    top, left = np.unravel_index(int(np.argmax(s)), s.shape)
    return int(top), int(left), size, size


def caption(rec: Mapping[str, Any]) -> str:
    """'<label>\\n<bpp> bpp | PSNR <..> dB | MS-SSIM <..>' for one reconstruction."""
    ms = rec.get("ms_ssim", float("nan"))
    ms_txt = "n/a (image too small)" if not np.isfinite(ms) else f"{ms:.4f}"
    return f"{rec['label']}\n{rec['bpp']:.3f} bpp | PSNR {rec['psnr']:.2f} dB | MS-SSIM {ms_txt}"


def _comparison_figure(original: np.ndarray, recs: Sequence[Mapping[str, Any]],
                       crop: tuple[int, int, int, int] | None, title: str | None,
                       provenance: Mapping[str, Any] | None) -> Figure:
    from matplotlib.patches import Rectangle

    crop = crop or auto_crop(original)
    top, left, ch, cw = crop
    panels = [{"label": "Original", "rgb": original}] + list(recs)
    n = len(panels)
    h, w = original.shape[:2]
    fig = Figure(figsize=(3.2 * n, 3.2 * h / w + 3.6))
    axes = fig.subplots(2, n, squeeze=False, gridspec_kw={"height_ratios": [h / w, 1.0]})
    for k, p in enumerate(panels):
        rgb = np.asarray(p["rgb"])
        if rgb.shape != original.shape:
            raise ValueError(f"reconstruction {p.get('label')!r} has shape {rgb.shape}, original {original.shape}")
        ax, axz = axes[0][k], axes[1][k]
        ax.imshow(rgb, interpolation="nearest")
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), cw, ch, fill=False, edgecolor="yellow", linewidth=1.2))
        ax.set_title(p["label"] if k == 0 else caption(p), fontsize=7.5)
        axz.imshow(rgb[top:top + ch, left:left + cw], interpolation="nearest")
        axz.set_xlabel(f"zoom: rows {top}-{top + ch}, cols {left}-{left + cw}", fontsize=7)
        for a in (ax, axz):
            a.set_xticks([])
            a.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    add_provenance(fig, provenance, width=40 * n)
    return fig


def visual_comparison(
    original: np.ndarray,
    recs: Sequence[Mapping[str, Any]],
    out_base: str | os.PathLike,
    provenance: Mapping[str, Any] | None,
    crop: tuple[int, int, int, int] | None = None,
    title: str | None = None,
) -> list[Path]:
    """Figs. 3-4: the original and each reconstruction, full and zoomed (PNG + PDF).

    ``recs``: dicts with label, rgb ((H, W, 3) uint8), bpp, psnr, ms_ssim — e.g. from
    ``reconstruct_closest``. ``crop`` is (top, left, height, width); by default the
    most detailed 64 px square.
    """
    return save_figure(_comparison_figure(original, recs, crop, title, provenance), out_base)


def side_by_side_png(
    original: np.ndarray,
    recs: Sequence[Mapping[str, Any]],
    out_path: str | os.PathLike,
    crop: tuple[int, int, int, int] | None = None,
    provenance: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> Path:
    """A static PNG of the same comparison (the widgets' fallback without a kernel)."""
    fig = _comparison_figure(original, recs, crop, title, provenance)
    out_path = Path(out_path)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return atomic_write(out_path, lambda p: p.write_bytes(buf.getvalue()))


def pick_closest(df: pd.DataFrame, image: str, methods: Sequence[str], family: str,
                 target_bpp: float) -> pd.DataFrame:
    """For each method, the row of ``image`` whose bpp is closest to ``target_bpp``.

    Closeness is measured on log bpp (a factor, not a difference). Methods with no
    rows for the image are left out.
    """
    sub = df[(df["image"].astype(str) == str(image)) & df["method"].isin(methods)]
    sub = sub[(sub["family"] == family) | (sub["family"] == ANCHOR_FAMILY)]
    rows = []
    for m in methods:
        s = sub[(sub["method"] == m) & (sub["bpp"] > 0)]
        if len(s):
            rows.append(s.loc[(np.log(s["bpp"]) - np.log(target_bpp)).abs().idxmin()])
    return pd.DataFrame(rows).reset_index(drop=True)


def reconstruct_closest(
    df: pd.DataFrame,
    image_path: str | os.PathLike,
    jobs: Sequence[Mapping[str, Any]],
    target_bpp: float,
    loader: Callable[[Any], Any] | None = None,
) -> list[dict[str, Any]]:
    """Reconstruct ``image_path`` with each method at the quality closest to ``target_bpp``.

    ``jobs`` are ``evaluate.evaluate_all`` jobs (method, family, quality and
    checkpoint or codec); the quality is picked from ``df``'s rows for this image.
    Returns dicts (label, method, family, quality, rgb, bpp, psnr, ms_ssim) for
    ``visual_comparison``.
    """
    from ..evaluation.evaluate import reconstruct
    from ..files import load_rgb

    rgb = load_rgb(image_path)
    image = Path(image_path).stem
    out = []
    for (method, family), group in _group_jobs(jobs).items():
        picked = pick_closest(df, image, [method], family, target_bpp)
        if picked.empty:
            raise ValueError(f"no evaluation rows for image {image!r}, method {method!r}, family {family!r}")
        q = float(picked.iloc[0]["quality"])
        job = next(j for j in group if float(j["quality"]) == q)
        src = job.get("codec") or job["checkpoint"]
        r = reconstruct(src, rgb, quality=q if "codec" in job else None, loader=loader)
        out.append({"label": label(method, family), "method": method, "family": family, "quality": q, **r})
    return out


def _group_jobs(jobs: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], list[Mapping[str, Any]]]:
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for j in jobs:
        groups.setdefault((j["method"], j["family"]), []).append(j)
    return groups


def pair_figure(ref: np.ndarray, jnd: np.ndarray, title: str, labeller: str,
                provenance: Mapping[str, Any] | None) -> Figure:
    """An image, its JND1 image (labelled by ``labeller``) and their difference amplified 8x."""
    diff = np.clip(np.abs(ref.astype(int) - jnd.astype(int)) * 8, 0, 255).astype("uint8")
    fig = Figure(figsize=(12, 4.4))
    for ax, img, name in zip(fig.subplots(1, 3), (ref, jnd, diff),
                             ("original (Ref)", f"JND1 ({labeller})", "|Ref - JND1| x 8")):
        ax.imshow(img)
        ax.set_title(name, fontsize=10)
        ax.axis("off")
    fig.suptitle(title)
    add_provenance(fig, provenance)
    return fig


def visual_figures(rd: pd.DataFrame, image: Path, jobs: Sequence[Mapping[str, Any]], families: Sequence[str],
                   methods: Sequence[str], reference: str, out_dir: str | os.PathLike,
                   provenance: Mapping[str, Any] | None, target_bpp: float | None = None,
                   crop: tuple[int, int, int, int] | None = None) -> list[Path]:
    """Figs. 3-4 (``fig<n>_visual_<family>``) and their static side-by-side PNGs: per family,
    ``image`` coded by each of ``methods``' ``jobs`` at the quality closest to ``target_bpp``
    (by default the median bpp of ``reference``'s qualities in ``rd``). Returns the figures' PNGs."""
    from ..files import load_rgb

    shown = []
    for number, family in zip((3, 4), families):
        sub = rd[(rd.method == reference) & (rd.family == family)]
        target = target_bpp or float(sub.groupby("quality")["bpp"].median().median())
        chosen = [j for j in jobs if j["family"] == family and j["method"] in methods]
        if not chosen:
            print(f"Fig. {number}: no {family} model of {list(methods)} on this machine (a replicated grid's store "
                  "keeps no model); the published figure, if any, is left as it is")
            continue
        recs = reconstruct_closest(rd, image, chosen, target)
        title = f"{family.upper()}-trained models near {target:.3f} bpp, image {image.stem}"
        base = Path(out_dir) / f"fig{number}_visual_{family}"
        visual_comparison(load_rgb(image), recs, base, provenance, crop=crop, title=title)
        side_by_side_png(load_rgb(image), recs, Path(out_dir) / f"static_comparison_{family}.png",
                         crop=crop, provenance=provenance, title=title)
        shown.append(Path(str(base) + ".png"))
    return shown


def fwl_share_figure(table: pd.DataFrame, floor: Mapping[str, Any] | None,
                     provenance: Mapping[str, Any] | None) -> Figure:
    """FWL's BD-rate against the control of its seed over the feature term's measured share
    of D (``evaluation.feature_share.by_share``), one panel per family in its own metric,
    with the control's seed-to-seed spread (largest pair) as the noise floor."""
    families = [f for f in DISTORTIONS if (table["family"] == f).any()]
    fig = Figure(figsize=(5.2 * len(families), 4.2))
    axes = np.atleast_1d(fig.subplots(1, len(families), squeeze=False)[0])
    for ax, family in zip(axes, families):
        g = table[table["family"] == family]
        metric = str(g["metric"].iloc[0])
        band = ((floor or {}).get(f"{family}/{metric}") or {}).get("max_abs")
        if band:
            ax.axhspan(-band, band, color="0.88", label=f"control seed to seed (\u00b1{band:.2f})")
        ax.axhline(0, color="0.5", linewidth=0.7)
        for _, r in g.iterrows():
            style = _STYLE.get(r["method"], {})
            err = [[max(r["bd_rate_vs_control"] - r["low"], 0)], [max(r["high"] - r["bd_rate_vs_control"], 0)]]
            ax.errorbar([100 * r["share"]], [r["bd_rate_vs_control"]], yerr=err if np.isfinite(r["low"]) else None,
                        xerr=[[100 * (r["share"] - r["share_min"])], [100 * (r["share_max"] - r["share"])]], capsize=3,
                        color=style.get("color"), marker=style.get("marker", "o"), linestyle="none",
                        label=f"{label(r['method'])}, w={r['fwl_weight']:g} "
                              f"({int(r['seeds'])} seed(s), q{r['qualities']})")
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 150)
        ax.set_xlabel("feature term's share of D, % (mean over training;\nhorizontal bar: range over its runs)")
        ax.set_ylabel(f"BD-rate vs fine-tuned control (%, {METRIC_LABELS.get(metric, metric)})")
        ax.set_title(f"FWL-{FAMILY_LABELS.get(family, family)}", fontsize=10)
        ax.legend(fontsize=7, loc="best")
    add_provenance(fig, provenance)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def fwl_by_share(rd: pd.DataFrame, run_folders: Sequence[Path], families: Sequence[str], run_dir: Path,
                 provenance: Mapping[str, Any] | None, n_boot: int = 1000, seed: int = 0) -> list[Path]:
    """FWL's effect by feature share from a replicated grid's archived runs: the table
    (``run_dir``/results/fwl_by_share.csv and figures/fwl_by_share.md) and ``fwl_share_figure``
    with the control's noise floor (figures/fwl_by_share.png, .pdf); returns the figure's paths."""
    from ..evaluation import feature_share, replicates
    from ..files import write_csv, write_text

    table = feature_share.by_share(rd, feature_share.run_shares(run_folders), n_boot, seed)
    write_csv(Path(run_dir) / "results" / "fwl_by_share.csv", table)
    cols = ["method", "family", "metric", "input_scale", "fwl_weight", "share_target", "share", "qualities",
            "bd_rate_vs_control", "low", "high", "seeds", "holm"]
    write_text(Path(run_dir) / "figures" / "fwl_by_share.md",
               "FWL by the feature term's share of D (mean over training), BD-rate (%) against the fine-tuned "
               "control of the same seed, PCHIP, 95% interval (images bootstrapped, seeds Student-t; one seed: "
               "the control's seed spread), 'holm': differs after Holm's correction over the rows.\n\n"
               + table[cols].to_markdown(index=False, floatfmt=".4g")
               + f"\n\n{provenance_label(dict(provenance or {}))}\n")
    floor = replicates.noise_floor_for(rd, families)
    return save_figure(fwl_share_figure(table, floor, provenance), Path(run_dir) / "figures" / "fwl_by_share")
