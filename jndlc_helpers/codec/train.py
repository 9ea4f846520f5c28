"""The training loop of one run: ``train_run(run_dir, RunConfig(...))``.

It reads top to bottom: identity -> run folder -> devices -> data, model, loss,
optimisers (``_build``) -> resume (``_resume``) -> the loop (``_loop``: ``_step``,
``_log``, ``_save``) -> final checkpoint and ``done.json``; a ``Run`` carries the state
between them. Defaults follow the paper and CompressAI's ``examples/train.py``
(``optim.py``): gradient clipping at 1.0, ReduceLROnPlateau("min") stepped on the mean
*training* loss of each epoch of at least ``MIN_SCHEDULER_STEPS`` steps (or of every
``scheduler_every`` steps; CompressAI's example steps it on the test loss, we keep the
test set out of training).

The run folder (``runfolder.py``) holds config.json, log.jsonl, the checkpoint
(rewritten atomically every ``checkpoint_every`` steps and at the end) and done.json. A
killed run resumes from its last checkpoint: model, optimisers, scheduler, step, RNG
states (bit-exact on CPU with ``num_workers=0``; with worker processes the data order is
restored but random crops may differ); a finished run with the same identity is not
redone. A NaN or infinite loss (or gradient) stops the run with ``NonFiniteLossError``
before the bad step touches the weights; the last good checkpoint stays.

The fine-tuned control (DESIGN.md) is simply ``loss="baseline"`` on the same data for
the same budget -- the control IWL must be compared with, since IWL's gradients are the
baseline's (see ``losses.py``).

Several GPUs: ``torchrun --nproc_per_node=K -m jndlc_helpers.codec run ...``. Each
process reads ``batch_size / K`` images per step (the global batch stays
``batch_size``), a DistributedSampler splits the data, and only rank 0 writes files
(``distributed.py``).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from . import distributed, fwl_share, loader, losses, models, runlog
from .checkpoint import load_checkpoint_dict, rng_state, save_checkpoint, set_rng_state
from .optim import configure_optimizers, make_scheduler
from .runconfig import RunConfig, check_patch_size, identity_digest, run_meta
from .runfolder import RunConfigError, RunFolder

MIN_SCHEDULER_STEPS = 100
TENSORBOARD_DIR = "tensorboard"

Callback = Callable[[int, nn.Module, dict], None]


class NonFiniteLossError(FloatingPointError):
    """The loss (or gradient) became NaN or infinite; names the run and the step."""

    def __init__(self, run_dir: Path, step: int, what: str):
        self.run_dir, self.step = Path(run_dir), step
        super().__init__(f"run {self.run_dir.name} ({self.run_dir}): {what} at step {step}; stopped "
                         f"before updating the weights, the last good checkpoint is kept "
                         f"({RunFolder(self.run_dir).checkpoint})")


@dataclass
class Run:
    """One run while it trains: its parts, its settings, and how far it got."""
    folder: RunFolder
    cfg: RunConfig
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
        return torch.channels_last if self.cfg.channels_last else torch.contiguous_format

    def seconds(self) -> float:
        """Seconds trained, this session and the earlier ones."""
        return self.elapsed0 + time.perf_counter() - self.t0


def train_run(run_dir: str | os.PathLike, cfg: RunConfig, *, dataset: Dataset | None = None,
              callback: Callback | None = None) -> Path:
    """Train one model with one loss; returns the final checkpoint's path.

    Data: ``cfg.data_root``/``cfg.unlabelled_root``, or a ready ``dataset`` of (x_o, x_j)
    pairs. ``callback(step, model, record)`` runs after each step.
    """
    folder = RunFolder(run_dir)
    _check_data(cfg, dataset)
    identity = cfg.identity(folder.path, dataset)
    digest = identity_digest(identity)
    if not cfg.overwrite and folder.is_finished(identity, digest):
        return folder.checkpoint
    rank, world, dev, owns_group = distributed.setup(cfg.device)
    try:
        _start_folder(folder, cfg, rank, world)
        run = _build(folder, cfg, dataset, rank, world, dev)
        _resume(run, identity, digest)
        run.meta = run_meta(cfg, identity, digest, run.init_info, run.total_steps)
        if run.is_main:
            session = {"device": str(dev), "world_size": world, "channels_last": cfg.channels_last,
                       "compile": cfg.compile}
            folder.write_config(identity, run.meta, run.step, session, run.steps_per_epoch)
            folder.truncate_log(run.step)
        run.net = distributed.wrap_ddp(run.model, dev) if world > 1 else run.model
        if cfg.compile:  # the model itself stays uncompiled: checkpoints and aux_loss use it
            run.net = torch.compile(run.net)
        _loop(run, callback)
        _save(run, final=True)
        if run.is_main:
            share = {"feature_share": fwl_share.share_of_log(folder.read_records(), cfg.fwl_weight)} \
                if cfg.loss == "fwl" else {}  # the feature term's mean share of D over the run
            folder.write_done(cfg.method or cfg.loss, identity, digest, run.step,
                              epochs=run.step / run.steps_per_epoch, seconds=run.seconds(), final=run.last_record,
                              **share)
        distributed.barrier(world)
        return folder.checkpoint
    finally:
        distributed.close(owns_group)


def _check_data(cfg: RunConfig, dataset: Dataset | None) -> None:
    """Some data, and patches the codecs (and MS-SSIM) can use."""
    if dataset is None and cfg.data_root is None and cfg.unlabelled_root is None:
        raise ValueError("give data_root=... (root/train/{Ref,JND1}), unlabelled_root=... (a folder of "
                         "images) or dataset=...")
    if dataset is None:
        check_patch_size(cfg.patch_size, cfg.distortion)


def _start_folder(folder: RunFolder, cfg: RunConfig, rank: int, world: int) -> None:
    """Check the batch splits over the processes, empty the folder on ``overwrite``,
    and seed every process alike (the same initial weights on every rank)."""
    if cfg.batch_size % world:
        raise ValueError(f"batch_size={cfg.batch_size} must be divisible by the {world} processes")
    if rank == 0 and cfg.overwrite:
        folder.clear()
    distributed.barrier(world)
    loader.seed_everything(cfg.seed)


def _build(folder: RunFolder, cfg: RunConfig, dataset: Dataset | None, rank: int, world: int,
           dev: torch.device) -> Run:
    """Data and budget, then model, loss, optimisers and scheduler, in that order (both
    draw from the seeded RNG)."""
    if dataset is None:
        dataset = loader.build_dataset(cfg.data_root, cfg.unlabelled_root, cfg.patch_size, cfg.seed,
                                       decode_cache=cfg.decode_cache)
    if len(dataset) == 0:
        raise ValueError(f"run {folder.path.name}: the training set is empty")
    check_patch_size(min(dataset[0][0].shape[-2:]), cfg.distortion, what="training images of ")
    local_batch = cfg.batch_size // world
    per_rank = math.ceil(len(dataset) / world)
    drop_last = per_rank >= local_batch
    steps_per_epoch = per_rank // local_batch if drop_last else 1
    total_steps = min(s for s in (cfg.max_steps, cfg.epochs and cfg.epochs * steps_per_epoch) if s is not None)
    # On a small data set an "epoch" is a step or two, and a plateau test on so few
    # losses reads noise: the schedule never looks at fewer than MIN_SCHEDULER_STEPS.
    interval = cfg.scheduler_every or max(steps_per_epoch, MIN_SCHEDULER_STEPS)
    model, criterion, init_info = _model_and_loss(cfg, rank, world)
    model, criterion = model.to(dev), criterion.to(dev)
    if cfg.feature_share is not None:  # c set on the training crops with the initial model
        fwl_share.calibrate(folder.path, model, criterion, dataset, cfg.feature_share, local_batch, dev, rank == 0)
    if cfg.amp:
        models.amp_in_fp32(model)  # latents, means, scales, likelihoods and the rate stay float32
    model = model.to(memory_format=torch.channels_last if cfg.channels_last else torch.contiguous_format)
    optimizer, aux_optimizer = configure_optimizers(model, cfg.lr, cfg.aux_lr)
    return Run(folder=folder, cfg=cfg, rank=rank, world=world, dev=dev, dataset=dataset, local_batch=local_batch,
               drop_last=drop_last, steps_per_epoch=steps_per_epoch, total_steps=total_steps, interval=interval,
               model=model, criterion=criterion, optimizer=optimizer, aux_optimizer=aux_optimizer,
               lr_scheduler=make_scheduler(optimizer, cfg.lr_schedule, total_steps), init_info=init_info)


def _model_and_loss(cfg: RunConfig, rank: int, world: int) -> tuple[nn.Module, nn.Module, dict[str, Any]]:
    """The model (from ``cfg.init``) and the loss; rank 0 fetches any download first."""
    with distributed.rank0_first(rank, world):
        model, init_info = models.build_model_with_info(cfg.architecture, cfg.quality, cfg.distortion, cfg.N,
                                                        cfg.M, pretrained=cfg.init,
                                                        progress=cfg.progress and rank == 0)
        # Building a feature extractor draws its initial weights: forked, so that every loss
        # of one seed sees the same crops and noise as its control (common random numbers).
        with torch.random.fork_rng(devices=[]):
            features = _features(cfg) if cfg.loss == "fwl" else None
            criterion = losses.make_loss(cfg.loss, cfg.distortion, cfg.lam, features=features,
                                         fwl_weight=cfg.fwl_weight, feature_scale=cfg.feature_scale)
    return model, criterion, init_info


def _features(cfg: RunConfig) -> nn.Module:
    from .features import get_features

    return get_features(cfg.features, weights=cfg.feature_weights, progress=cfg.progress,
                        input_scale=cfg.feature_input)


def _resume(run: Run, identity: dict[str, Any], digest: str) -> None:
    """Continue from the run's checkpoint, if any: weights, optimisers, scheduler, step, RNG."""
    ckpt_path = run.folder.checkpoint
    if ckpt_path.is_file():
        # On the CPU: the optimisers move their state to the weights' device themselves, and
        # the RNG states must stay CPU tensors (numpy's is read back through .numpy()).
        ckpt = load_checkpoint_dict(ckpt_path, map_location="cpu")
        if ckpt["meta"].get("config_digest") != digest:
            raise RunConfigError(f"{ckpt_path}: a checkpoint of another config ({run.folder.diff(identity)}); "
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
        loader.seed_everything(run.cfg.seed + 1009 * run.rank + 7919 * run.step)


def _loop(run: Run, callback: Callback | None) -> None:
    """Step through the batches until the budget is spent; log, checkpoint, call back."""
    cfg = run.cfg
    board = runlog.tensorboard_writer(run.folder.path / TENSORBOARD_DIR) if cfg.tensorboard and run.is_main else None
    bar = runlog.progress_bar(run.total_steps, run.step, run.folder.path.name, enabled=cfg.progress and run.is_main)
    log = open(run.folder.log_path, "a") if run.is_main else None
    run.t0 = time.perf_counter()
    try:
        run.model.train()
        data = loader.make_loader(run.dataset, world=run.world, rank=run.rank, seed=cfg.seed,
                                  local_batch=run.local_batch, drop_last=run.drop_last,
                                  num_workers=cfg.num_workers, pin_memory=run.dev.type == "cuda")
        while run.step < run.total_steps:
            epoch, skip = divmod(run.step, run.steps_per_epoch)
            for x_o, x_j in loader.batches(data, cfg.seed, epoch, skip, run.rank):
                out, aux_loss, loss_value = _step(run, x_o, x_j)
                record = {"step": run.step, "loss": loss_value}
                if run.step % cfg.log_every == 0 or run.step == run.total_steps:
                    record = runlog.write(log, bar, runlog.record(run.step, epoch, out, aux_loss, loss_value,
                                                                   run.optimizer, run.seconds()), board)
                    run.last_record = record
                bar.update(1)
                if run.step % cfg.checkpoint_every == 0 and run.step < run.total_steps:
                    _save(run, final=False)
                if callback is not None:
                    callback(run.step, run.model, record)
                if run.step >= run.total_steps:
                    break
    finally:
        for closing in (bar, log, board):
            if closing is not None:
                closing.close()


def _step(run: Run, x_o: torch.Tensor, x_j: torch.Tensor) -> tuple[dict[str, Any], torch.Tensor, float]:
    """One optimisation step of the network and of the aux loss; NonFiniteLossError
    before a NaN or infinite loss (or gradient) touches the weights."""
    cfg = run.cfg
    x_o = x_o.to(run.dev, non_blocking=True, memory_format=run.memory_format)
    x_j = x_j.to(run.dev, non_blocking=True, memory_format=run.memory_format)
    run.optimizer.zero_grad(set_to_none=True)
    run.aux_optimizer.zero_grad(set_to_none=True)
    with torch.autocast(run.dev.type, dtype=torch.bfloat16) if cfg.amp else contextlib.nullcontext():
        out_net = run.net(x_o)
    out = run.criterion(_float32(out_net) if cfg.amp else out_net, x_o, x_j)
    loss_value = distributed.mean_over_ranks(out["loss"].detach(), run.world)
    if not math.isfinite(loss_value):
        raise NonFiniteLossError(run.folder.path, run.step + 1, f"loss is {loss_value}")
    out["loss"].backward()
    if cfg.clip_max_norm > 0:
        norm = torch.nn.utils.clip_grad_norm_(run.net.parameters(), cfg.clip_max_norm)
        if not math.isfinite(float(norm)):
            raise NonFiniteLossError(run.folder.path, run.step + 1, f"gradient norm is {float(norm)}")
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
    if run.cfg.lr_schedule != "plateau":
        run.lr_scheduler.step()
    elif run.step % run.interval == 0:
        run.lr_scheduler.step(run.interval_sum / run.interval_n)
        run.interval_sum, run.interval_n = 0.0, 0


def _save(run: Run, final: bool) -> None:
    """The checkpoint (rank 0): weights, optimisers, scheduler, step, RNG, loop state."""
    if not run.is_main:
        return
    save_checkpoint(
        run.folder.checkpoint, run.model, optimizer=run.optimizer, aux_optimizer=run.aux_optimizer,
        lr_scheduler=run.lr_scheduler, step=run.step, epoch=run.step // run.steps_per_epoch,
        meta={**run.meta, "steps": run.step, "epoch": run.step / run.steps_per_epoch, "complete": final},
        rng=rng_state(),
        train_state={"elapsed": run.seconds(), "interval_sum": run.interval_sum,
                     "interval_n": run.interval_n, "last_record": run.last_record})


def _float32(out_net: dict[str, Any]) -> dict[str, Any]:
    return {"x_hat": out_net["x_hat"].float(),
            "likelihoods": {k: v.float() for k, v in out_net["likelihoods"].items()}}
