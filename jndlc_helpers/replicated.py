"""A replicated grid (several training seeds per run) that archives each run as it finishes.

The standard profile trains every (seed, loss, distortion, quality) run for hours, over
more than one session. Each run is evaluated on the test images as soon as it is
trained, and its per-image RD rows and its logs (``config.json``, ``log.jsonl``,
``done.json``, an FWL run's ``fwl_calibration.json``: not the model) are added to a
results store, a committed folder:

    <store>/rd.csv                                       every archived run's RD rows (with seed)
    <store>/logs/seed<k>/<loss>-<distortion>-q<quality>/ its config, log and done files
    <store>/iwl_identity.json                            IWL's weights against its control's

A run with rows in the store is never trained or evaluated again; the tables and
figures regenerate from the store without any model. Runs go seed by seed, so an
interrupted grid has complete single-seed tables first.
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import pandas as pd

from . import config
from .files import atomic_write, read_json, write_json
from .vocab import ANCHOR_FAMILY, CONTROL, PRETRAINED, run_name

if TYPE_CHECKING:
    from .codec.runconfig import RunConfig

RUN_FILES = ("config.json", "log.jsonl", "done.json", "fwl_calibration.json")


@dataclass(frozen=True)
class Job:
    """One run of a replicated grid."""
    seed: int
    loss: str
    distortion: str
    quality: int

    @property
    def name(self) -> str:
        return run_name(self.loss, self.distortion, self.quality)

    @property
    def folder(self) -> str:
        return f"seed{self.seed}/{self.name}"


def seeds(params: dict[str, Any]) -> list[int]:
    """The profile's training seeds (``seeds``, else ``[seed]``)."""
    return [int(s) for s in (params.get("seeds") or [params["seed"]])]


def jobs(params: dict[str, Any]) -> list[Job]:
    """Every run, seed by seed: the pretrained control once (first seed), each loss per
    seed but ``single_seed_losses`` (first seed only)."""
    first, out = seeds(params)[0], []
    for s in seeds(params):
        losses = ([PRETRAINED] if s == first else []) + [
            loss for loss in params["losses"] if s == first or loss not in params.get("single_seed_losses", [])]
        out += [Job(s, loss, m, q) for m in params["metrics"] for q in params["qualities"] for loss in losses]
    return out


class Store:
    """The committed results of a replicated grid (see the module docstring)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.rd_path = self.root / "rd.csv"

    def rows(self) -> pd.DataFrame:
        from .evaluation import evaluate

        return evaluate.read_table(self.rd_path) if self.rd_path.is_file() else pd.DataFrame(columns=evaluate.COLUMNS)

    def done(self, n_images: int) -> set[Job]:
        """Jobs whose rows cover ``n_images`` test images."""
        rd = self.rows()
        counts = rd.groupby(["seed", "method", "family", "quality"])["image"].nunique()
        return {Job(int(s), str(m), str(f), int(q)) for (s, m, f, q), n in counts.items() if n >= n_images}

    def add(self, job: Job, rows: pd.DataFrame, run_dir: Path) -> None:
        """Archive one evaluated run: its rows replace any earlier ones, then its files."""
        from .evaluation import evaluate

        rd = self.rows()
        old = ((rd["seed"] == job.seed) & (rd["method"] == job.loss) & (rd["family"] == job.distortion)
               & (rd["quality"] == job.quality))
        table = pd.concat([rd[~old], rows[evaluate.COLUMNS]], ignore_index=True) if len(rd) else rows[evaluate.COLUMNS]
        table = table.sort_values(["seed", "family", "method", "quality", "image"], kind="stable")
        self.root.mkdir(parents=True, exist_ok=True)
        evaluate.write_table(self.rd_path, table)
        dest = self.root / "logs" / job.folder
        dest.mkdir(parents=True, exist_ok=True)
        for name in RUN_FILES:
            if (run_dir / name).is_file():
                atomic_write(dest / name, lambda p, src=run_dir / name: shutil.copyfile(src, p))

    def copy_rows(self, rd_path: Path) -> None:
        """Write the store's rows into an RD table at ``rd_path``, keeping the classical
        anchors' rows it holds (they are coded in the run, not stored)."""
        from .evaluation import evaluate

        rd_path.parent.mkdir(parents=True, exist_ok=True)
        kept = evaluate.read_table(rd_path) if rd_path.is_file() else self.rows().iloc[:0]
        evaluate.write_table(rd_path, pd.concat([kept[kept["family"] == ANCHOR_FAMILY], self.rows()],
                                                ignore_index=True))

    def run_folders(self) -> list[Path]:
        """The folder of every archived run that has a log."""
        return [log.parent for log in sorted((self.root / "logs").glob("seed*/*/log.jsonl"))]


def run_dir(params: dict[str, Any], job: Job) -> Path:
    return Path(params["run_dir"]) / "models" / job.folder


def train_and_evaluate(job: Job, params: dict[str, Any], base: RunConfig, images: list[str]) -> pd.DataFrame:
    """Train (or resume, or export) one run of ``base`` with ``codec.grid.run_grid``'s
    rules, with the job's seed, then its per-image RD rows on ``images``."""
    from .codec import grid
    from .evaluation import evaluate

    folder = run_dir(params, job)
    ckpt = grid.run_grid(folder.parent, [job.loss], [job.distortion], [job.quality],
                         base.replace(seed=job.seed, progress=False))[job.name]
    return evaluate.evaluate_all([dict(method=job.loss, family=job.distortion, quality=job.quality, seed=job.seed,
                                       lmbda=config.lambda_for(job.distortion, job.quality), checkpoint=str(ckpt))],
                                 images, folder / "rd.csv", jod=params["jod"], progress=False)


def pending(params: dict[str, Any], store: Store, n_images: int) -> list[Job]:
    """The jobs of ``jobs(params)`` whose rows the store does not hold yet, in order."""
    done = store.done(n_images)
    return [j for j in jobs(params) if j not in done]


def run_grid(params: dict[str, Any], base: RunConfig, images: list[str], store: Store, workers: int = 1,
             on_done: Callable[[Job], None] | None = None) -> list[Job]:
    """Every job not yet in ``store`` (``pending``) as a run of ``base``, ``workers`` at a
    time, each archived as it finishes; then IWL's identity with its control checked.
    Returns the jobs run now."""
    from . import parallel

    todo = pending(params, store, len(images))
    one = partial(train_and_evaluate, params=params, base=base, images=images)
    for i, rows in parallel.imap(one, todo, workers):
        store.add(todo[i], rows, run_dir(params, todo[i]))
        if on_done:
            on_done(todo[i])
    check_iwl_identity(params, store)
    return todo


def train(params: dict[str, Any], base: RunConfig, store: Store, images: list[str], workers: int = 1) -> pd.DataFrame:
    """``run_grid`` with a line per finished run; one row per job of ``jobs(params)``: its
    seed, loss, family, quality and whether the store holds it."""
    from .codec import grid

    todo = pending(params, store, len(images))
    print(f"{len(jobs(params)) - len(todo)} runs already in the store, {len(todo)} to train", flush=True)
    run_grid(params, base, images, store, workers=workers,
             on_done=grid.reporter(len(todo), lambda job: (job.folder, run_dir(params, job))))
    done = store.done(len(images))
    return pd.DataFrame([dict(seed=j.seed, method=j.loss, family=j.distortion, quality=j.quality, stored=j in done)
                         for j in jobs(params)])


def first_seed_models(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluation jobs of the first seed's models whose checkpoints are on this machine
    (the store keeps no model: runs archived in an earlier session are not decoded again)."""
    first = seeds(params)[0]
    return [dict(method=j.loss, family=j.distortion, quality=j.quality, seed=j.seed,
                 lmbda=config.lambda_for(j.distortion, j.quality), checkpoint=str(ck))
            for j in jobs(params) if j.seed == first
            for ck in [run_dir(params, j) / "checkpoint.pth.tar"] if ck.is_file()]


def check_iwl_identity(params: dict[str, Any], store: Store) -> dict[str, Any]:
    """Whether each IWL model has exactly its control's weights (eq. 7 shifts the loss by a
    constant), for the pairs whose checkpoints are both here; kept in the store."""
    import torch

    from .codec.checkpoint import load_checkpoint_dict

    path = store.root / "iwl_identity.json"
    found = read_json(path) if path.is_file() else {}
    for job in jobs(params):
        if job.loss != "iwl":
            continue
        a = run_dir(params, job) / "checkpoint.pth.tar"
        b = run_dir(params, Job(job.seed, CONTROL, job.distortion, job.quality)) / "checkpoint.pth.tar"
        if a.is_file() and b.is_file():
            wa, wb = load_checkpoint_dict(a)["state_dict"], load_checkpoint_dict(b)["state_dict"]
            found[job.folder] = bool(wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa))
    if found:
        write_json(path, dict(sorted(found.items())))
    return found
