"""Checkpoint files (CompressAI-loadable, written atomically) and downloaded weights.

A checkpoint is ``torch.save`` of a dict::

    {"state_dict": ...,      # model, after update(force=True): eval_model loads it
     "optimizer": ..., "aux_optimizer": ..., "lr_scheduler": ...,   # or None
     "step": int, "epoch": int,
     "meta": {...},          # JSON-able: architecture, loss, metric, quality, lambda, ...
     "rng": {...}, "train_state": {...}}   # resume bookkeeping (tensors / primitives)

Everything in it is a tensor or a plain Python value, so ``torch.load(...,
weights_only=True)`` (torch's default, and what ``compressai.utils.eval_model``
uses) reads it, and ``python -m compressai.utils.eval_model checkpoint <images>
-a <arch> -p checkpoint.pth.tar`` evaluates it.
"""
from __future__ import annotations

import copy
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..files import atomic_write

CHECKPOINT_NAME = "checkpoint.pth.tar"
OFFLINE_ENV = "JNDLC_OFFLINE"  # set to 1 to forbid any download


class WeightsUnavailableError(FileNotFoundError):
    """Pretrained weights that are neither on disk nor downloadable; says where to put them."""


def is_offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def hub_checkpoint_dir() -> Path:
    """Where torch (and torchvision, CompressAI) cache downloaded weights."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_weights(url: str, *, path: str | os.PathLike | None = None, what: str = "weights",
                  param: str = "weights", check_hash: bool = False, progress: bool = True) -> Path:
    """A local file holding the weights at ``url``: ``path`` if given, else torch's cache,
    else downloaded into torch's cache (unless offline).

    Raises ``WeightsUnavailableError`` naming the exact file name and folder to use.
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsUnavailableError(f"{what}: {param}={str(path)!r} is not a file")
        return p
    filename = os.path.basename(url)
    cached = hub_checkpoint_dir() / filename
    if cached.is_file():
        return cached
    how = (f"download {url} and place it at {cached} (torch.hub.get_dir()/checkpoints/{filename}), "
           f"or pass its path as {param}=...")
    if is_offline():
        raise WeightsUnavailableError(f"{what} not found and downloads are off ({OFFLINE_ENV} is set): {how}")
    cached.parent.mkdir(parents=True, exist_ok=True)
    hash_prefix = None
    if check_hash:
        m = re.search(r"-([a-f0-9]*)\.", filename)  # torch.hub's convention
        hash_prefix = m.group(1) if m else None
    try:
        torch.hub.download_url_to_file(url, str(cached), hash_prefix=hash_prefix, progress=progress)
    except Exception as e:  # no network, proxy, HTTP error, bad hash
        raise WeightsUnavailableError(f"{what}: could not download ({type(e).__name__}: {e}); {how}") from e
    return cached


# ----------------------------------------------------------------------------- saving


def eval_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's state dict after ``update(force=True)``, on CPU.

    Works on a copy, so the training model (and DDP's view of its buffers) is untouched.
    """
    m = copy.deepcopy(model)
    for p in m.parameters():
        p.grad = None
    m.update(force=True)
    return {k: v.detach().cpu() for k, v in m.state_dict().items()}


def check_plain(obj: Any, where: str = "meta") -> None:
    """Raise ``TypeError`` unless ``obj`` holds only JSON-like values (weights_only-safe)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            check_plain(v, f"{where}[{i}]")
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: key {k!r} is not a string")
            check_plain(v, f"{where}.{k}")
        return
    raise TypeError(f"{where}: {type(obj).__name__} is not a plain value (str/int/float/bool/None/list/dict)")


def all_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    aux_optimizer: torch.optim.Optimizer | None = None,
    lr_scheduler: Any = None,
    step: int = 0,
    epoch: int = 0,
    meta: dict[str, Any] | None = None,
    rng: dict[str, Any] | None = None,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (see the module docstring for the layout).

    Refuses (``ValueError``) to save a model with a NaN or infinite parameter.
    """
    if not all_finite(model):
        raise ValueError(f"{path}: refusing to save a model with non-finite parameters")
    meta = dict(meta or {})
    check_plain(meta)
    check_plain(train_state or {}, "train_state")
    ckpt = {
        "state_dict": eval_state_dict(model),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "aux_optimizer": aux_optimizer.state_dict() if aux_optimizer is not None else None,
        "lr_scheduler": lr_scheduler.state_dict() if lr_scheduler is not None else None,
        "step": int(step),
        "epoch": int(epoch),
        "meta": meta,
        "rng": rng,
        "train_state": train_state or {},
    }
    return atomic_write(path, lambda p: torch.save(ckpt, p))


def load_checkpoint_dict(path: str | os.PathLike, map_location: Any = "cpu") -> dict[str, Any]:
    """``torch.load`` a checkpoint with ``weights_only=True``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from e


def state_dict_of(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The model state dict inside a checkpoint (same keys as eval_model looks for)."""
    for key in ("network", "state_dict", "model_state_dict"):
        if key in ckpt and isinstance(ckpt[key], dict):
            return ckpt[key]
    return ckpt


# ----------------------------------------------------------------------------- RNG


def rng_state() -> dict[str, Any]:
    """Global RNG states (torch, CUDA, numpy, random) as tensors / plain values."""
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "python": _tuples_to_lists(random.getstate()),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(_lists_to_tuples(state["python"]))
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _tuples_to_lists(x: Any) -> Any:
    return [_tuples_to_lists(v) for v in x] if isinstance(x, (tuple, list)) else x


def _lists_to_tuples(x: Any) -> Any:
    return tuple(_lists_to_tuples(v) for v in x) if isinstance(x, (tuple, list)) else x


def strip_training_state(path: str | os.PathLike) -> Path:
    """Rewrite a finished checkpoint with weights and meta only (no optimizer, scheduler
    or RNG state): about a third of the size, for base models shipped in the repository.
    Such a file loads everywhere a checkpoint does but cannot resume training."""
    ckpt = load_checkpoint_dict(path)
    for key in ("optimizer", "aux_optimizer", "lr_scheduler", "rng"):
        ckpt[key] = None
    ckpt["meta"] = {**(ckpt.get("meta") or {}), "training_state": "stripped"}
    return atomic_write(path, lambda p: torch.save(ckpt, p))
