"""A run's configuration: one frozen, typed object, validated once where it is made.

``RunConfig`` is made from a profile (``from_profile``), the command line
(``cli.py``) or by hand, and passed whole through pretraining, the grid and the
training loop. Its ``identity`` is what ``config.json`` records and what names a run
(its digest, less the budget); the keys written there keep their first spelling
(``"metric"`` for the distortion) so that runs trained earlier keep their digest.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from .. import config as cfgmod
from .. import provenance, vocab
from ..files import params_digest, portable_path
from . import losses, models
from .features import check_input_scale

Path_ = str | os.PathLike
LR_SCHEDULES = ("plateau", "cosine")
PATCH_MULTIPLE = 64  # g_a (/16) then h_a (/4) in every architecture
BUDGET_KEYS = ("epochs", "max_steps")  # not part of a run's identity: rerun with more to extend it


@dataclass(frozen=True)
class RunConfig:
    """One training run: what it learns, from what, on what data, for how long, and how it runs.

    ``lmbda`` None means the paper's lambda for (distortion, quality) (``lam``). MS-SSIM
    runs on folders of images train on patches of at least ``msssim_patch_size`` px.
    """
    loss: str = vocab.CONTROL
    method: str | None = None  # the tables' name for the run (a loss or ``config.METHOD_VARIANTS``); None: loss
    distortion: str = "mse"
    quality: int = 1
    lmbda: float | None = None
    # data
    data_root: Path_ | None = None
    unlabelled_root: Path_ | None = None
    decode_cache: Path_ | None = None
    patch_size: int = 256
    msssim_patch_size: int = vocab.MSSSIM_PATCH
    # model
    architecture: str = "scale-hyperprior"
    N: int | None = None
    M: int | None = None
    init: Path_ = "scratch"
    # FWL's feature extractor F
    features: str = "nlpd"
    feature_weights: Path_ | None = None
    feature_input: str = "unit"  # features.INPUT_SCALES
    fwl_weight: float = 0.9
    feature_scale: float = 1.0  # c, the feature term's scale (ours; the paper's is 1)
    feature_share: float | None = None  # set c on the training images so the feature term is this share of D
    # budget and optimisation
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int = 16
    lr: float = 1e-4
    aux_lr: float = 1e-3
    clip_max_norm: float = 1.0
    lr_schedule: str = "plateau"
    scheduler_every: int | None = None
    seed: int = 0
    # how it runs (changes no result beyond rounding)
    device: str = "auto"
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    num_workers: int = 0
    checkpoint_every: int = 100
    log_every: int = 1
    tensorboard: bool = False
    progress: bool = True
    overwrite: bool = False

    def __post_init__(self) -> None:
        """Fail early, naming the parameter, on a configuration no run can use."""
        if self.loss not in losses.LOSS_NAMES:
            raise ValueError(f"loss={self.loss!r}: choose one of {losses.LOSS_NAMES}")
        if self.distortion not in vocab.DISTORTIONS:
            raise ValueError(f"distortion={self.distortion!r}: choose one of {vocab.DISTORTIONS}")
        cfgmod.lambda_for(self.distortion, self.quality)  # the quality's range
        check_input_scale(self.features, self.feature_input)
        if not 0.0 <= self.fwl_weight <= 1.0 or not self.feature_scale > 0:
            raise ValueError(f"fwl_weight={self.fwl_weight} must be in [0, 1] and feature_scale="
                             f"{self.feature_scale} > 0")
        if self.feature_share is not None and not (0.0 < self.feature_share < 1.0 and self.fwl_weight > 0):
            raise ValueError(f"feature_share={self.feature_share} must be in (0, 1), with fwl_weight > 0")
        if self.architecture not in models.ARCHITECTURES:
            raise ValueError(f"architecture={self.architecture!r}: choose one of {models.ARCHITECTURES}")
        if self.epochs is None and self.max_steps is None:
            raise ValueError("give a budget: epochs=... or max_steps=...")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}: choose one of {LR_SCHEDULES}")
        if self.checkpoint_every < 1 or self.log_every < 1:
            raise ValueError("checkpoint_every and log_every must be >= 1")

    @property
    def lam(self) -> float:
        """The run's lambda: ``lmbda``, or the paper's for (distortion, quality)."""
        return cfgmod.lambda_for(self.distortion, self.quality) if self.lmbda is None else float(self.lmbda)

    @property
    def name(self) -> str:
        return vocab.run_name(self.method or self.loss, self.distortion, self.quality)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)

    def for_run(self, method: str, distortion: str, quality: int) -> RunConfig:
        """This config for one (method, distortion, quality) of a grid: the method's loss
        and settings (``config.method_settings``; w = 1 - share for a share-calibrated
        FWL), the paper's lambda, and MS-SSIM patches of at least ``msssim_patch_size``
        (5 scales need > 160 px)."""
        settings = cfgmod.method_settings(method)
        if settings.get("feature_share") is not None:
            settings.setdefault("fwl_weight", 1.0 - settings["feature_share"])
        patch = max(self.patch_size, self.msssim_patch_size) if distortion == "ms-ssim" else self.patch_size
        return self.replace(**settings, method=None if method == settings["loss"] else method,
                            distortion=distortion, quality=quality, lmbda=None, patch_size=patch)

    def identity(self, run_dir: Path_, dataset: Any = None) -> dict[str, Any]:
        """config.json's "config": what the run is. Paths are relative to the repository
        when inside it, else to the run folder."""
        fwl = self.loss == "fwl"

        def path(p: Any) -> str | None:
            return portable_path(p, start=run_dir)

        cfg = {
            "loss": self.loss, "metric": self.distortion, "quality": self.quality, "lambda": self.lam,
            "architecture": self.architecture, "N": self.N, "M": self.M, "init": path(self.init),
            "features": self.features if fwl else None,
            "feature_weights": path(self.feature_weights) if fwl and self.feature_weights else None,
            "fwl_weight": self.fwl_weight if fwl else None,
            "data_root": None if dataset is not None else path(self.data_root),
            "unlabelled_root": None if dataset is not None else path(self.unlabelled_root),
            "dataset": None if dataset is None else f"{type(dataset).__name__}(n={len(dataset)})",
            "patch_size": None if dataset is not None else self.patch_size,
            "epochs": self.epochs, "max_steps": self.max_steps, "batch_size": self.batch_size,
            "lr": self.lr, "aux_lr": self.aux_lr, "clip_max_norm": self.clip_max_norm,
            "scheduler_every": self.scheduler_every, "seed": self.seed, "amp": bool(self.amp),
        }
        if self.lr_schedule != "plateau":  # absent by default, so that earlier runs keep their digest
            cfg["lr_schedule"] = self.lr_schedule
        if fwl:
            cfg.update(self._fwl_identity())
        return cfg

    def _fwl_identity(self) -> dict[str, Any]:
        """FWL's knobs added after runs were archived, each absent where it has the value
        those runs had: F's input (absent: Caffe's, what every vgg16-hed run used before
        the knob), c (absent: 1) and the calibrated share (absent: none)."""
        out: dict[str, Any] = {}
        if self.features == "vgg16-hed" and self.feature_input != "caffe":
            out["feature_input"] = self.feature_input
        if self.feature_scale != 1.0:
            out["feature_scale"] = self.feature_scale
        if self.feature_share is not None:
            out["feature_share"] = self.feature_share
        return out

    @classmethod
    def from_profile(cls, params: dict[str, Any], **changes: Any) -> RunConfig:
        """The runs of a ``config.profile(...)``, with ``changes`` (e.g. loss, distortion, quality)."""
        knobs = dict(
            data_root=params.get("data_root"), unlabelled_root=params.get("unlabelled_root"),
            architecture=params["architecture"], N=params.get("model_N"), M=params.get("model_M"),
            init=params["pretrained"], features=params["feature_extractor"], fwl_weight=params["fwl_weight"],
            feature_input=params.get("feature_input", "unit"),
            epochs=params.get("epochs"), max_steps=params.get("max_steps"), batch_size=params["batch_size"],
            patch_size=params["patch_size"], lr=params["lr"], aux_lr=params["aux_lr"],
            clip_max_norm=params["clip_max_norm"], num_workers=params.get("num_workers", 0),
            device=params.get("device", "auto"), seed=params.get("seed", 0),
        )
        return cls(**{**knobs, **changes})


def identity_digest(identity: dict[str, Any]) -> str:
    """The digest that names a run: its identity less the budget."""
    return params_digest({k: v for k, v in identity.items() if k not in BUDGET_KEYS})


def run_labels(identity: dict[str, Any], init_info: dict[str, Any]) -> list[str]:
    """Honest labels for everything that differs from the paper's protocol."""
    labels = []
    if identity["loss"] == "iwl-hinge":
        labels.append("iwl-hinge is our extension, not a loss of the paper")
    if identity.get("features") not in (None, "vgg16"):
        labels.append(f"offline FWL features ({identity['features']}), not the paper's ImageNet VGG16")
    if identity.get("features") == "vgg16-hed" and "feature_input" not in identity:
        labels.append("FWL's F fed Caffe's input (0-255 BGR minus the mean), not the [0, 1] image")
    if identity.get("feature_share") is not None or identity.get("feature_scale") is not None:
        labels.append("FWL's feature term rescaled (ours: the paper leaves w's reasoning and F's scale unstated)")
    if identity["architecture"] != "cheng2020-attn":
        labels.append(f"small {identity['architecture']} (N={init_info['N']}, M={init_info['M']}), "
                      "not the paper's Cheng2020-attention")
    if init_info["init"] == "scratch":
        labels.append("trained from scratch, not fine-tuned from pretrained weights")
    return labels


def run_meta(cfg: RunConfig, identity: dict[str, Any], digest: str, init_info: dict[str, Any],
             total_steps: int) -> dict[str, Any]:
    """A checkpoint's meta: what was trained, from what, with what."""
    return {
        "method": cfg.method or cfg.loss, "loss": cfg.loss, "architecture": cfg.architecture,
        **models.class_meta(cfg.architecture),
        "N": init_info["N"], "M": init_info["M"], "metric": cfg.distortion, "quality": cfg.quality,
        "lambda": cfg.lam, "init": init_info, "features": identity["features"], "fwl_weight": identity["fwl_weight"],
        "data": identity["dataset"] or identity["data_root"], "unlabelled": identity["unlabelled_root"],
        "batch_size": cfg.batch_size, "patch_size": identity["patch_size"], "total_steps": total_steps,
        "config_digest": digest, "labels": run_labels(identity, init_info), "git_commit": provenance.git_commit(),
        "versions": provenance.versions(),
    }


def check_patch_size(size: int, distortion: str, what: str = "patch_size=") -> None:
    """Patches must survive the codecs' 64x downsampling and, for MS-SSIM, its 5 scales."""
    if size % PATCH_MULTIPLE:
        raise ValueError(f"{what}{size} px: must be a multiple of {PATCH_MULTIPLE} (the models downsample "
                         f"by {PATCH_MULTIPLE}); set patch_size")
    if distortion == "ms-ssim" and size < vocab.MSSSIM_MIN_SIDE:
        raise ValueError(f"{what}{size} px is too small for MS-SSIM (5 scales need > 160 px): "
                         f"use patch_size >= {vocab.MSSSIM_PATCH}")
