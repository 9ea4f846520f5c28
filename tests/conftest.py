"""Shared fixtures: tiny synthetic images and paired-dataset trees."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest
import torch
from PIL import Image

from jndlc_helpers.codec.checkpoint import OFFLINE_ENV

if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs one pytest worker per core: one thread each, in the notebook kernels
    # and training processes they start too, rather than cores x cores threads.
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def smooth_rgb(h: int = 64, w: int = 48, seed: int = 0, high: int = 200) -> np.ndarray:
    """A photo-like (H, W, 3) uint8 image: smooth gradients plus mild noise, values 0..high."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(3 * xx + c + seed) * np.cos(2 * yy - c) for c in (0.0, 1.0, 2.0)], axis=-1)
    img = (base + 1) / 2 * high + rng.normal(0, 6, (h, w, 3))
    return np.clip(np.round(img), 0, high).astype(np.uint8)


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


@pytest.fixture
def make_rgb() -> Callable[..., np.ndarray]:
    """Factory: make_rgb(h, w, seed, high) -> (H, W, 3) uint8."""
    return smooth_rgb


@pytest.fixture
def make_pairs(tmp_path: Path) -> Callable[..., Path]:
    """Factory writing root/<split>/{Ref,JND1}/<stem>.png with JND1 = Ref + offset.

    make_pairs(stems, split="train", size=(64, 48), offset=20, root=None) -> root.
    Each stem gets its own content (seeded by its index), values <= 200 so the
    offset never clips: x_j - x_o == offset / 255 everywhere.
    """

    def _make(stems: Sequence[str], split: str = "train", size: tuple[int, int] = (64, 48),
              offset: int = 20, root: Path | None = None) -> Path:
        root = Path(root or tmp_path / "pairs")
        for i, stem in enumerate(stems):
            ref = smooth_rgb(size[0], size[1], seed=i)
            write_png(root / split / "Ref" / f"{stem}.png", ref)
            write_png(root / split / "JND1" / f"{stem}.png", (ref.astype(np.int16) + offset).astype(np.uint8))
        return root

    return _make


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub cache and downloads forbidden."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setenv(OFFLINE_ENV, "1")
    yield tmp_path / "hub" / "checkpoints"
    torch.hub.set_dir(old)


SMOKE_MODELS = Path(__file__).resolve().parents[1] / "data" / "pretrained" / "smoke"


@pytest.fixture(scope="session")
def smoke_models() -> Path:
    """The smoke profile's base models (tiny hyperpriors, qualities 1, 2, 4, 6)."""
    return SMOKE_MODELS


@pytest.fixture(scope="session")
def smoke_family():
    """The smoke base models trained for MSE, as ``atjnd.models.ModelRef``s by quality."""
    from jndlc_helpers.atjnd import models

    return models.family(SMOKE_MODELS, "mse")
