"""Train a JPEG preprocessor: ``rate + lambda * distortion`` through the simulator.

A loop you can read top to bottom. Each step takes random 16-aligned crops of the
training images (JND pairs, and unlabelled photographs whose JND image is the
original), one quality factor, and each crop's lambda: its image's own JPEG slope at
that quality (``classical.jpeg_slope``, in the family's distortion) times
``multiplier``. The distortion is any loss of ``codec.losses`` (the baseline's MSE or
1 - MS-SSIM, PWL, IWL, IWL-hinge, FWL) on the simulated JPEG reconstruction; MSE-based
losses add the relaxation's exact variance term. The run folder holds ``log.jsonl``, an
atomically written ``checkpoint.pt`` (resumed from after an interruption) and, when
done, the half-precision ``weights.pt`` and ``done``.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from . import classical as C
from . import preprocess as PP
from . import simulator as S
from .rate import RateProxy, expected_bits
from ..files import atomic_write, load_rgb, write_json
from ..vocab import DISTORTIONS, MSSSIM_PATCH

SURROGATES = ("expected", "straight-through")


@dataclass
class TrainConfig:
    loss: str = "baseline"
    distortion: str = "mse"
    steps: int = 300
    batch_size: int = 4
    patch_size: int = 128
    qualities: Sequence[int] = (20, 30, 40, 50, 60, 70, 80, 90)
    lr: float = 1e-3
    width_start: float = 8.0  # bits: the ramp's width, annealed geometrically
    width_end: float = 1.0
    multiplier: float = C.DEFAULT_MULTIPLIER
    hidden: int = 48
    seed: int = 0
    checkpoint_every: int = 50
    fwl_weight: float = 0.9
    features: str = "nlpd"
    # "expected": the expected-cost relaxation; "straight-through": hard levels forward,
    # the ramp's gradient backward, no variance term (the biased surrogate, for comparison)
    surrogate: str = "expected"
    extra: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        """ValueError naming the first bad knob."""
        from ..codec.losses import LOSS_NAMES

        if self.loss not in LOSS_NAMES:
            raise ValueError(f"loss must be one of {LOSS_NAMES}, got {self.loss!r}")
        if self.distortion not in DISTORTIONS:
            raise ValueError(f"distortion must be one of {DISTORTIONS}, got {self.distortion!r}")
        for name in ("steps", "batch_size", "patch_size", "hidden", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        if self.patch_size % S.MCU:
            raise ValueError(f"patch_size must be a multiple of {S.MCU}, got {self.patch_size}")
        for q in self.qualities:
            S.check_quality(q)
        if not self.multiplier > 0:
            raise ValueError(f"multiplier must be > 0, got {self.multiplier!r}")
        if self.surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}, got {self.surrogate!r}")

    def patch(self) -> int:
        return max(self.patch_size, MSSSIM_PATCH) if self.distortion == "ms-ssim" else self.patch_size


@dataclass
class TrainImage:
    name: str
    ref: np.ndarray
    jnd: np.ndarray
    slopes: dict[tuple[str, int], float] = field(default_factory=dict)


def load_training_images(pairs: Sequence[tuple[Path, Path]], unlabelled: Sequence[Path] = ()) -> list[TrainImage]:
    """JND pairs (ref, jnd) and unlabelled photographs (their own JND image)."""
    out = []
    for ref, jnd in pairs:
        a, b = load_rgb(ref), load_rgb(jnd)
        if a.shape != b.shape:
            raise ValueError(f"{jnd}: size {b.shape} differs from its reference {ref} {a.shape}")
        out.append(TrainImage(Path(ref).stem, a, b))
    out += [TrainImage(Path(p).stem, img, img) for p in unlabelled for img in [load_rgb(p)]]
    if not out:
        raise ValueError("no training images: give JND pairs or unlabelled photographs")
    return out


def slope(img: TrainImage, distortion: str, quality: int) -> float:
    """The image's JPEG slope (cached); the median-free fallback for a flat image is 1e-3."""
    key = (distortion, quality)
    if key not in img.slopes:
        v = C.jpeg_slope(img.ref, quality, distortion)
        img.slopes[key] = v if math.isfinite(v) and v > 0 else 1e-3
    return img.slopes[key]


def sample_batch(images: list[TrainImage], cfg: TrainConfig, rng: np.random.Generator):
    """(x_o, x_j on the 8-bit scale, quality, MSE lambdas, the family's lambdas)."""
    q = int(rng.choice(cfg.qualities))
    p = cfg.patch()
    xo, xj, lam_mse, lam_d = [], [], [], []
    for i in rng.integers(0, len(images), cfg.batch_size):
        img = images[i]
        h, w = img.ref.shape[:2]
        if h < p or w < p:
            raise ValueError(f"training image {img.name} ({w}x{h}) is smaller than patch_size {p}")
        top, left = rng.integers(0, (h - p) // S.MCU + 1) * S.MCU, rng.integers(0, (w - p) // S.MCU + 1) * S.MCU
        xo.append(img.ref[top:top + p, left:left + p])
        xj.append(img.jnd[top:top + p, left:left + p])
        lam_mse.append(slope(img, "mse", q) * cfg.multiplier)
        lam_d.append(slope(img, cfg.distortion, q) * cfg.multiplier)
    as_t = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float()  # noqa: E731
    return as_t(xo), as_t(xj), q, torch.tensor(lam_mse), torch.tensor(lam_d)


def step_loss(model: PP.Preprocessor, loss_fn, batch, cfg: TrainConfig, proxy: RateProxy, width: float) -> dict:
    """The relaxed expected cost of one batch and its parts (bpp, distortion)."""
    xo, xj, q, lam_mse, lam_d = batch
    u, scores = PP.decide(model, xo, q, lam_mse, proxy)
    means, probs = PP.relaxed_levels(u, scores, width)
    if cfg.surrogate == "straight-through":
        hard = [c.detach() for c in PP.relaxed_levels(u, scores, 1e-9)[0]]
        means = S.Coefficients(*(h + m - m.detach() for h, m in zip(hard, means)))
    size = tuple(xo.shape[-2:])
    x_hat = S.synthesise(means, q, size) / 255
    npix = size[0] * size[1]
    bpp = sum(expected_bits(proxy, torch.floor(c), p, g) for g, (c, p) in enumerate(zip(u, probs))) / npix
    dist = torch.stack([loss_fn.distortion(x_hat[i:i + 1], xo[i:i + 1] / 255, xj[i:i + 1] / 255, {})
                        for i in range(len(xo))])
    if cfg.distortion == "mse" and cfg.surrogate == "expected":  # E[MSE] = MSE of the mean + the variance
        dist = dist + (cfg.fwl_weight if cfg.loss == "fwl" else 1.0) * PP.variance_sse(probs, q) / npix
    total = (bpp + lam_d * dist).mean()
    return {"loss": total, "bpp": bpp.mean(), "distortion": dist.mean()}


def _save_checkpoint(path: Path, model, opt, step: int, rng: np.random.Generator) -> None:
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
             "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state()}
    atomic_write(path, lambda p: torch.save(state, p))


def _resume(path: Path, model, opt, rng: np.random.Generator) -> int:
    if not path.is_file():
        return 0
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
    except Exception as e:  # torch.load raises many kinds on a foreign file
        raise ValueError(f"{path}: unreadable training checkpoint ({e}); delete it to start over") from e
    rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])


def train_preprocessor(run_dir: str | os.PathLike, images: list[TrainImage], cfg: TrainConfig,
                       proxy: RateProxy, progress: bool = False, stop_after: int | None = None) -> Path | None:
    """Train (or resume, or skip when done) one preprocessor; returns its weights file.
    ``stop_after`` ends this call at that step with a checkpoint (None returned), as an
    interruption would; a later call resumes."""
    from ..codec.losses import make_loss

    cfg.check()
    run_dir = Path(run_dir)
    weights = run_dir / "weights.pt"
    if (run_dir / "done").exists() and weights.is_file():
        return weights
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", asdict(cfg) | {"qualities": list(cfg.qualities)})
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = PP.Preprocessor(cfg.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    start = _resume(run_dir / "checkpoint.pt", model, opt, rng)
    loss_fn = make_loss(cfg.loss, cfg.distortion, 1.0, features=cfg.features if cfg.loss == "fwl" else None,
                        fwl_weight=cfg.fwl_weight)
    t0 = time.perf_counter()
    for step in range(start, min(cfg.steps, stop_after or cfg.steps)):
        width = cfg.width_start * (cfg.width_end / cfg.width_start) ** (step / max(cfg.steps - 1, 1))
        out = step_loss(model, loss_fn, sample_batch(images, cfg, rng), cfg, proxy, width)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        _log(run_dir, step, out, width, time.perf_counter() - t0, progress)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 in (cfg.steps, stop_after):
            _save_checkpoint(run_dir / "checkpoint.pt", model, opt, step + 1, rng)
    if stop_after is not None and stop_after < cfg.steps:
        return None
    PP.save_weights(weights, model, asdict(cfg) | {"qualities": list(cfg.qualities)})
    (run_dir / "done").write_text("")
    return weights


def _log(run_dir: Path, step: int, out: dict, width: float, elapsed: float, progress: bool) -> None:
    row = {"step": step + 1, **{k: float(v.detach()) for k, v in out.items()}, "width": width, "elapsed_s": elapsed}
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")
    if progress and (step + 1) % 25 == 0:
        print(f"step {step + 1}: loss {row['loss']:.4f} bpp {row['bpp']:.3f} D {row['distortion']:.4g} "
              f"({elapsed:.0f} s)", flush=True)
