"""Model factory over CompressAI's zoo, and loading of our checkpoints.

The architectures (``vocab.ARCHITECTURES``):

- ``"cheng2020-attn"`` (the paper's protocol): ``compressai.models.Cheng2020Attention``
  initialised from CompressAI's pretrained weights of the matching quality and distortion
  (``pretrained="zoo"``: torch's cache, else downloaded when online).
- ``"scale-hyperprior"`` and ``"mean-scale-hyperprior"`` (the CPU protocol):
  ``compressai.models.ScaleHyperprior(N, M)`` / ``MeanScaleHyperprior(N, M)``, small
  (N, M set by the profile in ``config.py``), initialised from the project's own
  pretrained base models: ``pretrained=<dir>`` holding
  ``baseline-<distortion>-q<quality>/checkpoint.pth.tar`` (written by ``pretrain.pretrain``).
- ``"weconv-mean-scale-hyperprior"`` (ours, ``weconv.py``): the mean-scale hyperprior with
  wavelet-domain convolution blocks, sized as the above. CompressAI's zoo has neither its
  class nor weights: ``pretrained`` is "scratch", a folder of its base models or a file,
  and a checkpoint's meta says ``"compressai_arch": null`` with ``"model_class"`` naming
  the class (``load_checkpoint`` reads it; ``compressai.utils.eval_model`` cannot).

``pretrained`` is one of ``"zoo"`` (or True), ``"scratch"`` (random init: the only way
to get an untrained model, and recorded as such), a directory of base models, or a
checkpoint file (ours, or a CompressAI zoo / state-dict file).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .checkpoint import (CHECKPOINT_NAME, WeightsUnavailableError, fetch_weights, load_checkpoint_dict,
                         state_dict_of)
from ..files import portable_path
from ..vocab import ARCHITECTURES, WECONV, ZOO_ARCHITECTURES

# Names used by compressai.zoo and compressai.utils.eval_model (-a ARCH).
COMPRESSAI_ARCH = {"cheng2020-attn": "cheng2020-attn", "scale-hyperprior": "bmshj2018-hyperprior",
                   "mean-scale-hyperprior": "mbt2018-mean"}
# Our architectures: module (in this package) and class.
OWN_CLASSES = {WECONV: ("jndlc_helpers.codec.weconv", "WeConvMeanScaleHyperprior")}
DEFAULT_SMALL = (64, 96)  # hyperprior N, M when not given


def model_class(architecture: str) -> type[nn.Module]:
    """The model class of ``architecture``: CompressAI's zoo class, or ours."""
    _check_arch(architecture)
    if architecture in OWN_CLASSES:
        from importlib import import_module

        module, name = OWN_CLASSES[architecture]
        return getattr(import_module(module), name)
    from compressai.zoo.image import model_architectures

    return model_architectures[COMPRESSAI_ARCH[architecture]]


def class_meta(architecture: str) -> dict[str, str | None]:
    """What a checkpoint's meta says of the class: ``compressai_arch``, the name
    ``compressai.utils.eval_model -a`` takes; for ours None, and ``model_class``, the
    importable class ``load_checkpoint`` builds."""
    _check_arch(architecture)
    if architecture in OWN_CLASSES:
        return {"compressai_arch": None, "model_class": ".".join(OWN_CLASSES[architecture])}
    return {"compressai_arch": COMPRESSAI_ARCH[architecture]}


def zoo_sizes(architecture: str, quality: int) -> tuple[int, ...]:
    """(N,) or (N, M) of CompressAI's zoo model at ``quality``."""
    from compressai.zoo.image import cfgs

    _check_zoo(architecture)
    table = cfgs[COMPRESSAI_ARCH[architecture]]
    if quality not in table:
        raise ValueError(f"quality must be one of {sorted(table)} for {architecture}, got {quality}")
    return tuple(table[quality])


def zoo_url(architecture: str, quality: int, distortion: str) -> str:
    """URL of CompressAI's pretrained weights (file name = the torch hub cache name)."""
    from compressai.zoo.image import model_urls

    _check_zoo(architecture)
    try:
        return model_urls[COMPRESSAI_ARCH[architecture]][distortion][quality]
    except KeyError:
        raise ValueError(f"CompressAI has no pretrained {architecture} for distortion={distortion!r}, "
                         f"quality={quality}") from None


def build_model(architecture: str, quality: int, distortion: str, N: int | None = None, M: int | None = None,
                pretrained: str | os.PathLike | bool = "zoo", progress: bool = True) -> nn.Module:
    """A CompressAI model in train mode; see the module docstring for ``pretrained``."""
    return build_model_with_info(architecture, quality, distortion, N, M, pretrained, progress)[0]


def build_model_with_info(architecture: str, quality: int, distortion: str, N: int | None = None,
                          M: int | None = None, pretrained: str | os.PathLike | bool = "zoo",
                          progress: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """``build_model`` plus a JSON-able dict saying where the weights came from."""
    _check_arch(architecture)
    if pretrained is True:
        pretrained = "zoo"
    if pretrained is False or pretrained is None:
        raise ValueError("pretrained must be 'zoo', 'scratch', a directory or a checkpoint file; "
                         "random initialisation needs the explicit value 'scratch'")
    cls = model_class(architecture)
    if pretrained == "scratch":
        sizes = _scratch_sizes(architecture, quality, N, M)
        model = cls(*sizes)
        info = {"init": "scratch", "source": "random initialisation (pretrained='scratch')"}
    elif pretrained == "zoo":
        url = zoo_url(architecture, quality, distortion)
        path = fetch_weights(url, what=f"CompressAI pretrained {COMPRESSAI_ARCH[architecture]} "
                             f"(distortion={distortion}, quality={quality})", param="pretrained", progress=progress)
        model = _from_file(cls, path, N, M)
        info = {"init": "zoo", "source": url}
    else:
        path = Path(pretrained).expanduser()
        if path.is_dir():
            path = base_checkpoint(path, distortion, quality)
        elif not path.is_file():
            raise FileNotFoundError(f"pretrained={str(pretrained)!r}: not 'zoo', 'scratch', a directory or a file")
        model = _from_file(cls, path, N, M, expect=dict(architecture=architecture, metric=distortion, quality=quality))
        info = {"init": "file", "source": portable_path(path)}
    info.update(architecture=architecture, quality=quality, metric=distortion, **model_sizes(model))
    return model.train(), info


def base_checkpoint(base_dir: str | os.PathLike, distortion: str, quality: int) -> Path:
    """``<base_dir>/baseline-<distortion>-q<quality>/checkpoint.pth.tar`` of a finished pretraining."""
    run = Path(base_dir) / f"baseline-{distortion}-q{quality}"
    ckpt = run / CHECKPOINT_NAME
    if not ckpt.is_file():
        raise WeightsUnavailableError(
            f"{ckpt}: no pretrained base model for distortion={distortion}, quality={quality}; build it with "
            f"jndlc_helpers.codec.pretrain.pretrain({str(base_dir)!r}, ...) or pass pretrained='scratch'")
    if not (run / "done.json").is_file():
        raise WeightsUnavailableError(
            f"{run}: pretraining not finished (no done.json); rerun pretrain.pretrain (it resumes), "
            f"or pass the file itself as pretrained={str(ckpt)!r} to use it unfinished")
    return ckpt


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu",
                    architecture: str | None = None) -> tuple[nn.Module, dict[str, Any]]:
    """(model, meta) from one of our checkpoints: updated (update(force=True)), eval mode.

    ``architecture`` is read from the checkpoint's meta unless given.
    """
    ckpt = load_checkpoint_dict(path)
    meta = dict(ckpt.get("meta") or {})
    arch = architecture or meta.get("architecture")
    if arch is None:
        raise ValueError(f"{path}: no architecture in the checkpoint's meta; pass architecture=...")
    model = model_class(arch).from_state_dict(_compressai_keys(state_dict_of(ckpt)))
    model.update(force=True)
    return model.to(device).eval(), meta


def model_sizes(model: nn.Module) -> dict[str, int | None]:
    return {"N": getattr(model, "N", None), "M": getattr(model, "M", None)}


def entropy_models_in_fp32(model: nn.Module) -> nn.Module:
    """Run every entropy model of ``model`` in float32, even under autocast.

    Under bf16 autocast the likelihoods (and so the rate term) would be computed from
    bf16 logits of the CDF, far too coarse for -log2 p. The transforms keep the
    autocast; each entropy model gets float32 inputs and autocast disabled. Idempotent.
    """
    from compressai.entropy_models import EntropyModel

    for module in model.modules():
        if isinstance(module, EntropyModel) and not getattr(module, "_jndlc_fp32", False):
            module.forward = _fp32_forward(module.forward)
            module._jndlc_fp32 = True
    return model


# Under bf16 autocast these run in float32: the latents y and z (the last layer of g_a
# and h_a; bf16 would round y to steps of 0.25 at |y| = 50, against quantisation steps
# of 1), everything that predicts the entropy models' means and scales (h_s, Cheng2020's
# context model and entropy parameters), and the first layer of g_s, which reads y_hat.
# The convolutions at full and half resolution, most of the cost, keep the autocast.
FP32_MODULES = ("h_s", "context_prediction", "entropy_parameters")
FP32_LAST_LAYER = ("g_a", "h_a")
FP32_FIRST_LAYER = ("g_s",)


def amp_in_fp32(model: nn.Module) -> nn.Module:
    """Keep the precision-critical parts of ``model`` in float32 under autocast
    (``FP32_MODULES`` and friends, and every entropy model). Idempotent."""
    entropy_models_in_fp32(model)
    parts = [getattr(model, n, None) for n in FP32_MODULES]
    parts += [_layer(getattr(model, n, None), -1) for n in FP32_LAST_LAYER]
    parts += [_layer(getattr(model, n, None), 0) for n in FP32_FIRST_LAYER]
    for module in parts:
        if isinstance(module, nn.Module) and not getattr(module, "_jndlc_fp32", False):
            module.forward = _fp32_forward(module.forward)
            module._jndlc_fp32 = True
    return model


def _layer(module: nn.Module | None, index: int) -> nn.Module | None:
    """A layer of a Sequential (the module itself otherwise)."""
    return module[index] if isinstance(module, nn.Sequential) and len(module) else module


def _fp32_forward(forward):
    def wrapped(*args: Any, **kwargs: Any):
        args = [a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
        kwargs = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in kwargs.items()}
        device = next((a.device.type for a in args if torch.is_tensor(a)), "cpu")
        with torch.autocast(device_type=device, enabled=False):
            return forward(*args, **kwargs)

    return wrapped


# ----------------------------------------------------------------------------- helpers


def _check_arch(architecture: str) -> None:
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}")


def _check_zoo(architecture: str) -> None:
    _check_arch(architecture)
    if architecture not in ZOO_ARCHITECTURES:
        raise WeightsUnavailableError(
            f"CompressAI's zoo has no pretrained {architecture} (an architecture of this package): pass "
            "pretrained='scratch', a folder of its base models or a checkpoint file")


def _scratch_sizes(architecture: str, quality: int, N: int | None, M: int | None) -> tuple[int, ...]:
    if architecture == "cheng2020-attn":
        if M is not None:
            raise ValueError("cheng2020-attn has a single size N; M must be None")
        return (N or zoo_sizes(architecture, quality)[0],)
    n, m = DEFAULT_SMALL
    return (N or n, M or m)


def _compressai_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    from compressai.zoo.pretrained import load_pretrained

    return load_pretrained(state_dict)  # old zoo key names, DataParallel "module." prefix


# The entropy models' tables: their sizes follow the learned quantiles and scales.
CDF_BUFFERS = ("_quantized_cdf", "_offset", "_cdf_length", "scale_table")


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """``model.load_state_dict`` that also takes entropy-model tables of another size.

    CompressAI resizes these only when the model's are empty; a model built from one
    checkpoint (a warm start) and resumed from another holds tables of another length.
    """
    own = dict(model.named_buffers())
    for key, value in state_dict.items():
        if key in own and key.rsplit(".", 1)[-1] in CDF_BUFFERS and own[key].shape != value.shape:
            own[key].resize_(value.shape)
    model.load_state_dict(state_dict)
    return model


def _from_file(cls: type[nn.Module], path: Path, N: int | None, M: int | None,
               expect: dict[str, Any] | None = None) -> nn.Module:
    ckpt = load_checkpoint_dict(path)
    meta = ckpt.get("meta") if isinstance(ckpt.get("meta"), dict) else {}
    if expect and meta:
        if meta.get("architecture") not in (None, expect["architecture"]):
            raise ValueError(f"{path}: a {meta['architecture']} checkpoint, not {expect['architecture']}")
        for key in ("metric", "quality"):
            if meta.get(key) is not None and meta[key] != expect[key]:
                warnings.warn(f"{path}: initialising a {key}={expect[key]} model from a {key}={meta[key]} "
                              "checkpoint", stacklevel=3)
    try:
        model = cls.from_state_dict(_compressai_keys(state_dict_of(ckpt)))
    except (KeyError, RuntimeError) as e:
        raise ValueError(f"{path}: not a {cls.__name__} state dict ({type(e).__name__}: {e})") from e
    for name, want in (("N", N), ("M", M)):
        have = getattr(model, name, None)
        if want is not None and have != want:
            raise ValueError(f"{path}: has {name}={have}, but {name}={want} was asked for")
    return model
