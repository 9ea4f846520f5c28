"""Training one run: ``train_run`` (grids, the pretrained control and our base models: ``grid.py``).

``train_run`` fine-tunes (or trains) one CompressAI model with one loss, and reads top
to bottom: config -> run folder -> devices -> data, model, loss, optimisers (``_build``)
-> resume (``_resume``) -> the loop (``_loop``: ``_make_loader``, ``_batches``, ``_step``, ``_log``,
``_save``) -> final checkpoint; a ``Run`` carries the state between them. Defaults follow the paper and CompressAI's
``examples/train.py``: Adam 1e-4 on the network, Adam 1e-3 on the entropy
bottleneck's ``quantiles`` (the aux loss), gradient clipping at 1.0,
ReduceLROnPlateau("min") stepped on the mean *training* loss of each epoch, of at
least ``MIN_SCHEDULER_STEPS`` steps (or of every ``scheduler_every`` steps; CompressAI's
example steps it on the test loss, we keep the test set out of training).

A run folder ``<runs_dir>/<loss>-<metric>-q<quality>/`` holds ``config.json`` (what
the run is, where and with what it ran), ``log.jsonl`` (one line per logged step),
``checkpoint.pth.tar`` (see ``checkpoint.py``; rewritten atomically every
``checkpoint_every`` steps and at the end) and ``done.json`` once finished.
A killed run resumes from its last checkpoint: model, optimisers, scheduler, step,
RNG states (bit-exact on CPU with ``num_workers=0``; with worker processes the data
order is restored but random crops may differ); a finished run with the same
config is not redone. A NaN or infinite loss (or gradient) stops the run with
``NonFiniteLossError`` before the bad step touches the weights; the last good
checkpoint stays.

The fine-tuned control (DESIGN.md) is simply ``loss="baseline"`` on the same data for
the same budget -- the control IWL must be compared with, since IWL's gradients are the
baseline's (see ``losses.py``).

Several GPUs: ``torchrun --nproc_per_node=K -m jndlc_helpers.codec.train run ...``. The
process group is initialised from the environment when WORLD_SIZE > 1; each process
reads ``batch_size / K`` images per step (the global batch stays ``batch_size``),
a DistributedSampler splits the data, and only rank 0 writes files (``distributed.py``).
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler

from .. import config as cfgmod
from .. import parallel
from . import distributed, losses, models
from .features import FEATURES
from .checkpoint import (CHECKPOINT_NAME, load_checkpoint_dict, rng_state, save_checkpoint,
                         set_rng_state)
from ..files import params_digest, portable_path, read_json, write_json, write_text

CONFIG_NAME = "config.json"
LOG_NAME = "log.jsonl"
TENSORBOARD_DIR = "tensorboard"
DONE_NAME = "done.json"
MIN_SCHEDULER_STEPS = 100
LR_SCHEDULES = ("plateau", "cosine")
COSINE_WARMUP_STEPS = 500  # at most; and at most 5% of the run
COSINE_FINAL_FRACTION = 0.01  # the cosine ends at 1% of the peak lr
BUDGET_KEYS = ("epochs", "max_steps")
PATCH_MULTIPLE = 64  # g_a (/16) then h_a (/4) in both architectures

Callback = Callable[[int, nn.Module, dict], None]
# What the command line reports as one line: bad parameters, files or folders, a run
# folder holding another run, a diverged run (its message names run and step).
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, FloatingPointError, ModuleNotFoundError)


class NonFiniteLossError(FloatingPointError):
    """The loss (or gradient) became NaN or infinite; names the run and the step."""

    def __init__(self, run_dir: Path, step: int, what: str):
        self.run_dir, self.step = Path(run_dir), step
        super().__init__(f"run {self.run_dir.name} ({self.run_dir}): {what} at step {step}; stopped "
                         f"before updating the weights, the last good checkpoint is kept "
                         f"({self.run_dir / CHECKPOINT_NAME})")


class RunConfigError(ValueError):
    """A run folder holds a run with another config; names the folder and the differences."""


def run_name(loss: str, metric: str, quality: int) -> str:
    return f"{loss}-{metric}-q{quality}"


# ============================================================================= one run


@dataclass
class Run:
    """One run while it trains: its parts, its settings, and how far it got."""
    dir: Path
    args: dict[str, Any]  # train_run's arguments (lmbda resolved)
    rank: int
    world: int
    dev: torch.device
    dataset: Dataset
    local_batch: int  # images per process and step
    drop_last: bool
    steps_per_epoch: int
    total_steps: int
    interval: int  # steps between two looks of the plateau scheduler
    model: nn.Module
    criterion: nn.Module
    optimizer: torch.optim.Optimizer
    aux_optimizer: torch.optim.Optimizer
    lr_scheduler: Any
    init_info: dict[str, Any]
    net: nn.Module | None = None  # the model as the loop calls it (DDP, compiled)
    meta: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    elapsed0: float = 0.0  # seconds trained in earlier sessions
    interval_sum: float = 0.0  # training loss summed since the scheduler last looked
    interval_n: int = 0
    last_record: dict[str, Any] = field(default_factory=dict)
    t0: float = field(default_factory=time.perf_counter)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.args["channels_last"] else torch.contiguous_format

    def seconds(self) -> float:
        """Seconds trained, this session and the earlier ones."""
        return self.elapsed0 + time.perf_counter() - self.t0


def train_run(
    run_dir: str | os.PathLike, *,
    loss: str, metric: str, quality: int, lmbda: float | None = None,
    data_root: str | os.PathLike | None = None, unlabelled_root: str | os.PathLike | None = None,
    dataset: Dataset | None = None,
    architecture: str = "scale-hyperprior", N: int | None = None, M: int | None = None,
    init: str | os.PathLike = "scratch",
    features: str = "nlpd", feature_weights: str | os.PathLike | None = None, fwl_weight: float = 0.9,
    epochs: int | None = None, max_steps: int | None = None, batch_size: int = 16, patch_size: int = 256,
    lr: float = 1e-4, aux_lr: float = 1e-3, clip_max_norm: float = 1.0,
    lr_schedule: str = "plateau", scheduler_every: int | None = None, seed: int = 0,
    device: str = "auto", amp: bool = False, channels_last: bool = False, compile: bool = False,
    num_workers: int = 0, decode_cache: str | os.PathLike | None = None,
    checkpoint_every: int = 100, log_every: int = 1, tensorboard: bool = False,
    progress: bool = True, callback: Callback | None = None, overwrite: bool = False,
) -> Path:
    """Train one model with one loss; returns the final checkpoint's path.

    Data: ``data_root`` (``root/train/{Ref,JND1}``, optionally mixed with
    ``unlabelled_root`` as in the paper's Sec. 2.4), or a ready ``dataset`` of
    (x_o, x_j) pairs. Budget: ``epochs`` or ``max_steps`` (both: whichever ends first).
    ``init``: "scratch", "zoo", a base-model directory or a checkpoint file
    (``models.build_model``'s ``pretrained``). ``lmbda`` defaults to the paper's
    lambda for (metric, quality). ``callback(step, model, record)`` runs after each step.
    ``decode_cache``: a folder where training images are decoded once and read back
    memory-mapped (large frames: a crop reads its rows, not the whole PNG).
    ``tensorboard``: also write each logged record as TensorBoard scalars under
    ``<run_dir>/tensorboard/`` (needs the optional ``tensorboard`` package).
    """
    run_dir, args = Path(run_dir), dict(locals())
    args["lmbda"] = cfgmod.lambda_for(metric, quality) if lmbda is None else float(lmbda)
    _check_args(args)
    cfg = run_config(args)
    # The budget is not part of a run's identity: rerun with a larger one to extend it.
    digest = params_digest({k: v for k, v in cfg.items() if k not in BUDGET_KEYS})
    ckpt_path = run_dir / CHECKPOINT_NAME
    if not overwrite and is_finished(run_dir, cfg, digest):
        return ckpt_path
    rank, world, dev, owns_group = distributed.setup(device)
    try:
        _start_folder(run_dir, args, rank, world)
        run = _build(run_dir, args, rank, world, dev)
        _resume(run, cfg, digest)
        run.meta = _run_meta(run, cfg, digest)
        if run.is_main:
            write_config(run_dir, cfg, run.meta, run.step, dev, world, run.steps_per_epoch,
                          channels_last=channels_last, compile=compile)
            _truncate_log(run_dir / LOG_NAME, run.step)
        run.net = distributed.wrap_ddp(run.model, dev) if world > 1 else run.model
        if compile:  # the model itself stays uncompiled: checkpoints and aux_loss use it
            run.net = torch.compile(run.net)
        _loop(run)
        _save(run, final=True)
        if run.is_main:
            _write_done(run, cfg, digest)
        distributed.barrier(world)
        return ckpt_path
    finally:
        distributed.close(owns_group)


def _check_args(a: dict[str, Any]) -> None:
    """Fail early, naming the parameter, on arguments no run can use."""
    if a["loss"] not in losses.LOSS_NAMES:
        raise ValueError(f"loss={a['loss']!r}: choose one of {losses.LOSS_NAMES}")
    if a["architecture"] not in models.ARCHITECTURES:
        raise ValueError(f"architecture={a['architecture']!r}: choose one of {models.ARCHITECTURES}")
    if a["epochs"] is None and a["max_steps"] is None:
        raise ValueError("give a budget: epochs=... or max_steps=...")
    if a["dataset"] is None and a["data_root"] is None and a["unlabelled_root"] is None:
        raise ValueError("give data_root=... (root/train/{Ref,JND1}), unlabelled_root=... (a folder of "
                         "images) or dataset=...")
    if a["lr_schedule"] not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule={a['lr_schedule']!r}: choose one of {LR_SCHEDULES}")
    if a["dataset"] is None:
        _check_patch_size(a["patch_size"], a["metric"])
    if a["checkpoint_every"] < 1 or a["log_every"] < 1:
        raise ValueError("checkpoint_every and log_every must be >= 1")


def run_config(a: dict[str, Any]) -> dict[str, Any]:
    """A run's identity (config.json's "config"; its digest, less the budget, names the run).
    Paths are relative to the repository when inside it, else to the run folder."""
    fwl, dataset = a["loss"] == "fwl", a["dataset"]

    def path(p: Any) -> str | None:
        return portable_path(p, start=a["run_dir"])

    cfg = {
        "loss": a["loss"], "metric": a["metric"], "quality": a["quality"], "lambda": a["lmbda"],
        "architecture": a["architecture"], "N": a["N"], "M": a["M"], "init": path(a["init"]),
        "features": a["features"] if fwl else None,
        "feature_weights": path(a["feature_weights"]) if fwl and a["feature_weights"] else None,
        "fwl_weight": a["fwl_weight"] if fwl else None,
        "data_root": None if dataset is not None else path(a["data_root"]),
        "unlabelled_root": None if dataset is not None else path(a["unlabelled_root"]),
        "dataset": None if dataset is None else f"{type(dataset).__name__}(n={len(dataset)})",
        "patch_size": None if dataset is not None else a["patch_size"],
        "epochs": a["epochs"], "max_steps": a["max_steps"], "batch_size": a["batch_size"],
        "lr": a["lr"], "aux_lr": a["aux_lr"], "clip_max_norm": a["clip_max_norm"],
        "scheduler_every": a["scheduler_every"], "seed": a["seed"], "amp": bool(a["amp"]),
    }
    if a["lr_schedule"] != "plateau":  # absent by default, so that earlier runs keep their digest
        cfg["lr_schedule"] = a["lr_schedule"]
    return cfg


def _start_folder(run_dir: Path, a: dict[str, Any], rank: int, world: int) -> None:
    """Check the batch splits over the processes, empty the folder on ``overwrite``,
    and seed every process alike (the same initial weights on every rank)."""
    if a["batch_size"] % world:
        raise ValueError(f"batch_size={a['batch_size']} must be divisible by the {world} processes")
    if rank == 0 and a["overwrite"]:
        for name in (DONE_NAME, CHECKPOINT_NAME, LOG_NAME, CONFIG_NAME):
            (run_dir / name).unlink(missing_ok=True)
    distributed.barrier(world)
    _seed_everything(a["seed"])


def _build(run_dir: Path, a: dict[str, Any], rank: int, world: int, dev: torch.device) -> Run:
    """Data and budget, then model, loss, optimisers and scheduler, in that order (both
    draw from the seeded RNG)."""
    dataset = a["dataset"]
    if dataset is None:
        dataset = build_dataset(a["data_root"], a["unlabelled_root"], a["patch_size"], a["seed"],
                                decode_cache=a["decode_cache"])
    if len(dataset) == 0:
        raise ValueError(f"run {run_dir.name}: the training set is empty")
    _check_patch_size(min(dataset[0][0].shape[-2:]), a["metric"], what="training images of ")
    local_batch = a["batch_size"] // world
    per_rank = math.ceil(len(dataset) / world)
    drop_last = per_rank >= local_batch
    steps_per_epoch = per_rank // local_batch if drop_last else 1
    epochs, max_steps = a["epochs"], a["max_steps"]
    total_steps = min(s for s in (max_steps, epochs and epochs * steps_per_epoch) if s is not None)
    # On a small data set an "epoch" is a step or two, and a plateau test on so few
    # losses reads noise: the schedule never looks at fewer than MIN_SCHEDULER_STEPS.
    interval = a["scheduler_every"] or max(steps_per_epoch, MIN_SCHEDULER_STEPS)
    with distributed.rank0_first(rank, world):
        model, init_info = models.build_model_with_info(a["architecture"], a["quality"], a["metric"], a["N"],
                                                        a["M"], pretrained=a["init"],
                                                        progress=a["progress"] and rank == 0)
        fwl = a["loss"] == "fwl"
        # Building a feature extractor draws its initial weights: forked, so that every loss
        # of one seed sees the same crops and noise as its control (common random numbers).
        with torch.random.fork_rng(devices=[]):
            criterion = losses.make_loss(a["loss"], a["metric"], a["lmbda"],
                                         features=_features(a["features"], a["feature_weights"], a["progress"])
                                         if fwl else None, fwl_weight=a["fwl_weight"])
    model, criterion = model.to(dev), criterion.to(dev)
    if a["amp"]:
        models.amp_in_fp32(model)  # latents, means, scales, likelihoods and the rate stay float32
    model = model.to(memory_format=torch.channels_last if a["channels_last"] else torch.contiguous_format)
    optimizer, aux_optimizer = configure_optimizers(model, a["lr"], a["aux_lr"])
    return Run(dir=run_dir, args=a, rank=rank, world=world, dev=dev, dataset=dataset, local_batch=local_batch,
               drop_last=drop_last, steps_per_epoch=steps_per_epoch, total_steps=total_steps, interval=interval,
               model=model, criterion=criterion, optimizer=optimizer, aux_optimizer=aux_optimizer,
               lr_scheduler=make_scheduler(optimizer, a["lr_schedule"], total_steps), init_info=init_info)


def _resume(run: Run, cfg: dict[str, Any], digest: str) -> None:
    """Continue from the run's checkpoint, if any: weights, optimisers, scheduler, step, RNG."""
    ckpt_path = run.dir / CHECKPOINT_NAME
    if ckpt_path.is_file():
        # On the CPU: the optimisers move their state to the weights' device themselves, and
        # the RNG states must stay CPU tensors (numpy's is read back through .numpy()).
        ckpt = load_checkpoint_dict(ckpt_path, map_location="cpu")
        if ckpt["meta"].get("config_digest") != digest:
            raise RunConfigError(f"{ckpt_path}: a checkpoint of another config ({_diff(run.dir, cfg)}); "
                                 "use another run folder or overwrite=True")
        if ckpt.get("optimizer") is None:
            raise RunConfigError(f"{ckpt_path}: weights only (training state stripped); it cannot be "
                                 "resumed or extended: use another run folder or overwrite=True")
        models.load_weights(run.model, ckpt["state_dict"])
        run.optimizer.load_state_dict(ckpt["optimizer"])
        run.aux_optimizer.load_state_dict(ckpt["aux_optimizer"])
        run.lr_scheduler.load_state_dict(ckpt["lr_scheduler"])
        run.step = int(ckpt["step"])
        state = ckpt["train_state"]
        run.elapsed0, run.interval_sum, run.interval_n = state["elapsed"], state["interval_sum"], state["interval_n"]
        run.last_record = state.get("last_record") or {}
        if ckpt.get("rng") is not None and run.world == 1:
            set_rng_state(ckpt["rng"])
    if run.world > 1:  # each rank its own noise and crops (rank 0's RNG alone is saved)
        _seed_everything(run.args["seed"] + 1009 * run.rank + 7919 * run.step)


def _run_meta(run: Run, cfg: dict[str, Any], digest: str) -> dict[str, Any]:
    """The checkpoint's meta: what was trained, from what, with what."""
    a, info = run.args, run.init_info
    return {
        "method": a["loss"], "loss": a["loss"], "architecture": a["architecture"],
        "compressai_arch": models.COMPRESSAI_ARCH[a["architecture"]],
        "N": info["N"], "M": info["M"], "metric": a["metric"], "quality": a["quality"], "lambda": a["lmbda"],
        "init": info, "features": cfg["features"], "fwl_weight": cfg["fwl_weight"],
        "data": cfg["dataset"] or cfg["data_root"], "unlabelled": cfg["unlabelled_root"],
        "batch_size": a["batch_size"], "patch_size": cfg["patch_size"], "total_steps": run.total_steps,
        "config_digest": digest, "labels": run_labels(cfg, info), "git_commit": git_commit(),
        "versions": versions(),
    }


def _loop(run: Run) -> None:
    """Step through the batches until the budget is spent; log, checkpoint, call back."""
    a = run.args
    board = _tensorboard_writer(run.dir / TENSORBOARD_DIR) if a["tensorboard"] and run.is_main else None
    bar = progress_bar(run.total_steps, run.step, run.dir.name, enabled=a["progress"] and run.is_main)
    log = open(run.dir / LOG_NAME, "a") if run.is_main else None
    run.t0 = time.perf_counter()
    try:
        run.model.train()
        loader = _make_loader(run)
        while run.step < run.total_steps:
            epoch, skip = divmod(run.step, run.steps_per_epoch)
            for x_o, x_j in _batches(run, loader, epoch, skip):
                out, aux_loss, loss_value = _step(run, x_o, x_j)
                record = {"step": run.step, "loss": loss_value}
                if run.step % a["log_every"] == 0 or run.step == run.total_steps:
                    record = _log(run, log, bar, _record(run.step, epoch, out, aux_loss, loss_value,
                                                         run.optimizer, run.seconds()), board)
                bar.update(1)
                if run.step % a["checkpoint_every"] == 0 and run.step < run.total_steps:
                    _save(run, final=False)
                if a["callback"] is not None:
                    a["callback"](run.step, run.model, record)
                if run.step >= run.total_steps:
                    break
    finally:
        bar.close()
        if log is not None:
            log.close()
        if board is not None:
            board.close()


class EpochSampler(Sampler[int]):
    """This process's share of an epoch, in DistributedSampler's seeded order, from a
    given batch on: one sampler (and one DataLoader, whose workers persist) per run."""

    def __init__(self, dataset: Dataset, world: int, rank: int, seed: int, local_batch: int):
        self.order = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        self.local_batch, self.epoch, self.skip = local_batch, 0, 0

    def start(self, epoch: int, skip_batches: int) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def __iter__(self) -> Iterator[int]:
        self.order.set_epoch(self.epoch)
        return iter(list(self.order)[self.skip * self.local_batch:])

    def __len__(self) -> int:
        return max(0, len(self.order) - self.skip * self.local_batch)


def loader_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of a process's loader generator at ``epoch``: its workers' RNG (random
    crops and flips) derives from it, so every rank gets its own."""
    return seed * 1_000_003 + epoch + rank * 2_000_000_011


def _make_loader(run: Run) -> DataLoader:
    """The run's DataLoader: built once, its workers (and their decoded-image caches)
    kept from epoch to epoch; ``_batches`` picks the epoch."""
    workers = run.args["num_workers"]
    sampler = EpochSampler(run.dataset, run.world, run.rank, run.args["seed"], run.local_batch)
    return DataLoader(run.dataset, batch_size=run.local_batch, sampler=sampler, drop_last=run.drop_last,
                      num_workers=workers, persistent_workers=workers > 0, pin_memory=run.dev.type == "cuda",
                      worker_init_fn=_seed_worker,
                      # a private generator: loaders never draw from the global RNG
                      generator=torch.Generator())


def _batches(run: Run, loader: DataLoader, epoch: int, skip_batches: int) -> Iterator[Any]:
    """The batches of ``epoch`` for this process, less the first ``skip_batches``."""
    loader.sampler.start(epoch, skip_batches)
    loader.generator.manual_seed(loader_seed(run.args["seed"], epoch, run.rank))
    return iter(loader)


def _step(run: Run, x_o: torch.Tensor, x_j: torch.Tensor) -> tuple[dict[str, Any], torch.Tensor, float]:
    """One optimisation step of the network and of the aux loss; NonFiniteLossError
    before a NaN or infinite loss (or gradient) touches the weights."""
    a = run.args
    x_o = x_o.to(run.dev, non_blocking=True, memory_format=run.memory_format)
    x_j = x_j.to(run.dev, non_blocking=True, memory_format=run.memory_format)
    run.optimizer.zero_grad(set_to_none=True)
    run.aux_optimizer.zero_grad(set_to_none=True)
    with torch.autocast(run.dev.type, dtype=torch.bfloat16) if a["amp"] else contextlib.nullcontext():
        out_net = run.net(x_o)
    out = run.criterion(_float32(out_net) if a["amp"] else out_net, x_o, x_j)
    loss_value = distributed.mean_over_ranks(out["loss"].detach(), run.world)
    if not math.isfinite(loss_value):
        raise NonFiniteLossError(run.dir, run.step + 1, f"loss is {loss_value}")
    out["loss"].backward()
    if a["clip_max_norm"] > 0:
        norm = torch.nn.utils.clip_grad_norm_(run.net.parameters(), a["clip_max_norm"])
        if not math.isfinite(float(norm)):
            raise NonFiniteLossError(run.dir, run.step + 1, f"gradient norm is {float(norm)}")
    run.optimizer.step()
    aux_loss = run.model.aux_loss()  # no image data in it: no DDP sync needed
    aux_loss.backward()
    run.aux_optimizer.step()
    run.step += 1
    _schedule(run, loss_value)
    return out, aux_loss, loss_value


def _schedule(run: Run, loss_value: float) -> None:
    """Step the lr scheduler: every step, or (plateau) on the mean loss of each interval."""
    run.interval_sum, run.interval_n = run.interval_sum + loss_value, run.interval_n + 1
    if run.args["lr_schedule"] != "plateau":
        run.lr_scheduler.step()
    elif run.step % run.interval == 0:
        run.lr_scheduler.step(run.interval_sum / run.interval_n)
        run.interval_sum, run.interval_n = 0.0, 0


def _log(run: Run, log: IO[str] | None, bar: Any, record: dict[str, Any], board: Any = None) -> dict[str, Any]:
    """Append ``record`` to log.jsonl (rank 0), to TensorBoard (``board``), and show it
    on the progress bar."""
    run.last_record = record
    if log is not None:
        log.write(json.dumps(record) + "\n")
        log.flush()
    if board is not None:
        for key, value in record.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                board.add_scalar(f"train/{key}", value, record["step"])
        board.flush()
    bar.set_postfix(loss=f"{record['loss']:.4g}", bpp=f"{record['bpp_loss']:.3f}", refresh=False)
    return record


def _save(run: Run, final: bool) -> None:
    """The checkpoint (rank 0): weights, optimisers, scheduler, step, RNG, loop state."""
    if not run.is_main:
        return
    save_checkpoint(
        run.dir / CHECKPOINT_NAME, run.model, optimizer=run.optimizer, aux_optimizer=run.aux_optimizer,
        lr_scheduler=run.lr_scheduler, step=run.step, epoch=run.step // run.steps_per_epoch,
        meta={**run.meta, "steps": run.step, "epoch": run.step / run.steps_per_epoch, "complete": final},
        rng=rng_state(),
        train_state={"elapsed": run.seconds(), "interval_sum": run.interval_sum,
                     "interval_n": run.interval_n, "last_record": run.last_record})


def _write_done(run: Run, cfg: dict[str, Any], digest: str) -> None:
    """done.json: the run finished with this config and budget."""
    write_json(run.dir / DONE_NAME, {
        "run": run.dir.name, "method": run.args["loss"], "config_digest": digest, "config": cfg,
        "steps": run.step, "epochs": run.step / run.steps_per_epoch, "seconds": run.seconds(),
        "final": run.last_record, "checkpoint": CHECKPOINT_NAME,
        "finished": _dt.datetime.now().isoformat(timespec="seconds"),
    })


def configure_optimizers(model: nn.Module, lr: float = 1e-4, aux_lr: float = 1e-3):
    """Adam on the network, Adam on the ``.quantiles`` (CompressAI's examples/train.py split)."""
    params = dict(model.named_parameters())
    net = sorted(n for n, p in params.items() if p.requires_grad and not n.endswith(".quantiles"))
    aux = sorted(n for n, p in params.items() if p.requires_grad and n.endswith(".quantiles"))
    optimizer = torch.optim.Adam((params[n] for n in net), lr=lr)
    aux_optimizer = torch.optim.Adam((params[n] for n in aux), lr=aux_lr)
    return optimizer, aux_optimizer


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int):
    """"plateau": ReduceLROnPlateau, stepped on the mean training loss (the paper's and
    CompressAI's choice). "cosine": a linear warm-up, then a cosine down to
    ``COSINE_FINAL_FRACTION`` of the peak at ``total_steps``, stepped every step: a fixed
    schedule, so that a long run split over several sessions follows the same curve."""
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    warmup = max(1, min(COSINE_WARMUP_STEPS, total_steps // 20))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return COSINE_FINAL_FRACTION + (1 - COSINE_FINAL_FRACTION) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def build_dataset(data_root: str | os.PathLike | None, unlabelled_root: str | os.PathLike | None,
                  patch_size: int, seed: int = 0, decode_cache: str | os.PathLike | None = None) -> Dataset:
    """The paper's training set: JND pairs of ``data_root/train``, mixed 1:1 with
    unlabelled images (x_j = x_o) when ``unlabelled_root`` is given (Sec. 2.4); the
    unlabelled images alone when ``data_root`` is None (base-model pretraining)."""
    from ..data import pairs  # the data layer is only needed when training from folders

    # seed=None: crops draw from torch's global RNG, which checkpoints save and restore
    unlabelled = None if unlabelled_root is None else pairs.UnlabelledDataset(
        unlabelled_root, patch_size, random_crop=True, flip=True, decode_cache=decode_cache)
    if data_root is None:
        return unlabelled
    labelled = pairs.JNDPairDataset(data_root, split="train", patch_size=patch_size, random_crop=True, flip=True,
                                    decode_cache=decode_cache)
    if unlabelled is None:
        return labelled
    return pairs.mixed_dataset(labelled, unlabelled, seed=seed)


def run_labels(cfg: dict[str, Any], init_info: dict[str, Any]) -> list[str]:
    """Honest labels for everything that differs from the paper's protocol."""
    labels = []
    if cfg["loss"] == "iwl-hinge":
        labels.append("iwl-hinge is our extension, not a loss of the paper")
    if cfg.get("features") not in (None, "vgg16"):
        labels.append(f"offline FWL features ({cfg['features']}), not the paper's ImageNet VGG16")
    if cfg["architecture"] != "cheng2020-attn":
        labels.append(f"small {cfg['architecture']} (N={init_info['N']}, M={init_info['M']}), "
                      "not the paper's Cheng2020-attention")
    if init_info["init"] == "scratch":
        labels.append("trained from scratch, not fine-tuned from pretrained weights")
    return labels


# ============================================================================= provenance


def git_commit() -> str | None:
    """The package's git commit, or None outside a repository (or without git)."""
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for pkg in ("torch", "torchvision", "compressai", "pytorch-msssim", "numpy", "jndlc"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# ============================================================================= helpers


def is_finished(run_dir: Path, cfg: dict[str, Any], digest: str) -> bool:
    """True if ``run_dir`` holds this run finished with this budget (another budget
    resumes from its checkpoint); RunConfigError if it holds another run."""
    done_path = run_dir / DONE_NAME
    if not done_path.is_file():
        return False
    done = read_json(done_path)
    if done.get("config_digest") != digest:
        raise RunConfigError(f"{run_dir}: holds a finished run with another config ({_diff(run_dir, cfg)}); "
                             "use another run folder or overwrite=True")
    same_budget = all(done.get("config", {}).get(k) == cfg.get(k) for k in BUDGET_KEYS)
    return same_budget and (run_dir / CHECKPOINT_NAME).is_file()


def _diff(run_dir: Path, cfg: dict[str, Any]) -> str:
    try:
        old = read_json(run_dir / CONFIG_NAME)["config"]
    except (OSError, KeyError, ValueError):
        return "config.json unreadable"
    keys = sorted(k for k in set(old) | set(cfg) if old.get(k) != cfg.get(k))
    return ", ".join(f"{k}: {old.get(k)!r} -> {cfg.get(k)!r}" for k in keys) or "same keys, other digest"


def write_config(run_dir: Path, cfg: dict[str, Any], meta: dict[str, Any], step: int, dev: torch.device,
                  world: int, steps_per_epoch: int | None, **how: Any) -> None:
    """config.json: the run's config (its identity) and one entry per session, which
    also records ``how`` it ran (speed settings that change no result beyond rounding)."""
    path = run_dir / CONFIG_NAME
    sessions = []
    if path.is_file():
        try:
            sessions = read_json(path).get("sessions", [])
        except ValueError:
            sessions = []
    sessions.append({"started": _dt.datetime.now().isoformat(timespec="seconds"), "start_step": step,
                     "device": str(dev), "world_size": world, "git_commit": meta.get("git_commit"),
                     "host": os.uname().nodename if hasattr(os, "uname") else None, **how})
    write_json(path, {"run": run_dir.name, "config": cfg, "config_digest": meta["config_digest"],
                      "steps_per_epoch": steps_per_epoch, "total_steps": meta.get("total_steps"),
                      "init": meta["init"], "labels": meta["labels"], "versions": meta["versions"],
                      "sessions": sessions})


def _truncate_log(path: Path, step: int) -> None:
    """Drop log lines past the checkpoint we resume from (and any torn last line)."""
    if not path.is_file():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line)
        except (ValueError, KeyError, TypeError):
            continue
    write_text(path, "".join(f"{line}\n" for line in keep))


def _record(step: int, epoch: int, out: dict[str, torch.Tensor], aux_loss: torch.Tensor, loss_value: float,
            optimizer: torch.optim.Optimizer, seconds: float) -> dict[str, Any]:
    keys = [k for k, v in out.items() if torch.is_tensor(v) and v.dim() == 0 and k != "loss"]
    values = torch.stack([out[k].detach().float() for k in keys] + [aux_loss.detach().float()]).tolist()
    rec: dict[str, Any] = {"step": step, "epoch": epoch, "loss": loss_value}
    rec.update(zip(keys, values))
    rec["aux_loss"] = values[-1]
    if "mse_loss" in rec:
        rec["psnr"] = 10 * math.log10(1 / rec["mse_loss"]) if rec["mse_loss"] > 0 else float("inf")
    if "ms_ssim_loss" in rec:
        rec["ms_ssim"] = rec["ms_ssim_loss"]
    rec["lr"] = optimizer.param_groups[0]["lr"]
    rec["seconds"] = round(seconds, 3)
    return rec


def _tensorboard_writer(folder: Path) -> Any:
    """A TensorBoard SummaryWriter on ``folder``; a clear error without the package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise ModuleNotFoundError(f"tensorboard=True needs the tensorboard package ({e}): "
                                  "pip install 'jndlc[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter(log_dir=str(folder))


def _float32(out_net: dict[str, Any]) -> dict[str, Any]:
    return {"x_hat": out_net["x_hat"].float(),
            "likelihoods": {k: v.float() for k, v in out_net["likelihoods"].items()}}


def _features(name: str, weights: Any, progress: bool) -> nn.Module:
    from .features import get_features

    return get_features(name, weights=weights, progress=progress)


def _check_patch_size(size: int, metric: str, what: str = "patch_size=") -> None:
    """Patches must survive the codecs' 64x downsampling and, for MS-SSIM, its 5 scales."""
    if size % PATCH_MULTIPLE:
        raise ValueError(f"{what}{size} px: must be a multiple of {PATCH_MULTIPLE} (the models downsample "
                         f"by {PATCH_MULTIPLE}); set patch_size")
    if metric == "ms-ssim" and size < cfgmod.MSSSIM_MIN_PATCH:
        raise ValueError(f"{what}{size} px is too small for MS-SSIM (5 scales need > 160 px): "
                         f"use patch_size >= {cfgmod.MSSSIM_MIN_PATCH}")


def _seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    import random

    import numpy as np

    s = torch.initial_seed() % 2**32  # DataLoader seeds torch per worker; follow it
    np.random.seed(s)
    random.seed(s)


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True, leave=False)


# ============================================================================= CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands run / grid / pretrain / export-pretrained on ``parser``."""
    sub = parser.add_subparsers(dest="train_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--profile", choices=sorted(cfgmod.PROFILES), help="defaults from config.profile(NAME)")
        p.add_argument("--data-root", help="root/train/{Ref,JND1}")
        p.add_argument("--unlabelled-root", help="unlabelled images mixed 1:1 (x_j = x_o)")
        p.add_argument("--architecture", choices=models.ARCHITECTURES)
        p.add_argument("--N", type=int)
        p.add_argument("--M", type=int)
        p.add_argument("--init", help="scratch | zoo | base-model directory | checkpoint file")
        p.add_argument("--features", choices=FEATURES, help="FWL's extractor")
        p.add_argument("--feature-weights", help="local VGG16 weights file")
        p.add_argument("--fwl-weight", type=float)
        p.add_argument("--epochs", type=int)
        p.add_argument("--max-steps", type=int)
        p.add_argument("--batch-size", type=int)
        p.add_argument("--patch-size", type=int)
        p.add_argument("--lr", type=float)
        p.add_argument("--aux-lr", type=float)
        p.add_argument("--clip-max-norm", type=float)
        p.add_argument("--seed", type=int)
        p.add_argument("--device")
        p.add_argument("--amp", action="store_true", default=None,
                       help="bfloat16 autocast of the transforms (latents and entropy models stay float32)")
        p.add_argument("--channels-last", action="store_true", default=None)
        p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
        p.add_argument("--num-workers", type=int)
        p.add_argument("--decode-cache", help="a folder where training images are decoded once (memory-mapped .npy)")
        p.add_argument("--checkpoint-every", type=int)
        p.add_argument("--tensorboard", action="store_true", default=None,
                       help="also write TensorBoard scalars to RUN/tensorboard/ (pip install tensorboard)")
        p.add_argument("--no-progress", dest="progress", action="store_false", default=None)

    p = sub.add_parser("run", help="train one run")
    p.add_argument("run_dir")
    p.add_argument("--loss", required=True, choices=losses.LOSS_NAMES)
    p.add_argument("--metric", required=True, choices=cfgmod.METRICS)
    p.add_argument("--quality", required=True, type=int)
    p.add_argument("--lmbda", type=float, help="default: the paper's lambda for metric and quality")
    p.add_argument("--overwrite", action="store_true", default=None)
    common(p)

    p = sub.add_parser("grid", help="all (loss, metric, quality) runs; finished ones are skipped")
    p.add_argument("runs_dir")
    p.add_argument("--losses", nargs="+", required=True)
    p.add_argument("--metrics", nargs="+", required=True, choices=cfgmod.METRICS)
    p.add_argument("--qualities", nargs="+", required=True, type=int)
    p.add_argument("--parallel-runs", type=int, help="runs trained at once (default: one per core on a CPU, "
                   "one on a GPU)")
    common(p)

    p = sub.add_parser("pretrain", help="our base models: the baseline from scratch per metric/quality")
    p.add_argument("out_dir")
    p.add_argument("--metrics", nargs="+", required=True, choices=cfgmod.METRICS)
    p.add_argument("--qualities", nargs="+", required=True, type=int)
    common(p)

    p = sub.add_parser("export-pretrained", help="the baseline-pretrained control (no fine-tuning)")
    p.add_argument("run_dir")
    p.add_argument("--metric", required=True, choices=cfgmod.METRICS)
    p.add_argument("--quality", required=True, type=int)
    common(p)


_COMMON = ("data_root", "unlabelled_root", "architecture", "N", "M", "init", "features", "feature_weights",
           "fwl_weight", "epochs", "max_steps", "batch_size", "patch_size", "lr", "aux_lr", "clip_max_norm",
           "seed", "device", "amp", "channels_last", "compile", "num_workers", "decode_cache", "checkpoint_every",
           "tensorboard", "progress")


def kwargs_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Profile defaults overridden by the options given on the command line."""
    from .grid import profile_kwargs

    kw = profile_kwargs(cfgmod.profile(args.profile)) if args.profile else {}
    kw.update({k: getattr(args, k) for k in _COMMON if getattr(args, k, None) is not None})
    return kw


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jndlc_helpers.codec.train", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except USER_ERRORS as e:  # bad input: one line naming it, not a traceback
        raise SystemExit(f"error: {e}") from None


def run_command(args: argparse.Namespace) -> int:
    from .grid import export_pretrained, pretrain, run_grid

    kw = kwargs_from_args(args)
    main_rank = distributed.env_rank() == 0  # under torchrun, one process prints
    if args.train_command == "run":
        for k in ("lmbda", "overwrite"):
            if getattr(args, k) is not None:
                kw[k] = getattr(args, k)
        path = train_run(args.run_dir, loss=args.loss, metric=args.metric, quality=args.quality, **kw)
        if main_rank:
            print(path)
    elif args.train_command == "grid":
        workers = parallel.auto_workers(args.parallel_runs, kw.get("device", "auto"))
        for name, path in run_grid(args.runs_dir, args.losses, args.metrics, args.qualities, workers=workers,
                                   **kw).items():
            if main_rank:
                print(f"{name}\t{path}")
    elif args.train_command == "pretrain":
        kw.pop("init", None)
        for name, path in pretrain(args.out_dir, args.metrics, args.qualities, **kw).items():
            print(f"{name}\t{path}")
    else:
        keep = {k: kw[k] for k in ("architecture", "N", "M", "init", "progress") if k in kw}
        print(export_pretrained(args.run_dir, metric=args.metric, quality=args.quality, **keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
