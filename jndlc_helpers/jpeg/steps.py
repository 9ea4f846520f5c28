"""What notebook 07 calls: train (or load) the JPEG preprocessors, evaluate them with
real bitstreams, BD-rate against plain JPEG and the classical anchors, BS_JND of the
JND losses against the baseline loss, and the RD figure.

Everything lives under ``<run_dir>/jpeg/``: ``models/<loss>-<metric>[-seed<s>]/``
(training runs), ``results/rd.csv`` (per image and seed), ``results/bd_rate.csv``,
``results/bs_jnd*.csv``, ``figures/``. This step's knobs (``jpeg_*``) are profile knobs
(``config.JPEG_RECIPE``); ``jpeg_params`` applies the notebook's overrides. With several
training seeds (``jpeg_seeds``) each loss is compared with the baseline-loss preprocessor
of the same seed, over seeds and images (``evaluation.replicates``); with one, over images.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from .. import config
from ..files import PACKAGE_PARENT, write_text
from ..vocab import ANCHOR_FAMILY, QUALITY_METRICS

SHIPPED = "data/jpeg_preprocessors"  # rate proxy and the quick profile's trained weights
CONTROL = "preproc-baseline"  # the baseline-loss preprocessor: the JND losses' control
CLASSICAL = ("classical", "classical-ssim")  # the anchors without learning (classical-ssim: MS-SSIM family)
Weights = dict[tuple[str, str, int], Path]  # (loss, distortion, seed) -> weights file


def jpeg_params(params: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The run's params (this step's knobs, ``jpeg_*``, are profile knobs: ``config.JPEG_RECIPE``;
    a params.json written before them gets its profile's), then ``overrides`` (non-None);
    unknown keys raise ``KeyError`` naming them."""
    if params.get("profile") not in config.PROFILES:
        raise KeyError(f"no JPEG preprocessing defaults for profile {params.get('profile')!r}; "
                       f"known: {sorted(config.PROFILES)}")
    defaults = {k: v for k, v in config.profile(params["profile"]).items() if k.startswith("jpeg_")}
    out = {**defaults, **params}
    given = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(given) - set(out))
    if unknown:
        raise KeyError(f"unknown parameter(s) {unknown}; known: {sorted(out)}")
    out.update(given)
    return out


def jpeg_path(P: dict[str, Any], *parts: str) -> Path:
    return Path(P["run_dir"]).joinpath("jpeg", *parts)


def figure_path(P: dict[str, Any], name: str) -> Path:
    """Where this step's tables and figures go: the run's figures/ (published with the
    chain's), named jpeg_*."""
    return Path(P["run_dir"]) / "figures" / f"jpeg_{name}"


def provenance(P: dict[str, Any]) -> dict[str, Any]:
    """The run's provenance with this step's own model, data and budget (the label still
    flags proxy JND labels and offline FWL features)."""
    from ..pipeline import prov

    out = prov({**P, "jod": P["jpeg_jod"]})
    out["model"] = "JPEG preprocessor (block-grid network) before Pillow's JPEG 4:2:0"
    out["data"] = out["data"].replace(" (1:1)", " (images drawn uniformly)")
    out["budget"] = (f"{P['jpeg_steps']} steps, batch {P['jpeg_batch_size']}, "
                     f"patch {P['jpeg_patch_size']}, lr {P['jpeg_lr']:g}")
    if len(P["jpeg_seeds"]) > 1:
        out["budget"] += f" x {len(P['jpeg_seeds'])} seeds"
    if P.get("jpeg_weights"):
        out["budget"] += f" (weights loaded from {P['jpeg_weights']})"
    return out


def proxy():
    from .rate import RateProxy, default_proxy_path

    return RateProxy.load(default_proxy_path())


def seeds_of(P: dict[str, Any], loss: str) -> list[int]:
    """The training seeds of ``loss``: ``jpeg_seeds``, or its first for ``jpeg_single_seed_losses``."""
    seeds = [int(s) for s in P["jpeg_seeds"]]
    return seeds[:1] if loss in P.get("jpeg_single_seed_losses", ()) else seeds


def _shipped(P: dict[str, Any], name: str) -> Path | None:
    """``<jpeg_weights>/<name>.pt`` where the profile names a folder holding it."""
    folder = P.get("jpeg_weights")
    if not folder:
        return None
    path = Path(folder) if Path(folder).is_absolute() else PACKAGE_PARENT / folder
    if (path / f"{name}.pt").is_file():
        return path / f"{name}.pt"
    print(f"jpeg_weights={folder!r} has no {name}.pt: training it here instead", flush=True)
    return None


def training_images(P: dict[str, Any]):
    from ..data import pairs
    from ..files import list_images
    from .train import load_training_images

    unl = list_images(P["unlabelled_root"]) if P.get("unlabelled_root") else []
    return load_training_images(pairs.find_pairs(Path(P["data_root"]) / "train"), unl)


def train_config(P: dict[str, Any], loss: str, distortion: str, seed: int, **extra: Any):
    """The ``train.TrainConfig`` of one preprocessor under the run's recipe (``extra``: other fields)."""
    from .train import TrainConfig

    return TrainConfig(loss=loss, distortion=distortion, steps=P["jpeg_steps"], batch_size=P["jpeg_batch_size"],
                       patch_size=P["jpeg_patch_size"], qualities=P["jpeg_qualities"], lr=P["jpeg_lr"], seed=seed,
                       features=P["feature_extractor"], fwl_weight=P["fwl_weight"], **extra)


def train_all(P: dict[str, Any], progress: bool = True) -> Weights:
    """{(loss, distortion, seed): weights} for every loss and its seeds (``seeds_of``):
    shipped weights where the profile names them (``<loss>-<distortion>[-seed<s>].pt``),
    otherwise trained (resumably) under jpeg/models/<loss>-<distortion>[-seed<s>]/."""
    from .evaluate import run_label
    from .train import train_preprocessor

    out, images, rate = {}, None, proxy()
    for distortion, losses in P["jpeg_losses"].items():
        for loss in losses:
            for seed in seeds_of(P, loss):
                name = run_label(f"{loss}-{distortion}", seed)
                out[loss, distortion, seed] = _shipped(P, name)
                if out[loss, distortion, seed] is None:
                    images = images or training_images(P)
                    t0 = time.perf_counter()
                    out[loss, distortion, seed] = train_preprocessor(
                        jpeg_path(P, "models", name), images, train_config(P, loss, distortion, seed), rate)
                    if progress:
                        print(f"{name}: trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return out


def test_images(P: dict[str, Any]) -> dict[str, Any]:
    from ..data import pairs
    from ..files import load_rgb

    return {ref.stem: load_rgb(ref) for ref, _ in pairs.find_pairs(Path(P["data_root"]) / "test")}


def evaluate_all(P: dict[str, Any], weights: Weights, progress: bool = True) -> pd.DataFrame:
    """The per-image table of plain JPEG, the classical anchors (classical-ssim in the
    MS-SSIM family) and every preprocessor and seed (methods side by side over
    ``parallel_runs`` processes); decoded images under jpeg/recon/."""
    from .evaluate import MethodSpec, evaluate_methods
    from ..parallel import training_workers

    families = tuple(P["jpeg_losses"])
    methods = {("jpeg", 0): MethodSpec(families, "jpeg"), ("classical", 0): MethodSpec(families, "classical")}
    if "ms-ssim" in families:
        methods["classical-ssim", 0] = MethodSpec(("ms-ssim",), "classical-ssim")
    for (loss, distortion, seed), path in weights.items():
        methods[f"preproc-{loss}-{distortion}", seed] = MethodSpec((distortion,), "learned", str(path))
    df = evaluate_methods(test_images(P), methods, P["jpeg_qualities"], jpeg_path(P, "results", "rd.csv"),
                          jod=P["jpeg_jod"], progress=progress, workers=training_workers(P), recon=jpeg_path(P, "recon"))
    return _by_loss(df)


def _by_loss(df: pd.DataFrame) -> pd.DataFrame:
    """Method names without the family: 'preproc-iwl-hinge-mse' -> 'preproc-iwl-hinge'."""
    df = df.copy()
    fam = df["family"].astype(str)
    df["method"] = [m[: -len(f) - 1] if m.startswith("preproc-") and m.endswith("-" + f) else m
                    for m, f in zip(df["method"], fam)]
    return df


def _metrics(P: dict[str, Any]) -> list[str]:
    return [*QUALITY_METRICS] + (["jod"] if P["jpeg_jod"] else [])


def bd_rate_tables(P: dict[str, Any], rd: pd.DataFrame) -> pd.DataFrame:
    """BD-rate of every method against plain JPEG, the classical anchors and the
    baseline-loss preprocessor (PSNR, MS-SSIM dB, JOD when computed); CSV and Markdown.
    Several seeds: over seeds and images, paired by seed, Holm over each anchor's rows."""
    from ..evaluation import bdrate, replicates

    metrics = [m for m in _metrics(P) if rd[m].notna().any()]  # MS-SSIM is NaN on images <= 160 px
    proposed = sorted(m for m in rd["method"].unique() if m != "jpeg")
    anchors, families = ["jpeg", *CLASSICAL, CONTROL], list(P["jpeg_losses"])

    def one_seed(df: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
        return bdrate.bd_rate_table(df, methods, anchors=anchors, families=families, metrics=metrics,
                                    methods=("pchip",), aggregates=("average-curve",), n_boot=P["bootstrap"],
                                    seed=P["seed"])

    if replicates.is_replicated(rd):  # the classical anchors are not trained: over images only, and complete
        trained = [m for m in proposed if m not in CLASSICAL]
        bd = replicates.bd_rate_table_replicated(rd, trained, anchors, families, metrics, n_boot=P["bootstrap"],
                                                 seed=P["seed"], control=CONTROL)
        fixed = one_seed(rd[~rd["method"].isin(trained)], [m for m in proposed if m in CLASSICAL])
        bd = pd.concat([bd[bd["interpolation"] == "pchip"], _untrained(fixed)], ignore_index=True)
    else:
        bd = one_seed(rd, proposed)
    classical_only_vs = bd["method"].isin(CLASSICAL) & bd["anchor"].isin(["classical-ssim", CONTROL])
    bd = bd[~classical_only_vs].reset_index(drop=True)
    if replicates.is_replicated(rd):
        bd = replicates.with_holm(bd, ["anchor"])
    bd.to_csv(jpeg_path(P, "results", "bd_rate.csv"), index=False)
    _markdown(P, bd, "bd_rate", ["method", "family", "anchor", "metric", "bd_rate", "low", "high", "interval",
                                 *_tested(bd), "reason"],
              "BD-rate (%, PCHIP, average curve; negative = fewer bits) with real Pillow JPEG bitstreams"
              + _caption(rd))
    return bd


def _untrained(table: pd.DataFrame) -> pd.DataFrame:
    """Rows of untrained methods against untrained anchors (one "seed", and no seed noise:
    the image bootstrap is the whole interval) with the replicated tables' columns; a
    per-image range is not tested."""
    from ..evaluation import replicates
    from ..evaluation.bdrate import INTERVAL_BOOTSTRAP

    value = table["bd_rate"] if "bd_rate" in table else table["mean"]
    boot = table["interval"] == INTERVAL_BOOTSTRAP
    p = [replicates.p_value(v, lo, hi) if b else float("nan")
         for v, lo, hi, b in zip(value, table["low"], table["high"], boot)]
    return table.assign(interval=table["interval"].where(~boot, "95%: images bootstrapped (not trained: no seed noise)"),
                        n_seeds=1, differs=boot & ((table["low"] > 0) | (table["high"] < 0)), p=p, holm=False)


def _tested(table: pd.DataFrame) -> list[str]:
    """The replicated tables' extra columns, where present."""
    return [c for c in ("n_seeds", "differs", "holm") if c in table]


def _caption(rd: pd.DataFrame) -> str:
    from ..evaluation import replicates

    if not replicates.is_replicated(rd):
        return ""
    return (f"; {rd['seed'].nunique()} training seeds, each loss paired with the baseline-loss preprocessor of "
            "its seed; holm: still differs after Holm's correction over the rows against the same anchor")


def bs_jnd_tables(P: dict[str, Any], rd: pd.DataFrame) -> pd.DataFrame:
    """BS_JND of every preprocessor against plain JPEG and against the baseline-loss one
    (several seeds: paired by seed, over seeds and images, Holm over each baseline's rows)."""
    from ..evaluation import metrics
    from ..data import pairs

    jq = metrics.jnd_quality_table(pairs.find_pairs(Path(P["data_root"]) / "test"))
    out = []
    for base in ("jpeg", CONTROL):
        proposed = [m for m in rd["method"].unique() if m not in ("jpeg", base)]
        per, summary = _bs_jnd(P, rd, jq, proposed, base)
        per.to_csv(jpeg_path(P, "results", f"bs_jnd_per_image_vs_{base}.csv"), index=False)
        out.append(summary)
    summary = pd.concat(out, ignore_index=True)
    summary.to_csv(jpeg_path(P, "results", "bs_jnd.csv"), index=False)
    _markdown(P, summary, "bs_jnd", ["method", "family", "baseline", "metric", "mean", "low", "high", "interval",
                                     *_tested(summary), "n_used", "status"],
              "BS_JND (%): bitrate saved at each image's JND quality" + _caption(rd))
    return summary


def _bs_jnd(P: dict[str, Any], rd: pd.DataFrame, jq: pd.DataFrame, proposed: list[str],
            base: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per image, summary) BS_JND of ``proposed`` against ``base``. Several seeds: the trained
    methods paired by seed (``replicates.bsjnd_replicated``); the classical anchors against
    plain JPEG over images (not trained: no seed noise), and not against the control (no
    seed to pair with); Holm over the rows."""
    from ..evaluation import bsjnd, replicates

    kw = dict(baseline=base, families=list(P["jpeg_losses"]), n_boot=P["bootstrap"], seed=P["seed"])
    if not replicates.is_replicated(rd):
        return bsjnd.bsjnd(rd, jq, proposed, **kw)
    trained = [m for m in proposed if m not in CLASSICAL]
    per, summary = replicates.bsjnd_replicated(rd, jq, trained, control=CONTROL, **kw)
    fixed = [m for m in proposed if m in CLASSICAL and base == "jpeg"]
    if fixed:
        fp, fs = bsjnd.bsjnd(rd[rd["method"].isin([base, *fixed])], jq, fixed, **kw)
        per = pd.concat([per, fp.assign(seed=0)], ignore_index=True)
        summary = pd.concat([summary, _untrained(fs)], ignore_index=True)
    return per, replicates.with_holm(summary, ["baseline"])


def _markdown(P: dict[str, Any], df: pd.DataFrame, name: str, cols: list[str], title: str) -> Path:
    label = config.provenance_label(provenance(P))
    body = df[cols].to_markdown(index=False, floatfmt=".2f")
    return write_text(figure_path(P, f"{name}.md"), f"**{title}**\n\n{body}\n\n*{label}*\n")


def figure_rd(P: dict[str, Any], rd: pd.DataFrame):
    """RD curves of plain JPEG, the classical anchor and the preprocessors (PNG + PDF)."""
    from ..evaluation.replicates import seed_mean
    from ..report import figures

    rd = seed_mean(rd)  # several seeds: each method's curve averaged over them
    metrics = [m for m in _metrics(P) if rd[m].notna().any()]
    first = list(P["jpeg_losses"])[0]
    anchors = rd["method"].isin(["jpeg", "classical"])  # drawn dashed in every panel, once
    rd = pd.concat([rd[~anchors], rd[anchors & (rd["family"] == first)].assign(family=ANCHOR_FAMILY)])
    paths = figures.plot_rd_curves(rd, figure_path(P, "rd_curves"), provenance(P),
                                   families=list(P["jpeg_losses"]), metrics=metrics,
                                   title="JPEG with preprocessing: real Pillow bitstreams")
    return paths[0]


def gallery(P: dict[str, Any], rd: pd.DataFrame, weights: Weights, family: str = "mse"):
    """Plain JPEG, the classical anchor and the baseline-loss preprocessor (its first seed)
    decoded at every quality factor (jpeg/recon/<family>/<method>/q<quality>/<image>.png,
    kept), as a ``report.widgets.Gallery`` for the comparison widget."""
    from . import evaluate as JE
    from ..data import pairs
    from ..evaluation.replicates import first_seed_rows
    from ..files import save_png
    from ..report import widgets

    rate, rd = proxy(), first_seed_rows(rd)
    first = min(s for loss, d, s in weights if (loss, d) == ("baseline", family))
    methods = {"jpeg": JE.plain_jpeg, "classical": JE.classical_method(rate),
               f"preproc-baseline-{family}": JE.learned_method(weights["baseline", family, first], rate)}
    refs = {ref.stem: ref for ref, _ in pairs.find_pairs(Path(P["data_root"]) / "test")}
    images = test_images(P)
    for method, fn in methods.items():
        for q in P["jpeg_qualities"]:
            for name, rgb in images.items():
                out = jpeg_path(P, "recon", family, method, f"q{q}", f"{name}.png")
                if not out.exists():
                    save_png(out, JE.code_image(rgb, fn, q)["rgb"], compress_level=1)
    g = widgets.gallery_from_folder(jpeg_path(P, "recon"), rd, {k: str(v) for k, v in refs.items()})
    g.table = _by_loss(g.table.drop(columns=["bpp", "psnr", "ms_ssim", "jod"])).merge(
        rd[["image", "method", "family", "quality", "bpp", "psnr", "ms_ssim", "jod"]],
        on=["image", "method", "family", "quality"], how="left")
    return g


def run(P: dict[str, Any], progress: bool = True) -> dict[str, Any]:
    """Every step above, in order; returns the tables and the figure's path."""
    weights = train_all(P, progress)
    rd = evaluate_all(P, weights, progress)
    return {"rd": rd, "bd": bd_rate_tables(P, rd), "bs_jnd": bs_jnd_tables(P, rd), "figure": figure_rd(P, rd)}
