"""Several processes (torchrun): the process group, the DDP wrapper, and the few
collectives the training loop needs. With one process every helper is a no-op."""
from __future__ import annotations

import contextlib
import inspect
import os
from typing import Iterator

import torch
import torch.distributed as dist
import torch.nn as nn


def setup(device: str) -> tuple[int, int, torch.device, bool]:
    """(rank, world size, device, whether we created the process group)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() if device == "auto" else str(device).startswith("cuda")
    if world <= 1 and not (dist.is_available() and dist.is_initialized()):
        dev = torch.device("cuda" if use_cuda and device == "auto" else ("cpu" if device == "auto" else device))
        return 0, 1, dev, False
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        owns = True
    rank, world = dist.get_rank(), dist.get_world_size()
    if use_cuda:
        local = int(os.environ.get("LOCAL_RANK", rank % max(torch.cuda.device_count(), 1)))
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    return rank, world, dev, owns


def wrap_ddp(model: nn.Module, dev: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel, without the aux loss's parameters."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    # The quantiles only see the aux loss (data-free, identical on every rank): keep them
    # out of DDP's gradient buckets, or it waits forever for their gradient.
    quantiles = [n for n, _ in model.named_parameters() if n.endswith(".quantiles")]
    DDP._set_params_and_buffers_to_ignore_for_model(model, quantiles)
    # Buffers (entropy-model tables) are equal on every rank and not trained: no per-step sync.
    sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(DDP).parameters
            else {"broadcast_buffers": False})
    return DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None, **sync)


def mean_over_ranks(value: torch.Tensor, world: int) -> float:
    """The mean of a scalar over all processes."""
    if world > 1:
        value = value.clone()
        dist.all_reduce(value)  # a NaN on any rank stops every rank at the same step
        value /= world
    return float(value)


def barrier(world: int) -> None:
    if world > 1:
        dist.barrier()


class RankFailedError(RuntimeError):
    """Another process failed in a block every process waits on; names it and why."""


def rank_world() -> tuple[int, int]:
    """(rank, world size) of the current process group, (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def env_rank() -> int:
    """This process's rank as torchrun sets it (0 outside torchrun); usable after the group is gone."""
    return int(os.environ.get("RANK", "0"))


def _from_rank0(message: str | None) -> str | None:
    """Rank 0's ``message`` on every rank."""
    box = [message]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@contextlib.contextmanager
def rank0_first(rank: int, world: int) -> Iterator[None]:
    """Rank 0 runs the block first (downloads into the shared cache), then the others.
    If it fails there, the others raise ``RankFailedError`` naming its error at once
    instead of waiting at a barrier for the collective timeout."""
    if world <= 1:
        yield
        return
    if rank != 0:
        failed = _from_rank0(None)
        if failed is not None:
            raise RankFailedError(f"rank {rank}: rank 0 failed first: {failed}")
        yield
        return
    try:
        yield
    except BaseException as e:
        _from_rank0(f"{type(e).__name__}: {e}")
        raise
    _from_rank0(None)


def close(owns_group: bool) -> None:
    """Destroy the process group if ``setup`` created it."""
    if owns_group:
        dist.destroy_process_group()
