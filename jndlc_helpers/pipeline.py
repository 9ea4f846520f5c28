"""The reproduction's steps, one function per notebook, each taking the run's params.

A notebook is narrative around these calls. Each step reads its knobs, calls one
function per concern in the rooms (data, codec, evaluation, report) and returns what the
notebook shows, reading and writing inside ``params["run_dir"]``: models/ (02),
results/ (03-06), recon/<family>/<method>/q<quality>/ (03, 06), figures/ (01-06).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from . import parallel
from .evaluation import evaluate, replicates
from .files import read_csv, write_csv, write_json
from .report import figures, tables
from .report.display import png as _png
from .reproduce import run_provenance as prov
from .vocab import CONTROL, CONTROLS, METRIC_OF, PRETRAINED


def run_path(params: dict[str, Any], *parts: str) -> Path:
    return Path(params["run_dir"]).joinpath(*parts)


def results_store(params: dict[str, Any]):
    """The committed store of a replicated grid (``replicated.Store``), or None."""
    from . import replicated
    from .reproduce import resolve_path
    return replicated.Store(resolve_path(params["results_store"])) if params.get("results_store") else None


# ---------------------------------------------------------------- 01 data
def prepare_data(params: dict[str, Any], progress: bool = True) -> Path:
    """The profile's data set built (``build_data``) or the user's checked (``data.prepare``)."""
    from .data import prepare

    return prepare.prepare_data(params.get("data_root"), params.get("build_data"), params.get("labeller"),
                                params.get("jnd_tau"), progress=progress)


def test_pairs(params: dict[str, Any]) -> list[tuple[Path, Path]]:
    from .data.pairs import find_pairs
    return find_pairs(Path(params["data_root"]) / "test")


def plot_pair(params: dict[str, Any], index: int = 0):
    """A test image, its JND1 image and their amplified difference."""
    from .data import pairs
    ref_path, jnd_path = test_pairs(params)[index]
    fig = figures.pair_figure(*pairs.load_pair(ref_path, jnd_path), ref_path.stem, params["labeller"], prov(params))
    return _png(figures.save_figure(fig, run_path(params, "figures", "jnd_pair_example"), formats=("png",))[0])


# ---------------------------------------------------------------- 02 training
def train_all(params: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """The pretrained-baseline control, then every (loss, distortion, quality) run of the
    profile. Finished runs are skipped; interrupted ones resume. Returns one row per model.
    With a ``results_store``: every seed's runs, each archived as it finishes
    (``replicated.train``); one row per run, saying whether it is stored."""
    from . import replicated
    from .codec import grid, pretrain
    from .codec.runconfig import RunConfig

    workers = parallel.training_workers(params)
    base = RunConfig.from_profile(params, init=pretrain.ensure_base_models(params, progress),
                                  progress=progress and workers == 1)
    if params.get("results_store"):
        images = [str(ref) for ref, _ in test_pairs(params)]
        return replicated.train(params, base, results_store(params), images, workers)
    models, methods = run_path(params, "models"), [PRETRAINED, *params["losses"]]
    n = len(methods) * len(params["metrics"]) * len(params["qualities"])
    paths = grid.run_grid(models, methods, params["metrics"], params["qualities"], base, workers=workers,
                          on_done=grid.reporter(n, lambda name: (name, models / name)))
    table = grid.models_table(paths, models, methods, params["metrics"], params["qualities"])
    table.to_csv(models / "models.csv", index=False)
    return table


def training_curves(params: dict[str, Any]) -> pd.DataFrame:
    """Every run's log.jsonl stacked, with method, family, quality and seed columns (from
    the results store when there is one: it holds the runs of earlier sessions too)."""
    from .codec.runfolder import read_logs
    store = results_store(params)
    return read_logs(store.run_folders() if store else
                     sorted(log.parent for log in run_path(params, "models").glob("*/log.jsonl")))


def plot_training_curves(params: dict[str, Any]):
    """``figures.training_curves_figure`` written to figures/training_curves.png; returns the PNG."""
    fig = figures.training_curves_figure(training_curves(params), params["metrics"], prov(params))
    return _png(figures.save_figure(fig, run_path(params, "figures", "training_curves"), formats=("png",))[0])


# ---------------------------------------------------------------- 03 evaluation
def model_jobs(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The learned models to evaluate or decode: those of models.csv, or, for a replicated
    grid, the first seed's models on this machine (``replicated.first_seed_models``)."""
    from . import replicated
    if params.get("results_store"):
        return replicated.first_seed_models(params)
    return evaluate.jobs_from_table(run_path(params, "models", "models.csv"), run_path(params, "models"))


def recon_path(params: dict[str, Any], job: dict[str, Any]) -> Path:
    """Where a learned model's decoded test images are kept (written by 03, shown by 06)."""
    return run_path(params, "recon", job["family"], job["method"], f"q{job['quality']}")


def evaluate_rd(params: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """The tidy per-image RD table (resumable), CompressAI-style JSONs, JND qualities;
    the decoded images are kept under recon/ for 06 (not decoded twice). A replicated
    grid's models come from its store: only the classical anchors are coded here."""
    from .evaluation import metrics

    pairs_, store, out = test_pairs(params), results_store(params), run_path(params, "results", "rd.csv")
    anchors = evaluate.anchor_jobs(params["anchors"], params["anchor_qualities"])
    if store:
        store.copy_rows(out)
    rd = evaluate.evaluate_all(anchors if store else model_jobs(params) + anchors, [ref for ref, _ in pairs_], out,
                               jod=params["jod"], progress=progress, json_dir=run_path(params, "results", "json"),
                               provenance=prov(params), recon_dir=lambda job: recon_path(params, job),
                               workers=parallel.eval_workers(params.get("parallel_runs")))
    jq = metrics.jnd_quality_table(pairs_, jod=params["jod"], display=evaluate.JOD_DISPLAY)
    write_csv(run_path(params, "results", "jnd_quality.csv"), jq)
    return rd


def rd_table(params: dict[str, Any]) -> pd.DataFrame:
    return evaluate.read_table(run_path(params, "results", "rd.csv"))


def jnd_quality(params: dict[str, Any]) -> pd.DataFrame:
    return read_csv(run_path(params, "results", "jnd_quality.csv"))


def figure_rd(params: dict[str, Any]):
    """Fig. 2, written to figures/fig2_rd_curves.{png,pdf}; returns the PNG for display."""
    rd = rd_table(params)
    return _png(figures.plot_rd_curves(rd, run_path(params, "figures", "fig2_rd_curves"), prov(params),
                                       families=params["metrics"], metrics=replicates.quality_metrics(rd))[0])


# ---------------------------------------------------------------- 04 BD-rate
def proposed_methods(params: dict[str, Any]) -> list[str]:
    """Every trained loss but the fine-tuned baseline (a control, not a proposal)."""
    return [m for m in params["losses"] if m != CONTROL]


def bd_rate_tables(params: dict[str, Any]) -> pd.DataFrame:
    """All BD-rates (both anchors, cubic and PCHIP, both aggregates; over seeds when
    replicated) and Table I against each anchor, as CSV, Markdown and LaTeX."""
    rd = rd_table(params)
    proposed = proposed_methods(params) + ([CONTROL] if CONTROL in params["losses"] else [])
    bd = replicates.bd_rate_for(rd, proposed, CONTROLS, params["metrics"], replicates.quality_metrics(rd),
                                n_boot=params["bootstrap"], seed=params["seed"], workers=os.cpu_count() or 1)
    floor = replicates.noise_floor_for(rd, params["metrics"])
    if floor is not None:
        write_json(run_path(params, "results", "noise_floor.json"), floor)
    bd.to_csv(run_path(params, "results", "bd_rate.csv"), index=False)
    tables.write_tables(bd, None, run_path(params, "figures"), prov(params))
    return bd


def fwl_by_share(params: dict[str, Any]):
    """FWL's BD-rate against the control over its feature term's share of D (``figures.fwl_by_share``)
    where a replicated profile trains FWL at several settings; else None."""
    store = results_store(params)
    if store and sum(m.split("-")[0] == "fwl" for m in params["losses"]) > 1:
        return _png(figures.fwl_by_share(rd_table(params), store.run_folders(), params["metrics"],
                                         Path(params["run_dir"]), prov(params), params["bootstrap"], params["seed"])[0])


def table_markdown(params: dict[str, Any], name: str) -> str:
    path = run_path(params, "figures", f"{name}.md")
    return path.read_text() if path.exists() else f"*{name}: not written (see the cells above)*"


# ---------------------------------------------------------------- 05 BS_JND
def bs_jnd_tables(params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image BS_JND and its summary against both baselines (in JOD too when computed);
    Table II against the pretrained baseline (the paper's) and the fine-tuned one (the control)."""
    per_image, summary = replicates.bsjnd_against(
        rd_table(params), jnd_quality(params), proposed_methods(params) + [CONTROL], CONTROLS, params["metrics"],
        n_boot=params["bootstrap"], seed=params["seed"], jod=(params["labeller"], params["jnd_tau"]))
    per_image.to_csv(run_path(params, "results", "bs_jnd_per_image.csv"), index=False)
    summary.to_csv(run_path(params, "results", "bs_jnd.csv"), index=False)
    tables.write_tables(None, summary, run_path(params, "figures"), prov(params))
    return per_image, summary


def shown_methods(params: dict[str, Any]) -> list[str]:
    """The methods the figures compare: the pretrained model, the control, IWL and FWL."""
    return [PRETRAINED] + [m for m in (CONTROL, "iwl", "fwl") if m in params["losses"]]


def figure_bs_jnd_example(params: dict[str, Any], image: str | None = None):
    """Fig. 5 for one test image (first family, its own metric), written to figures/; returns the PNG."""
    jq = jnd_quality(params)
    image, family = image or str(jq["image"].iloc[0]), params["metrics"][0]
    q = float(jq.set_index(jq["image"].astype(str)).loc[image, METRIC_OF[family]])
    paths = figures.plot_image_rd(replicates.seed_mean(rd_table(params)), image, q,
                                  run_path(params, "figures", "fig5_bs_jnd_example"), prov(params),
                                  methods=shown_methods(params), family=family, metric=METRIC_OF[family])
    return _png(paths[0])


# ---------------------------------------------------------------- 06 visual comparison
def reconstruct_test_set(params: dict[str, Any], progress: bool = True):
    """Every learned model's reconstruction of every test image, saved as PNG under
    recon/ (skipped when present: 03 keeps them), and a widgets.Gallery over them."""
    from .report import widgets

    refs = {ref.stem: ref for ref, _ in test_pairs(params)}
    evaluate.decode_all(model_jobs(params), refs, lambda job: recon_path(params, job), progress=progress)
    return widgets.gallery_from_folder(run_path(params, "recon"), replicates.first_seed_rows(rd_table(params)),
                                       {k: str(v) for k, v in refs.items()})


def evaluate_kodak(params: dict[str, Any], progress: bool = False) -> pd.DataFrame | None:
    """With ``kodak_root`` (the paper's image for Figs. 3-4): its first image coded by every
    model once, into results/rd_kodak.csv (resumable); None without it."""
    from .data import kodak

    if not params.get("kodak_root"):
        return None
    return evaluate.evaluate_all(model_jobs(params), [kodak.first_image(params["kodak_root"])],
                                 run_path(params, "results", "rd_kodak.csv"), progress=progress)


def figure_visual(params: dict[str, Any], methods: list[str] | None = None,
                  target_bpp: float | None = None, crop_box: tuple[int, int, int, int] | None = None) -> list:
    """Figs. 3-4 and their static fallback PNGs (``figures.visual_figures``), the closest
    quality to ``target_bpp`` per method, on the first Kodak image with ``kodak_root`` (the
    paper's; its RD rows from ``evaluate_kodak``), else on the first test image."""
    from .data import kodak

    if params.get("kodak_root"):
        ref = kodak.first_image(params["kodak_root"])
        rd = evaluate.read_table(run_path(params, "results", "rd_kodak.csv"))
    else:
        ref, rd = test_pairs(params)[0][0], replicates.first_seed_rows(rd_table(params))
    reference = CONTROL if CONTROL in params["losses"] else PRETRAINED
    paths = figures.visual_figures(rd, ref, model_jobs(params), params["metrics"], methods or shown_methods(params),
                                   reference, run_path(params, "figures"), prov(params), target_bpp, crop_box)
    return [_png(p) for p in paths]
