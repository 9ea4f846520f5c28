"""Trained models as the command line names them: a model's folder (a training run's or a
base model's: ``checkpoint.pth.tar``, with what it is in the checkpoint's meta), a family
folder holding ``<method>-<distortion>-q<quality>/`` model folders, and the lookup of the
model a file names by its checkpoint digest."""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from ..codec.checkpoint import CHECKPOINT_NAME
from ..files import file_digest

DIGEST_CHARS = 16  # hex digits kept: the evaluation tables' checkpoint_digest
# Where ``decompress`` looks for the model a file names when no --model is given
# (relative to the project root): the shipped base models.
MODEL_SEARCH = ("data/pretrained",)


class ModelError(ValueError):
    """A model folder that cannot be used; the message names it."""


@dataclass(frozen=True)
class ModelRef:
    """One trained model: its checkpoint file and what it is."""

    checkpoint: Path
    architecture: str
    distortion: str
    quality: int
    N: int
    M: int
    digest: str

    def describe(self) -> str:
        return (f"{self.architecture} N={self.N} M={self.M} {self.distortion} q{self.quality} "
                f"(checkpoint sha256 {self.digest}...)")


def checkpoint_of(folder: str | os.PathLike) -> Path:
    """A model folder's checkpoint (or the file itself)."""
    path = Path(folder)
    if path.is_file():
        return path
    if (path / CHECKPOINT_NAME).is_file():
        return path / CHECKPOINT_NAME
    if not path.exists():
        raise ModelError(f"--model {path}: not found")
    raise ModelError(f"--model {path}: no {CHECKPOINT_NAME} in it (a model's folder, a run's or a base model's)")


@functools.lru_cache(maxsize=64)
def _ref(checkpoint: Path, mtime: float) -> ModelRef:
    from ..codec.checkpoint import load_checkpoint_dict

    try:
        meta = load_checkpoint_dict(checkpoint).get("meta") or {}
    except (ValueError, FileNotFoundError) as e:
        raise ModelError(str(e)) from None
    missing = [k for k in ("architecture", "metric", "quality") if k not in meta]
    if missing:
        raise ModelError(f"{checkpoint}: its meta lacks {missing}: not one of this package's checkpoints")
    return ModelRef(checkpoint, meta["architecture"], meta["metric"], int(meta["quality"]),
                    int(meta.get("N") or 0), int(meta.get("M") or 0), file_digest(checkpoint)[:DIGEST_CHARS])


def model_ref(folder: str | os.PathLike) -> ModelRef:
    """The model in ``folder`` (a model's folder or its checkpoint file)."""
    ckpt = checkpoint_of(folder).resolve()
    return _ref(ckpt, ckpt.stat().st_mtime)


def family(folder: str | os.PathLike, distortion: str) -> list[ModelRef]:
    """The models of ``distortion`` in a family folder, by quality (one per quality: the
    first method in name order), or the one model when ``folder`` is a model's folder."""
    path = Path(folder)
    if path.is_file() or (path / CHECKPOINT_NAME).is_file():
        return [model_ref(path)]
    if not path.is_dir():
        raise ModelError(f"--model {path}: not found")
    pattern = re.compile(rf".+-{re.escape(distortion)}-q(\d+)$")
    found: dict[int, ModelRef] = {}
    for sub in sorted(path.iterdir()):
        if pattern.match(sub.name) and (sub / CHECKPOINT_NAME).is_file():
            ref = model_ref(sub)
            found.setdefault(ref.quality, ref)
    if not found:
        raise ModelError(f"--model {path}: no <method>-{distortion}-q<quality>/{CHECKPOINT_NAME} in it")
    return [found[q] for q in sorted(found)]


@functools.lru_cache(maxsize=8)
def load(ref: ModelRef) -> nn.Module:
    """The model, entropy coders updated, in eval mode (kept for the next call)."""
    from ..codec.models import load_checkpoint

    return load_checkpoint(ref.checkpoint)[0]


def find(digest: str, folders: list[str | os.PathLike]) -> ModelRef | None:
    """The model whose checkpoint digest is ``digest`` under ``folders`` (searched in depth)."""
    for folder in folders:
        folder = Path(folder)
        candidates = [folder] if folder.is_file() else sorted(folder.rglob(CHECKPOINT_NAME)) if folder.is_dir() else []
        for ckpt in candidates:
            if file_digest(ckpt)[:DIGEST_CHARS] == digest:
                return model_ref(ckpt)
    return None


def search_folders() -> list[Path]:
    """``MODEL_SEARCH`` under the project root."""
    from ..reproduce import project_root

    return [project_root() / p for p in MODEL_SEARCH]
