"""The reproduction's steps, one function per notebook, each taking the run's params.

A notebook is narrative around one of these calls; tests call them directly. Each step
reads its knobs, calls one function per concern in the rooms (data, codec, evaluation,
report) and returns what the notebook shows. Every step reads and writes inside
``params["run_dir"]``:

    models/<method>-<metric>-q<quality>/checkpoint.pth.tar   02
    results/rd.csv, results/jnd_quality.csv, results/json/   03
    results/bd_rate.csv                                       04
    results/bs_jnd_per_image.csv, results/bs_jnd.csv          05
    recon/<family>/<method>/q<quality>/<image>.png            06
    results/rd_kodak.csv (with ``kodak_root``)                06
    figures/                                                  02-06
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from . import config, parallel
from .evaluation import replicates
from .files import read_json, write_json
from .report.display import png as _png
from .vocab import ANCHOR_FAMILY, CONTROL, CONTROLS, METRIC_OF, PRETRAINED, QUALITY_METRICS

BASELINE_PRETRAINED = PRETRAINED  # the training steps' name for it
is_replicated = replicates.is_replicated  # read here by tests/test_replicated.py


def run_path(params: dict[str, Any], *parts: str) -> Path:
    return Path(params["run_dir"]).joinpath(*parts)


def prov(params: dict[str, Any]) -> dict[str, Any]:
    """The provenance of the run's outputs, naming the JOD display model when JOD is computed."""
    from .reproduce import display_path

    shown = {k: display_path(params.get(k), params.get("run_dir")) if params.get(k) else params.get(k)
             for k in ("data_root", "unlabelled_root", "pretrained")}
    out = config.provenance({**params, **shown})  # no machine paths in tables and captions
    if params.get("jod"):
        from .evaluation.bsjnd import jod_threshold
        from .evaluation.evaluate import JOD_DISPLAY

        out["jod_display"] = JOD_DISPLAY
        out["jod_threshold"] = jod_threshold(params["jnd_tau"])
    return out


def parallel_runs(params: dict[str, Any]) -> int:
    """How many training runs or evaluations go side by side (``parallel.auto_workers``)."""
    return parallel.auto_workers(params.get("parallel_runs"), params.get("device", "auto"))


def msssim_patch(params: dict[str, Any]) -> int:
    """MS-SSIM training patches: the profile's size, but never below what 5 scales need."""
    return max(params["patch_size"], config.MSSSIM_MIN_PATCH + 16)


# ---------------------------------------------------------------- 01 data
def prepare_data(params: dict[str, Any], progress: bool = True) -> Path:
    """The profile's data set built (``build_data``) or the user's checked (``data.prepare``)."""
    from .data import prepare

    return prepare.prepare_data(params.get("data_root"), params.get("build_data"), params.get("labeller"),
                                params.get("jnd_tau"), progress=progress)


def test_pairs(params: dict[str, Any]) -> list[tuple[Path, Path]]:
    from .data import pairs

    return pairs.find_pairs(Path(params["data_root"]) / "test")


# ---------------------------------------------------------------- 02 training
def ensure_base_models(params: dict[str, Any], progress: bool = True) -> str:
    """Where fine-tuning starts: the zoo, a folder of the project's base models (trained
    here first when missing, with the profile's ``pretrain_steps``), or scratch."""
    from .codec import grid, train

    init = params["pretrained"]
    if init in ("zoo", "scratch"):
        return init
    missing = [(m, q) for m in params["metrics"] for q in params["qualities"]
               if not (Path(init) / train.run_name("baseline", m, q) / "checkpoint.pth.tar").exists()]
    if missing:
        print(f"no base model for {missing} in {init}: training them first "
              f"({params['pretrain_steps']} steps each)")
        kw = grid.profile_kwargs(params)
        kw.pop("init")
        kw.update(max_steps=params["pretrain_steps"], epochs=None)
        for metric, quality in missing:
            grid.pretrain(init, metrics=[metric], qualities=[quality], progress=progress,
                          msssim_patch_size=msssim_patch(params), **kw)
    return init


def results_store(params: dict[str, Any]):
    """The committed store of a replicated grid (``replicated.Store``), or None."""
    from . import replicated
    from .reproduce import resolve_path

    return replicated.Store(resolve_path(params["results_store"])) if params.get("results_store") else None


def train_all(params: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """The pretrained-baseline control, then every (loss, metric, quality) run.
    Finished runs are skipped; interrupted ones resume. Returns one row per model.
    With a ``results_store`` (replicated seeds): ``train_replicated``."""
    from .codec import grid, train

    if params.get("results_store"):
        return train_replicated(params, progress)

    kw = grid.profile_kwargs(params)
    kw["init"] = ensure_base_models(params, progress)
    methods = [BASELINE_PRETRAINED, *params["losses"]]
    n = len(methods) * len(params["metrics"]) * len(params["qualities"])
    start, finished = time.perf_counter(), []

    def report(name: str) -> None:  # a line per finished run reaches the terminal
        finished.append(name)
        print(run_progress_line(len(finished), n, name, time.perf_counter() - start,
                                run_path(params, "models", name)), flush=True)

    workers = parallel_runs(params)
    paths = grid.run_grid(run_path(params, "models"), methods, params["metrics"], params["qualities"],
                          msssim_patch_size=msssim_patch(params), progress=progress and workers == 1,
                          workers=workers, on_done=report, **kw)
    models = run_path(params, "models")
    rows = [dict(method=m, family=f, quality=q, lmbda=config.lambda_for(f, q),  # relative: no machine paths
                 checkpoint=str(Path(paths[train.run_name(m, f, q)]).resolve().relative_to(models.resolve())))
            for f in params["metrics"] for q in params["qualities"] for m in methods]
    table = pd.DataFrame(rows)
    table.to_csv(run_path(params, "models", "models.csv"), index=False)
    return table


def train_replicated(params: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """Every (seed, loss, metric, quality) run not yet in the results store: trained,
    evaluated on the test images and archived as it finishes (``replicated.run_grid``).
    Returns one row per job: its seed, loss, family, quality and whether it is stored."""
    from . import replicated
    from .codec import grid

    kw = grid.profile_kwargs(params)
    kw.update(init=ensure_base_models(params, progress), msssim_patch_size=msssim_patch(params))
    store, images = results_store(params), [str(ref) for ref, _ in test_pairs(params)]
    todo = replicated.pending(params, store, len(images))
    start, finished = time.perf_counter(), []

    def report(job) -> None:
        finished.append(job)
        print(run_progress_line(len(finished), len(todo), job.folder, time.perf_counter() - start,
                                replicated.run_dir(params, job)), flush=True)

    print(f"{len(replicated.jobs(params)) - len(todo)} runs already in the store, {len(todo)} to train", flush=True)
    replicated.run_grid(params, kw, images, store, workers=parallel_runs(params), on_done=report)
    done = store.done(len(images))
    return pd.DataFrame([dict(seed=j.seed, method=j.loss, family=j.metric, quality=j.quality, stored=j in done)
                         for j in replicated.jobs(params)])


def run_progress_line(k: int, n: int, name: str, elapsed: float, run_dir: Path) -> str:
    """'[k/n] name: loss L, 12 s so far, about 30 s left' for a finished training run."""
    loss = ""
    log = run_dir / "log.jsonl"
    if log.is_file():
        lines = log.read_text().strip().splitlines()
        if lines:
            loss = f" loss {json.loads(lines[-1]).get('loss', float('nan')):.4g},"
    left = elapsed / k * (n - k)
    return f"[{k}/{n}] {name}:{loss} {elapsed:.0f} s so far, about {left:.0f} s left"


def training_curves(params: dict[str, Any]) -> pd.DataFrame:
    """Every run's log.jsonl stacked, with method, family, quality and seed columns (from
    the results store when there is one: it holds the runs of earlier sessions too)."""
    store = results_store(params)
    logs = [log for log, _ in store.logs()] if store else sorted(run_path(params, "models").glob("*/log.jsonl"))
    frames = []
    for log in logs:
        raw = read_json(log.parent / "config.json")
        cfg = raw.get("config", raw)  # train writes the run's knobs under "config"
        df = pd.read_json(log, lines=True)
        if df.empty:
            continue
        frames.append(df.assign(method=cfg.get("loss") or cfg.get("method"), family=cfg.get("metric"),
                                quality=cfg.get("quality"), seed=cfg.get("seed", 0)))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# ---------------------------------------------------------------- 03 evaluation
def rd_jobs(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every model and every classical anchor setting to evaluate."""
    from .evaluation import evaluate

    models = pd.read_csv(run_path(params, "models", "models.csv"))
    jobs = [dict(method=r.method, family=r.family, quality=int(r.quality), lmbda=float(r.lmbda),
                 checkpoint=str(run_path(params, "models", r.checkpoint))) for r in models.itertuples()]
    return jobs + evaluate.anchor_jobs(params["anchors"], params["anchor_qualities"])


def model_jobs(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The learned models to decode for the figures: every model of ``models.csv``, or, for a
    replicated grid, the first seed's models whose checkpoints are on this machine (the
    store keeps no model: runs archived in an earlier session are not decoded again)."""
    if not params.get("results_store"):
        return [j for j in rd_jobs(params) if "checkpoint" in j]
    from . import replicated

    first = replicated.seeds(params)[0]
    return [dict(method=j.loss, family=j.metric, quality=j.quality, seed=j.seed,
                 lmbda=config.lambda_for(j.metric, j.quality), checkpoint=str(ck))
            for j in replicated.jobs(params) if j.seed == first
            for ck in [replicated.run_dir(params, j) / "checkpoint.pth.tar"] if ck.is_file()]


def recon_path(params: dict[str, Any], job: dict[str, Any]) -> Path:
    """Where a learned model's decoded test images are kept (written by 03, shown by 06)."""
    return run_path(params, "recon", job["family"], job["method"], f"q{job['quality']}")


def evaluate_rd(params: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """The tidy per-image RD table (resumable), CompressAI-style JSONs, JND qualities;
    the decoded images are kept under recon/ for 06 (not decoded twice)."""
    from .evaluation import evaluate, metrics

    pairs_ = test_pairs(params)
    store, out = results_store(params), run_path(params, "results", "rd.csv")
    if store:  # the models' rows come from the store; only the anchors are coded here
        out.parent.mkdir(parents=True, exist_ok=True)
        kept = evaluate.read_table(out) if out.is_file() else store.rows().iloc[:0]
        rows = pd.concat([kept[kept["family"] == ANCHOR_FAMILY], store.rows()], ignore_index=True)
        evaluate.write_table(out, rows)
    jobs = evaluate.anchor_jobs(params["anchors"], params["anchor_qualities"]) if store else rd_jobs(params)
    rd = evaluate.evaluate_all(jobs, [ref for ref, _ in pairs_], out,
                               jod=params["jod"], progress=progress,
                               json_dir=run_path(params, "results", "json"), provenance=prov(params),
                               recon_dir=lambda job: recon_path(params, job),
                               workers=parallel.eval_workers(params.get("parallel_runs")))
    jq = metrics.jnd_quality_table(pairs_, jod=params["jod"], display=evaluate.JOD_DISPLAY)
    jq.to_csv(run_path(params, "results", "jnd_quality.csv"), index=False)
    return rd


def rd_table(params: dict[str, Any]) -> pd.DataFrame:
    from .evaluation import evaluate

    return evaluate.read_table(run_path(params, "results", "rd.csv"))


def jnd_quality(params: dict[str, Any]) -> pd.DataFrame:
    return pd.read_csv(run_path(params, "results", "jnd_quality.csv"))


def figure_rd(params: dict[str, Any]):
    """Fig. 2, written to figures/fig2_rd_curves.{png,pdf}; returns the PNG for display."""
    from .report import figures

    rd = rd_table(params)
    metrics = QUALITY_METRICS + (("jod",) if replicates.has_jod(rd) else ())
    paths = figures.plot_rd_curves(rd, run_path(params, "figures", "fig2_rd_curves"), prov(params),
                                   families=params["metrics"], metrics=metrics)
    return _png(paths[0])


# ---------------------------------------------------------------- 04 BD-rate
def proposed_methods(params: dict[str, Any]) -> list[str]:
    """Every trained loss but the fine-tuned baseline (a control, not a proposal)."""
    return [m for m in params["losses"] if m != CONTROL]


def bd_rate_tables(params: dict[str, Any]) -> pd.DataFrame:
    """All BD-rates (both anchors, cubic and PCHIP, both aggregates; over seeds when
    replicated) and Table I against each anchor, as CSV, Markdown and LaTeX."""
    from .report import tables

    rd = rd_table(params)
    proposed = proposed_methods(params) + ([CONTROL] if CONTROL in params["losses"] else [])
    metrics = QUALITY_METRICS + (("jod",) if replicates.has_jod(rd) else ())  # JOD rows: ours, labelled so
    bd = replicates.bd_rate_for(rd, proposed, CONTROLS, params["metrics"], metrics, n_boot=params["bootstrap"],
                                seed=params["seed"], workers=os.cpu_count() or 1)
    floor = replicates.noise_floor_for(rd, params["metrics"])
    if floor is not None:
        write_json(run_path(params, "results", "noise_floor.json"), floor)
    bd.to_csv(run_path(params, "results", "bd_rate.csv"), index=False)
    tables.write_tables(bd, None, run_path(params, "figures"), prov(params))
    return bd


def table_markdown(params: dict[str, Any], name: str) -> str:
    path = run_path(params, "figures", f"{name}.md")
    return path.read_text() if path.exists() else f"*{name}: not written (see the cells above)*"


# ---------------------------------------------------------------- 05 BS_JND
def bs_jnd_tables(params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image BS_JND and its summary against both baselines (in JOD too when computed);
    Table II against the pretrained baseline (the paper's) and the fine-tuned one (the control)."""
    from .report import tables

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
    from .report import figures

    jq = jnd_quality(params)
    image = image or str(jq["image"].iloc[0])
    family = params["metrics"][0]
    metric = METRIC_OF[family]
    q = float(jq.set_index(jq["image"].astype(str)).loc[image, metric])
    paths = figures.plot_image_rd(replicates.seed_mean(rd_table(params)), image, q,
                                  run_path(params, "figures", "fig5_bs_jnd_example"), prov(params),
                                  methods=shown_methods(params), family=family, metric=metric)
    return _png(paths[0])


# ---------------------------------------------------------------- 06 visual comparison
def reconstruct_test_set(params: dict[str, Any], progress: bool = True):
    """Every learned model's reconstruction of every test image, saved as PNG under
    recon/ (skipped when present: 03 keeps them), and a widgets.Gallery over them."""
    from .evaluation import evaluate
    from .report import widgets

    refs = {ref.stem: ref for ref, _ in test_pairs(params)}
    evaluate.decode_all(model_jobs(params), refs, lambda job: recon_path(params, job), progress=progress)
    return widgets.gallery_from_folder(run_path(params, "recon"), replicates.first_seed_rows(rd_table(params)),
                                       {k: str(v) for k, v in refs.items()})


def evaluate_kodak(params: dict[str, Any], progress: bool = False) -> pd.DataFrame | None:
    """With ``kodak_root`` (the paper's image for Figs. 3-4): its first image coded by every
    model once, into results/rd_kodak.csv (resumable); None without it."""
    from .data import kodak
    from .evaluation import evaluate

    if not params.get("kodak_root"):
        return None
    return evaluate.evaluate_all(model_jobs(params), [kodak.first_image(params["kodak_root"])],
                                 run_path(params, "results", "rd_kodak.csv"), progress=progress)


def visual_source(params: dict[str, Any]) -> tuple[Path, pd.DataFrame]:
    """The image of Figs. 3-4 and the RD rows to pick qualities from: the first Kodak image
    and results/rd_kodak.csv (``evaluate_kodak``) with ``kodak_root``, else the first test image."""
    from .data import kodak
    from .evaluation import evaluate

    if not params.get("kodak_root"):
        return test_pairs(params)[0][0], replicates.first_seed_rows(rd_table(params))
    table = run_path(params, "results", "rd_kodak.csv")
    if not table.is_file():
        raise FileNotFoundError(f"{table.name} is missing: run pipeline.evaluate_kodak(params) first")
    return kodak.first_image(params["kodak_root"]), evaluate.read_table(table)


def figure_visual(params: dict[str, Any], methods: list[str] | None = None,
                  target_bpp: float | None = None, crop_box: tuple[int, int, int, int] | None = None) -> list:
    """Figs. 3-4 and their static fallback PNGs (``figures.visual_figures``) on the image
    of ``visual_source``; the closest quality to ``target_bpp`` per method."""
    from .report import figures

    ref, rd = visual_source(params)
    reference = CONTROL if CONTROL in params["losses"] else PRETRAINED
    paths = figures.visual_figures(rd, ref, model_jobs(params), params["metrics"], methods or shown_methods(params),
                                   reference, run_path(params, "figures"), prov(params), target_bpp, crop_box)
    return [_png(p) for p in paths]


# ---------------------------------------------------------------- plots for 01 and 02
def plot_pair(params: dict[str, Any], index: int = 0):
    """The first test image, its JND1 image and their amplified difference."""
    from .data import pairs
    from .report import figures

    ref_path, jnd_path = test_pairs(params)[index]
    fig = figures.pair_figure(*pairs.load_pair(ref_path, jnd_path), ref_path.stem, params["labeller"], prov(params))
    return _png(figures.save_figure(fig, run_path(params, "figures", "jnd_pair_example"), formats=("png",))[0])


def training_curves_figure(params: dict[str, Any]):
    """Every run's training loss (``figures.training_curves_figure``)."""
    from .report import figures

    return figures.training_curves_figure(training_curves(params), params["metrics"], prov(params))


def plot_training_curves(params: dict[str, Any]):
    """``training_curves_figure`` written to figures/training_curves.png; returns the PNG."""
    from .report import figures

    fig = training_curves_figure(params)
    return _png(figures.save_figure(fig, run_path(params, "figures", "training_curves"), formats=("png",))[0])
