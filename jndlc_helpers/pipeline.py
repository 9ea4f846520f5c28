"""The reproduction's steps, one function per notebook, each taking the run's params.

A notebook is narrative around one of these calls; tests call them directly. Every
step reads and writes inside ``params["run_dir"]``:

    models/<method>-<metric>-q<quality>/checkpoint.pth.tar   02
    results/rd.csv, results/jnd_quality.csv, results/json/   03
    results/bd_rate.csv                                       04
    results/bs_jnd_per_image.csv, results/bs_jnd.csv          05
    recon/<family>/<method>/q<quality>/<image>.png            06
    figures/                                                  02-06
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from . import config, parallel
from .files import write_json

BASELINE_PRETRAINED = "baseline-pretrained"


def run_path(params: dict[str, Any], *parts: str) -> Path:
    return Path(params["run_dir"]).joinpath(*parts)


def prov(params: dict[str, Any]) -> dict[str, Any]:
    """The provenance of the run's outputs, naming the JOD display model when JOD is computed."""
    from .reproduce import display_path

    shown = {k: display_path(params.get(k), params.get("run_dir")) if params.get(k) else params.get(k)
             for k in ("data_root", "unlabelled_root", "pretrained")}
    out = config.provenance({**params, **shown})  # no machine paths in tables and captions
    if params.get("jod"):
        from .evaluation.evaluate import JOD_DISPLAY

        out["jod_display"] = JOD_DISPLAY
        out["jod_threshold"] = jod_threshold(params)
    return out


def jod_threshold(params: dict[str, Any]) -> float:
    """The JOD that defines a proxy JND label (10 - tau): where BS_JND reads JOD curves."""
    return 10.0 - float(params["jnd_tau"])


def is_replicated(rd: pd.DataFrame) -> bool:
    """Whether the RD table holds more than one training seed of some model."""
    return "seed" in rd and rd["seed"].nunique() > 1


def seed_mean(rd: pd.DataFrame) -> pd.DataFrame:
    """The RD table with each (image, method, family, quality) averaged over its seeds."""
    keys = ["image", "method", "family", "quality"]
    return rd.groupby(keys, as_index=False).mean(numeric_only=True).assign(seed=0)


def has_jod(rd: pd.DataFrame) -> bool:
    """Whether the RD table holds JOD values (``jod`` knob on)."""
    return "jod" in rd and bool(rd["jod"].notna().any())


def parallel_runs(params: dict[str, Any]) -> int:
    """How many training runs or evaluations go side by side (``parallel.auto_workers``)."""
    return parallel.auto_workers(params.get("parallel_runs"), params.get("device", "auto"))


# ---------------------------------------------------------------- 01 data
def prepare_data(params: dict[str, Any], progress: bool = True) -> Path:
    """Build the embedded (or smoke) dataset when the profile uses one; check the
    layout of a user's dataset otherwise, decode every image once and refuse labels
    whose search failed. Returns the data root."""
    from .data import embedded, labellers, pairs

    given, build = params.get("data_root"), params.get("build_data")
    if build == "smoke":
        root = embedded.build_smoke(Path(given or "data/smoke"))
    elif build == "embedded":
        root = embedded.build_embedded(Path(given or "data/embedded"), labeller=params["labeller"],
                                       tau=params["jnd_tau"], progress=progress)
    elif not given or not Path(given).is_dir():
        raise FileNotFoundError(
            f"data_root={given!r} is not a folder: convert VideoSet (or another JND "
            "set) with jndlc_helpers.data.convert first and pass -p data_root=PATH"
        )
    else:
        root = Path(given)
    found = []
    for split in ("train", "test"):
        found += pairs.find_pairs(root / split)  # raises naming any bad file
    check_decodes([p for pair in found for p in pair], progress=progress, root=root)
    labellers.check_labels(root / "labels.csv")
    return root


def check_decodes(paths: list[Path], progress: bool = True, root: Path | None = None) -> None:
    """Decode every image once; raise ``ValueError`` naming each one that fails
    (a truncated PNG would otherwise surface hours later, in training)."""
    from PIL import Image
    from tqdm.auto import tqdm

    bad = []
    for path in tqdm(paths, desc="decode check", unit="img", disable=not progress):
        try:
            with Image.open(path) as im:
                im.load()
        except (OSError, ValueError, SyntaxError) as e:  # what Pillow raises on broken files
            bad.append(f"{_rel(path, root)}: {e}")
    if bad:
        raise ValueError(f"{len(bad)} of {len(paths)} image(s) do not decode: " + "; ".join(bad))


def _rel(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` when inside it (no machine paths in messages)."""
    try:
        return str(Path(path).relative_to(root)) if root else str(path)
    except ValueError:
        return str(path)


def test_pairs(params: dict[str, Any]) -> list[tuple[Path, Path]]:
    from .data import pairs

    return pairs.find_pairs(Path(params["data_root"]) / "test")


# ---------------------------------------------------------------- 02 training
def results_store(params: dict[str, Any]):
    """The committed store of a replicated grid (``replicated.Store``), or None."""
    from . import replicated
    from .reproduce import resolve_path

    return replicated.Store(resolve_path(params["results_store"])) if params.get("results_store") else None


def train_all(params: dict[str, Any], progress: bool = True) -> pd.DataFrame:
    """The pretrained-baseline control, then every (loss, distortion, quality) run of the
    profile. Finished runs are skipped; interrupted ones resume. Returns one row per model.
    With a ``results_store`` (replicated seeds): ``train_replicated``."""
    from .codec import grid, pretrain
    from .codec.runconfig import RunConfig

    workers = parallel_runs(params)
    base = RunConfig.from_profile(params, init=pretrain.ensure_base_models(params, progress),
                                  progress=progress and workers == 1)
    if params.get("results_store"):
        return train_replicated(params, base)
    models, methods = run_path(params, "models"), [BASELINE_PRETRAINED, *params["losses"]]
    n = len(methods) * len(params["metrics"]) * len(params["qualities"])
    paths = grid.run_grid(models, methods, params["metrics"], params["qualities"], base, workers=workers,
                          on_done=grid.reporter(n, lambda name: (name, models / name)))
    table = grid.models_table(paths, models, methods, params["metrics"], params["qualities"])
    table.to_csv(models / "models.csv", index=False)
    return table


def train_replicated(params: dict[str, Any], base) -> pd.DataFrame:
    """Every (seed, loss, distortion, quality) run of ``base`` not yet in the results
    store: trained, evaluated on the test images and archived as it finishes
    (``replicated.run_grid``). Returns one row per job: its seed, loss, family, quality and
    whether it is stored."""
    from . import replicated
    from .codec import grid

    store, images = results_store(params), [str(ref) for ref, _ in test_pairs(params)]
    todo = replicated.pending(params, store, len(images))
    print(f"{len(replicated.jobs(params)) - len(todo)} runs already in the store, {len(todo)} to train", flush=True)
    replicated.run_grid(params, base, images, store, workers=parallel_runs(params),
                        on_done=grid.reporter(len(todo), lambda job: (job.folder, replicated.run_dir(params, job))))
    done = store.done(len(images))
    return pd.DataFrame([dict(seed=j.seed, method=j.loss, family=j.distortion, quality=j.quality, stored=j in done)
                         for j in replicated.jobs(params)])


def training_curves(params: dict[str, Any]) -> pd.DataFrame:
    """Every run's log.jsonl stacked, with method, family, quality and seed columns (from
    the results store when there is one: it holds the runs of earlier sessions too)."""
    from .codec.runfolder import read_logs

    store = results_store(params)
    return read_logs(store.run_folders() if store else sorted(d.parent for d in run_path(params, "models").glob(
        "*/log.jsonl")))


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


def first_seed_rows(rd: pd.DataFrame) -> pd.DataFrame:
    """The RD rows of each model's first training seed (the models the figures decode)."""
    return rd[rd["seed"] == rd.groupby(["method", "family"])["seed"].transform("min")]


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
        rows = pd.concat([kept[kept["family"] == "anchor"], store.rows()], ignore_index=True)
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
    metrics = ("psnr", "ms_ssim_db", "jod") if has_jod(rd) else ("psnr", "ms_ssim_db")
    paths = figures.plot_rd_curves(rd, run_path(params, "figures", "fig2_rd_curves"), prov(params),
                                   families=params["metrics"], metrics=metrics)
    return _png(paths[0])


def _png(path: Path):
    from IPython.display import Image

    return Image(filename=str(path))


# ---------------------------------------------------------------- 04 BD-rate
def proposed_methods(params: dict[str, Any]) -> list[str]:
    """Every trained loss but the fine-tuned baseline (a control, not a proposal)."""
    return [m for m in params["losses"] if m != "baseline"]


def bd_rate_tables(params: dict[str, Any]) -> pd.DataFrame:
    """All BD-rates (both anchors, cubic and PCHIP, both aggregates) and Table I
    against each anchor, as CSV, Markdown and LaTeX."""
    from .evaluation import bdrate
    from .report import tables

    rd = rd_table(params)
    proposed = proposed_methods(params) + (["baseline"] if "baseline" in params["losses"] else [])
    metrics = bdrate.QUALITY_METRICS + (("jod",) if has_jod(rd) else ())  # JOD rows: ours, labelled so
    if is_replicated(rd):  # intervals over training seeds and test images, seeds paired
        from .evaluation import replicates

        bd = replicates.bd_rate_table_replicated(rd, proposed, [BASELINE_PRETRAINED, "baseline"], params["metrics"],
                                                 metrics, n_boot=params["bootstrap"], seed=params["seed"])
        write_json(run_path(params, "results", "noise_floor.json"),
                   replicates.noise_floor(rd, "baseline", params["metrics"]))
    else:
        bd = bdrate.bd_rate_table(rd, proposed, anchors=[BASELINE_PRETRAINED, "baseline"], metrics=metrics,
                                  families=params["metrics"], n_boot=params["bootstrap"], seed=params["seed"],
                                  workers=os.cpu_count() or 1)
    bd.to_csv(run_path(params, "results", "bd_rate.csv"), index=False)
    for anchor, name in ((BASELINE_PRETRAINED, "table1_bd_rate"), ("baseline", "table1_bd_rate_vs_finetuned")):
        if (bd["anchor"] == anchor).any():
            tables.write_table_i(bd, run_path(params, "figures", name), prov(params), anchor=anchor)
    return bd


def table_markdown(params: dict[str, Any], name: str) -> str:
    path = run_path(params, "figures", f"{name}.md")
    return path.read_text() if path.exists() else f"*{name}: not written (see the cells above)*"


# ---------------------------------------------------------------- 05 BS_JND
def bs_jnd_tables(params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-image BS_JND and its summary against both baselines; Table II against the
    pretrained baseline (the paper's) and against the fine-tuned one (the control)."""
    from .evaluation import bsjnd
    from .report import tables

    rd, jq = rd_table(params), jnd_quality(params)
    per, summary = [], []
    statistic = bsjnd.bsjnd
    if is_replicated(rd):  # per image and seed, paired by seed; intervals over seeds and images
        from .evaluation import replicates

        statistic = replicates.bsjnd_replicated
    for base in (BASELINE_PRETRAINED, "baseline"):
        if not (rd["method"] == base).any():
            continue
        proposed = [m for m in proposed_methods(params) + ["baseline"] if m != base]
        p, s = statistic(rd, jq, proposed, baseline=base, families=params["metrics"],
                         n_boot=params["bootstrap"], seed=params["seed"])
        per.append(p)
        summary.append(s)
        if has_jod(rd):  # ours: each curve read in JOD where the label lies (bsjnd.jod_targets)
            p, s = statistic(rd, bsjnd.jod_targets(jq, params["labeller"], params["jnd_tau"]), proposed,
                             baseline=base, families=params["metrics"], metric="jod", n_boot=params["bootstrap"],
                             seed=params["seed"])
            per.append(p)
            summary.append(s)
    per_image, summary_ = pd.concat(per, ignore_index=True), pd.concat(summary, ignore_index=True)
    per_image.to_csv(run_path(params, "results", "bs_jnd_per_image.csv"), index=False)
    summary_.to_csv(run_path(params, "results", "bs_jnd.csv"), index=False)
    for base, name in ((BASELINE_PRETRAINED, "table2_bs_jnd"), ("baseline", "table2_bs_jnd_vs_finetuned")):
        if (summary_["baseline"] == base).any():
            tables.write_table_ii(summary_, run_path(params, "figures", name), prov(params), baseline=base)
    return per_image, summary_


def figure_bs_jnd_example(params: dict[str, Any], image: str | None = None):
    """Fig. 5 for one test image (MSE family, PSNR), written to figures/; returns the PNG."""
    from .report import figures

    rd, jq = rd_table(params), jnd_quality(params)
    rd = seed_mean(rd) if is_replicated(rd) else rd
    image = image or str(jq["image"].iloc[0])
    family = params["metrics"][0]
    metric = "psnr" if family == "mse" else "ms_ssim_db"
    q = float(jq.set_index(jq["image"].astype(str)).loc[image, metric])
    methods = [BASELINE_PRETRAINED] + [m for m in ("baseline", "iwl", "fwl") if m in params["losses"]]
    paths = figures.plot_image_rd(rd, image, q, run_path(params, "figures", "fig5_bs_jnd_example"),
                                  prov(params), methods=methods, family=family, metric=metric)
    return _png(paths[0])


# ---------------------------------------------------------------- 06 visual comparison
def reconstruct_test_set(params: dict[str, Any], progress: bool = True):
    """Every learned model's reconstruction of every test image, saved as PNG under
    recon/ (skipped when present: 03 keeps them), and a widgets.Gallery over them."""
    from tqdm.auto import tqdm

    from .evaluation import evaluate
    from .report import widgets
    from .files import load_rgb

    refs = {ref.stem: ref for ref, _ in test_pairs(params)}
    jobs = model_jobs(params)
    cache: dict[str, Any] = {}
    for job in tqdm(jobs, desc="reconstruct", disable=not progress):
        out_dir = recon_path(params, job)
        for name, ref in refs.items():
            out = out_dir / f"{name}.png"
            if out.exists():
                continue
            if job["checkpoint"] not in cache:
                cache.clear()  # one model in memory at a time
                cache[job["checkpoint"]] = evaluate.default_loader(job["checkpoint"])
            evaluate.save_decoded(out, evaluate.reconstruct(cache[job["checkpoint"]], load_rgb(ref))["rgb"])
    return widgets.gallery_from_folder(run_path(params, "recon"), first_seed_rows(rd_table(params)),
                                       {k: str(v) for k, v in refs.items()})


def visual_source(params: dict[str, Any], progress: bool = False) -> tuple[Path, pd.DataFrame]:
    """The image shown in Figs. 3-4 and the RD rows to pick qualities from: the first
    Kodak image when ``kodak_root`` is set (the paper's choice; it is coded by every
    model once, into results/rd_kodak.csv), else the first test image."""
    from .evaluation import evaluate
    from .files import list_images

    if not params.get("kodak_root"):
        return test_pairs(params)[0][0], first_seed_rows(rd_table(params))
    kodak = list_images(params["kodak_root"])
    if not kodak:
        raise FileNotFoundError(f"kodak_root={params['kodak_root']!r} holds no images; "
                                "python -m jndlc_helpers fetch-kodak --dest DIR")
    rd = evaluate.evaluate_all(model_jobs(params), kodak[:1], run_path(params, "results", "rd_kodak.csv"),
                               progress=progress)
    return kodak[0], rd


def figure_visual(params: dict[str, Any], methods: list[str] | None = None,
                  target_bpp: float | None = None, crop_box: tuple[int, int, int, int] | None = None) -> list:
    """Figs. 3-4: per training metric, the first test image coded by each method at the
    quality closest to ``target_bpp``; also the static side-by-side fallback PNGs."""
    from .report import figures
    from .files import load_rgb

    ref, rd = visual_source(params)
    methods = methods or [BASELINE_PRETRAINED] + [m for m in ("baseline", "iwl", "fwl") if m in params["losses"]]
    shown = []
    for number, family in zip((3, 4), params["metrics"]):
        sub = rd[(rd.method == "baseline") & (rd.family == family)] if "baseline" in params["losses"] \
            else rd[(rd.method == BASELINE_PRETRAINED) & (rd.family == family)]
        target = target_bpp or float(sub.groupby("quality")["bpp"].median().median())
        jobs = [j for j in model_jobs(params) if j["family"] == family and j["method"] in methods]
        if not jobs:
            print(f"Fig. {number}: no {family} model of {methods} on this machine (a replicated grid's store "
                  "keeps no model); the published figure, if any, is left as it is")
            continue
        recs = figures.reconstruct_closest(rd, ref, jobs, target)
        title = f"{family.upper()}-trained models near {target:.3f} bpp, image {ref.stem}"
        base = run_path(params, "figures", f"fig{number}_visual_{family}")
        figures.visual_comparison(load_rgb(ref), recs, base, prov(params), crop=crop_box, title=title)
        figures.side_by_side_png(load_rgb(ref), recs, run_path(params, "figures", f"static_comparison_{family}.png"),
                                 crop=crop_box, provenance=prov(params), title=title)
        shown.append(_png(Path(str(base) + ".png")))
    return shown


# ---------------------------------------------------------------- plots for 01 and 02
def plot_pair(params: dict[str, Any], index: int = 0):
    """The first test image, its JND1 image and their amplified difference."""
    import numpy as np
    from matplotlib.figure import Figure

    from .data import pairs
    from .report import figures

    ref_path, jnd_path = test_pairs(params)[index]
    ref, jnd = pairs.load_pair(ref_path, jnd_path)
    diff = np.clip(np.abs(ref.astype(int) - jnd.astype(int)) * 8, 0, 255).astype("uint8")
    fig = Figure(figsize=(12, 4.4))
    for ax, img, title in zip(fig.subplots(1, 3), (ref, jnd, diff),
                              ("original (Ref)", f"JND1 ({params['labeller']})", "|Ref - JND1| x 8")):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.suptitle(ref_path.stem)
    figures.add_provenance(fig, prov(params))
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
