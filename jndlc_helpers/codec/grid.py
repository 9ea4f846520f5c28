"""Many runs: the grid of (loss, distortion, quality) runs and the "baseline-pretrained"
control (the init model, not fine-tuned).

Every run is a ``train.train_run`` in its own folder ``<loss>-<distortion>-q<quality>``
(``runfolder.py``); grids skip finished runs and resume unfinished ones.
"""
from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd
from torch.utils.data import Dataset

from .. import config as cfgmod
from .. import parallel, provenance
from ..files import portable_path
from ..vocab import PRETRAINED, run_name
from . import distributed, models
from .checkpoint import save_checkpoint
from .runconfig import RunConfig, identity_digest, run_labels
from .runfolder import RunFolder
from .runlog import progress_bar
from .train import train_run


def export_pretrained(run_dir: str | os.PathLike, *, distortion: str, quality: int,
                      architecture: str = "scale-hyperprior", N: int | None = None, M: int | None = None,
                      init: str | os.PathLike = "zoo", progress: bool = True, overwrite: bool = False) -> Path:
    """The "baseline-pretrained" control: the init model, not fine-tuned, as a checkpoint
    (meta method="baseline-pretrained", steps=0) with config.json and done.json."""
    folder = RunFolder(run_dir)
    identity = {"method": PRETRAINED, "metric": distortion, "quality": quality, "architecture": architecture,
                "N": N, "M": M, "init": portable_path(init, start=folder.path),
                "lambda": cfgmod.lambda_for(distortion, quality)}
    digest = identity_digest(identity)
    if not overwrite and folder.is_finished(identity, digest):
        return folder.checkpoint
    model, info = models.build_model_with_info(architecture, quality, distortion, N, M, pretrained=init,
                                               progress=progress)
    meta = {"method": PRETRAINED, "loss": None, "architecture": architecture,
            **models.class_meta(architecture), "N": info["N"], "M": info["M"],
            "metric": distortion, "quality": quality, "lambda": identity["lambda"], "init": info, "steps": 0,
            "epoch": 0, "complete": True, "config_digest": digest,
            "labels": run_labels({"loss": PRETRAINED, "architecture": architecture}, info),
            "git_commit": provenance.git_commit(), "versions": provenance.versions()}
    folder.write_config(identity, meta, 0, {"device": "cpu", "world_size": 1}, None)
    save_checkpoint(folder.checkpoint, model, step=0, epoch=0, meta=meta)
    folder.write_done(PRETRAINED, identity, digest, 0)
    return folder.checkpoint


def run_grid(runs_dir: str | os.PathLike, losses: Iterable[str], distortions: Iterable[str],
             qualities: Iterable[int], base: RunConfig, *, dataset: Dataset | None = None, workers: int = 1,
             on_done: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Every (loss, distortion, quality) run of ``base`` (``RunConfig.for_run``) into
    ``runs_dir/<loss>-<distortion>-q<quality>``; finished runs are skipped, unfinished ones
    resume. ``losses`` may include "baseline-pretrained" (``export_pretrained``).
    ``workers`` > 1 trains that many runs at once in processes that share the cores
    out (``parallel.py``; each run is seeded alone, so only the threads' summation
    order differs). ``on_done(name)`` is called as each run finishes.
    Returns {run name: checkpoint path}."""
    jobs = [(loss, d, q) for d in distortions for q in qualities for loss in losses]
    # Under torchrun: one process group for the whole grid, every rank on every run in turn.
    rank, world, _, owns_group = distributed.setup(base.device)
    workers = 1 if world > 1 else workers
    quiet = base.replace(progress=base.progress and workers <= 1 and rank == 0)
    one = partial(_grid_job, Path(runs_dir), base=quiet, dataset=dataset)
    out: dict[str, Path] = {}
    bar = progress_bar(len(jobs), 0, "runs", enabled=base.progress and rank == 0)
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


def _grid_job(runs_dir: Path, job: tuple[str, str, int], base: RunConfig, dataset: Dataset | None) -> Path:
    """One run of ``run_grid``: the pretrained control exported, or a run trained."""
    loss, distortion, q = job
    folder = runs_dir / run_name(loss, distortion, q)
    if loss == PRETRAINED:
        rank, world = distributed.rank_world()
        with distributed.rank0_first(rank, world):  # rank 0 writes it; the others wait, then read its path
            if rank == 0:
                export_pretrained(folder, distortion=distortion, quality=q, architecture=base.architecture,
                                  N=base.N, M=base.M, init=base.init, progress=base.progress)
        return RunFolder(folder).checkpoint
    return train_run(folder, base.for_run(loss, distortion, q), dataset=dataset)


def models_table(paths: dict[str, Path], models_dir: Path, methods: Iterable[str], distortions: Iterable[str],
                 qualities: Iterable[int]) -> pd.DataFrame:
    """One row per model of a grid: method, family, quality, lambda and its checkpoint
    relative to ``models_dir`` (no machine paths)."""
    root = Path(models_dir).resolve()
    return pd.DataFrame([dict(method=m, family=d, quality=q, lmbda=cfgmod.lambda_for(d, q),
                              checkpoint=str(Path(paths[run_name(m, d, q)]).resolve().relative_to(root)))
                         for d in distortions for q in qualities for m in methods])


def progress_line(k: int, n: int, name: str, elapsed: float, last_record: dict[str, Any]) -> str:
    """'[k/n] name: loss L, 12 s so far, about 30 s left' for a finished training run."""
    loss = f" loss {last_record.get('loss', float('nan')):.4g}," if last_record else ""
    left = elapsed / k * (n - k)
    return f"[{k}/{n}] {name}:{loss} {elapsed:.0f} s so far, about {left:.0f} s left"


def reporter(n: int, where: Callable[[Any], tuple[str, Path]]) -> Callable[[Any], None]:
    """An ``on_done`` callback that prints a ``progress_line`` per finished run of ``n``
    (``where(job)``: the run's name and folder)."""
    start, finished = time.perf_counter(), []

    def report(job: Any) -> None:
        finished.append(job)
        name, folder = where(job)
        print(progress_line(len(finished), n, name, time.perf_counter() - start, RunFolder(folder).last_record()),
              flush=True)

    return report
