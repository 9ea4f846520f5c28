"""Many runs: the grid of (loss, metric, quality) runs, the "baseline-pretrained"
control (the init model, not fine-tuned) and our own base models (``pretrain``).

Every run is a ``train.train_run`` in its own folder ``<loss>-<metric>-q<quality>``;
grids skip finished runs and resume unfinished ones.
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from functools import partial
from typing import Any, Callable, Iterable, Mapping

import torch

from .. import config as cfgmod
from .. import parallel
from ..files import params_digest, portable_path, write_json
from . import distributed, models
from .checkpoint import CHECKPOINT_NAME, save_checkpoint
from .train import (BUDGET_KEYS, DONE_NAME, git_commit, is_finished, progress_bar, run_labels, run_name,
                    train_run, versions, write_config)

PRETRAINED_METHOD = "baseline-pretrained"


def export_pretrained(run_dir: str | os.PathLike, *, metric: str, quality: int,
                      architecture: str = "scale-hyperprior", N: int | None = None, M: int | None = None,
                      init: str | os.PathLike = "zoo", progress: bool = True, overwrite: bool = False,
                      **_ignored: Any) -> Path:
    """The "baseline-pretrained" control: the init model, not fine-tuned, as a checkpoint
    (meta method="baseline-pretrained", steps=0) with config.json and done.json."""
    run_dir = Path(run_dir)
    cfg = {"method": PRETRAINED_METHOD, "metric": metric, "quality": quality, "architecture": architecture,
           "N": N, "M": M, "init": portable_path(init, start=run_dir), "lambda": cfgmod.lambda_for(metric, quality)}
    # The budget is not part of a run's identity: rerun with a larger one to extend it.
    digest = params_digest({k: v for k, v in cfg.items() if k not in BUDGET_KEYS})
    ckpt_path = run_dir / CHECKPOINT_NAME
    if not overwrite and is_finished(run_dir, cfg, digest):
        return ckpt_path
    model, info = models.build_model_with_info(architecture, quality, metric, N, M, pretrained=init,
                                               progress=progress)
    meta = {"method": PRETRAINED_METHOD, "loss": None, "architecture": architecture,
            "compressai_arch": models.COMPRESSAI_ARCH[architecture], "N": info["N"], "M": info["M"],
            "metric": metric, "quality": quality, "lambda": cfg["lambda"], "init": info, "steps": 0,
            "epoch": 0, "complete": True, "config_digest": digest,
            "labels": run_labels({"loss": PRETRAINED_METHOD, "architecture": architecture}, info),
            "git_commit": git_commit(), "versions": versions()}
    write_config(run_dir, cfg, meta, 0, torch.device("cpu"), 1, None)
    save_checkpoint(ckpt_path, model, step=0, epoch=0, meta=meta)
    write_json(run_dir / DONE_NAME, {"run": run_dir.name, "method": PRETRAINED_METHOD, "config_digest": digest,
                                     "config": cfg, "steps": 0, "checkpoint": CHECKPOINT_NAME,
                                     "finished": _dt.datetime.now().isoformat(timespec="seconds")})
    return ckpt_path


def run_grid(runs_dir: str | os.PathLike, losses: Iterable[str], metrics: Iterable[str],
             qualities: Iterable[int], *, msssim_patch_size: int = 192, progress: bool = True,
             workers: int = 1, on_done: Callable[[str], None] | None = None, **cfg: Any) -> dict[str, Path]:
    """Every (loss, metric, quality) run into ``runs_dir/<loss>-<metric>-q<quality>``;
    finished runs are skipped, unfinished ones resume. ``losses`` may include
    "baseline-pretrained" (``export_pretrained``). MS-SSIM runs use patches of at least
    ``msssim_patch_size`` px (5 scales need > 160 px); the config records the size used.
    ``workers`` > 1 trains that many runs at once in processes that share the cores
    out (``parallel.py``; each run is seeded alone, so only the threads' summation
    order differs). ``on_done(name)`` is called as each run finishes.
    Returns {run name: checkpoint path}."""
    jobs = [(loss, metric, q) for metric in metrics for q in qualities for loss in losses]
    # Under torchrun: one process group for the whole grid, every rank on every run in turn.
    rank, world, _, owns_group = distributed.setup(cfg.get("device", "auto"))
    workers = 1 if world > 1 else workers
    one = partial(_grid_job, Path(runs_dir), msssim_patch_size=msssim_patch_size,
                  progress=progress and workers <= 1 and rank == 0, cfg=cfg)
    out: dict[str, Path] = {}
    bar = progress_bar(len(jobs), 0, "runs", enabled=progress and rank == 0)
    try:
        for i, path in parallel.imap(one, jobs, workers):
            name = run_name(*jobs[i])
            out[name] = path
            bar.set_description(name)
            bar.update(1)
            if on_done and rank == 0:
                on_done(name)
    finally:
        bar.close()
        distributed.close(owns_group)
    return {run_name(*job): out[run_name(*job)] for job in jobs}


def _grid_job(runs_dir: Path, job: tuple[str, str, int], msssim_patch_size: int, progress: bool,
              cfg: dict[str, Any]) -> Path:
    """One run of ``run_grid``: the pretrained control exported, or a run trained."""
    loss, metric, q = job
    name = run_name(loss, metric, q)
    if loss == PRETRAINED_METHOD:
        rank, world = distributed.rank_world()
        with distributed.rank0_first(rank, world):  # rank 0 writes it; the others wait, then read its path
            if rank == 0:
                export_pretrained(runs_dir / name, metric=metric, quality=q,
                                  architecture=cfg.get("architecture", "scale-hyperprior"),
                                  N=cfg.get("N"), M=cfg.get("M"), init=cfg.get("init", "zoo"), progress=progress)
        return runs_dir / name / CHECKPOINT_NAME
    run_cfg = dict(cfg)
    if metric == "ms-ssim" and run_cfg.get("dataset") is None:
        run_cfg["patch_size"] = max(run_cfg.get("patch_size", 256), msssim_patch_size)
    return train_run(runs_dir / name, loss=loss, metric=metric, quality=q, progress=progress, **run_cfg)


def pretrain(out_dir: str | os.PathLike, metrics: Iterable[str], qualities: Iterable[int],
             max_steps: int, warm_steps: int | Mapping[int, int] | None = None, anchor_quality: int | None = None,
             warm_start: bool = True, warm_lr: float | None = None, **cfg: Any) -> dict[str, Path]:
    """Our own pretrained base models for the small architecture: the baseline per
    (metric, quality) into ``out_dir/baseline-<metric>-q<quality>/``, which
    ``models.build_model(..., pretrained=out_dir)`` loads. Resumable: rerun to continue.

    With ``warm_start`` only one model starts from scratch, for ``max_steps``: MSE at
    ``anchor_quality`` (default: the middle of ``qualities``). The other MSE models
    start in a chain from it, each from its neighbour on the anchor's side (1 <- 3 <- 5
    -> 6: one lambda step at a time, so a short run reaches the new rate), and each
    MS-SSIM model from the MSE model of its quality, for ``warm_steps`` (default
    ``max_steps // 4``; or {quality: steps}) at ``warm_lr`` (default: ``lr``). A warm start whose source is not
    finished is an error (not a silent run from scratch): train the source first, or
    pass ``warm_start=False``. Each run's meta records where it started."""
    if str(cfg.pop("init", "scratch")) != "scratch":
        raise ValueError("pretrain chooses its own init; do not pass init")
    qualities = list(qualities)
    anchor = anchor_quality if anchor_quality is not None else qualities[len(qualities) // 2]
    warm_steps = warm_steps or max(max_steps // 4, 1)

    def warm_steps_at(q: int) -> int:
        if not isinstance(warm_steps, Mapping):
            return int(warm_steps)
        steps = {int(k): v for k, v in warm_steps.items()}  # JSON overrides give text keys
        if q not in steps:
            raise KeyError(f"warm_steps has no entry for quality {q}: {dict(warm_steps)}")
        return int(steps[q])

    def finished(metric: str, q: int) -> Path | None:
        run = Path(out_dir) / run_name("baseline", metric, q)
        return run / CHECKPOINT_NAME if (run / DONE_NAME).is_file() else None

    def neighbour(q: int) -> int:
        """The quality an MSE model starts from: the next one toward the anchor."""
        toward = [p for p in {*qualities, anchor} if anchor <= p < q or q < p <= anchor]
        return min(toward, key=lambda p: abs(p - q))

    jobs = [("mse", anchor)] if "mse" in metrics and anchor in qualities else []
    jobs += [("mse", q) for q in sorted(qualities, key=lambda q: abs(q - anchor)) if "mse" in metrics and q != anchor]
    jobs += [(m, q) for m in metrics if m != "mse" for q in qualities]
    out: dict[str, Path] = {}
    for metric, q in jobs:
        source = None
        if warm_start and (metric, q) != ("mse", anchor):
            wanted = ("mse", q) if metric != "mse" else ("mse", neighbour(q))
            source = finished(*wanted)
            if source is None:
                raise FileNotFoundError(
                    f"{run_name('baseline', metric, q)} starts from {run_name('baseline', *wanted)}, which is not "
                    f"finished in {out_dir}: train it first (or pass warm_start=False)")
        init, steps = (str(source), warm_steps_at(q)) if source else ("scratch", max_steps)
        run_cfg = dict(cfg)
        if source and warm_lr is not None:
            run_cfg["lr"] = warm_lr
        out.update(run_grid(out_dir, ["baseline"], [metric], [q], init=init, max_steps=steps, **run_cfg))
    return out


def pretrain_recipe(recipe: dict[str, Any], data: str | os.PathLike | None = None,
                    out: str | os.PathLike | None = None, device: str = "auto",
                    progress: bool = True) -> dict[str, Path]:
    """Train the base models of a ``config.PRETRAIN`` recipe on the folder ``data``
    (default: the recipe's corpus) into ``out``: MSE first, then MS-SSIM."""
    out = out or recipe["out"]
    data = data or recipe["data"]
    common = dict(unlabelled_root=data, architecture=recipe["architecture"], N=recipe["N"], M=recipe["M"],
                  anchor_quality=recipe["anchor_quality"], lr=recipe["lr"], warm_lr=recipe["warm_lr"],
                  lr_schedule=recipe["lr_schedule"], checkpoint_every=recipe["checkpoint_every"],
                  log_every=recipe["log_every"], compile=recipe.get("compile", False),
                  seed=recipe["seed"], device=device, progress=progress)
    done = pretrain(out, ["mse"], recipe["qualities"], max_steps=recipe["steps"], warm_steps=recipe["warm_steps"],
                    batch_size=recipe["batch_size"], patch_size=recipe["patch_size"], **common)
    others = [m for m in recipe["metrics"] if m != "mse"]
    if others:
        done.update(pretrain(out, others, recipe["qualities"], max_steps=recipe["steps"],
                             warm_steps=recipe["msssim_steps"], batch_size=recipe["msssim_batch_size"],
                             patch_size=recipe["patch_size"], msssim_patch_size=recipe["msssim_patch_size"],
                             **common))
    return done


def profile_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """train_run / run_grid keyword arguments from a ``config.profile(...)`` dict."""
    return {
        "data_root": params.get("data_root"), "unlabelled_root": params.get("unlabelled_root"),
        "architecture": params["architecture"], "N": params.get("model_N"), "M": params.get("model_M"),
        "init": params["pretrained"], "features": params["feature_extractor"],
        "fwl_weight": params["fwl_weight"], "epochs": params.get("epochs"), "max_steps": params.get("max_steps"),
        "batch_size": params["batch_size"], "patch_size": params["patch_size"], "lr": params["lr"],
        "aux_lr": params["aux_lr"], "clip_max_norm": params["clip_max_norm"],
        "num_workers": params.get("num_workers", 0), "device": params.get("device", "auto"),
        "seed": params.get("seed", 0),
    }
