"""Our own base models: the baseline trained per (distortion, quality) on a photo corpus
(``config.PRETRAIN``), the models fine-tuning starts from in the smoke and quick profiles."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from torch.utils.data import Dataset

from .. import config as cfgmod
from ..vocab import CONTROL, run_name
from .checkpoint import WeightsUnavailableError
from .grid import run_grid
from .runconfig import RunConfig
from .runfolder import DONE_NAME, RunFolder


def pretrain(out_dir: str | os.PathLike, distortions: Iterable[str], qualities: Iterable[int], base: RunConfig, *,
             warm_steps: int | Mapping[int, int] | None = None, anchor_quality: int | None = None,
             warm_start: bool = True, warm_lr: float | None = None,
             dataset: Dataset | None = None) -> dict[str, Path]:
    """Base models for the small architecture: the baseline of ``base`` per (distortion,
    quality) into ``out_dir/baseline-<distortion>-q<quality>/``, which
    ``models.build_model(..., pretrained=out_dir)`` loads. Resumable: rerun to continue.

    With ``warm_start`` only one model starts from scratch, for ``base.max_steps``: MSE
    at ``anchor_quality`` (default: the middle of ``qualities``). The other MSE models
    start in a chain from it, each from its neighbour on the anchor's side (1 <- 3 <- 5
    -> 6: one lambda step at a time, so a short run reaches the new rate), and each
    MS-SSIM model from the MSE model of its quality, for ``warm_steps`` (default
    ``max_steps // 4``; or {quality: steps}) at ``warm_lr`` (default: ``base.lr``). A warm
    start whose source is not finished is an error (not a silent run from scratch):
    train the source first, or pass ``warm_start=False``. Each run's meta records where
    it started."""
    if str(base.init) != "scratch":
        raise ValueError("pretrain chooses its own init; leave init='scratch'")
    qualities = list(qualities)
    anchor = anchor_quality if anchor_quality is not None else qualities[len(qualities) // 2]
    warm_steps = warm_steps or max(base.max_steps // 4, 1)
    out: dict[str, Path] = {}
    for distortion, q in _pretrain_order(list(distortions), qualities, anchor):
        source = _warm_source(out_dir, distortion, q, qualities, anchor) if warm_start else None
        run = base if source is None else base.replace(init=str(source), max_steps=_warm_steps_at(warm_steps, q),
                                                       lr=base.lr if warm_lr is None else warm_lr)
        out.update(run_grid(out_dir, [CONTROL], [distortion], [q], run, dataset=dataset))
    return out


def _pretrain_order(distortions: list[str], qualities: list[int], anchor: int) -> list[tuple[str, int]]:
    """The MSE anchor, the other MSE models outward from it, then every other distortion."""
    jobs = [("mse", anchor)] if "mse" in distortions and anchor in qualities else []
    jobs += [("mse", q) for q in sorted(qualities, key=lambda q: abs(q - anchor)) if "mse" in distortions
             and q != anchor]
    return jobs + [(d, q) for d in distortions if d != "mse" for q in qualities]


def _warm_steps_at(warm_steps: int | Mapping[int, int], q: int) -> int:
    """A warm start's steps at quality ``q``: an int, or a {quality: steps} map (JSON
    overrides give text keys)."""
    if not isinstance(warm_steps, Mapping):
        return int(warm_steps)
    steps = {int(k): v for k, v in warm_steps.items()}
    if q not in steps:
        raise KeyError(f"warm_steps has no entry for quality {q}: {dict(warm_steps)}")
    return int(steps[q])


def _warm_source(out_dir: str | os.PathLike, distortion: str, q: int, qualities: list[int],
                 anchor: int) -> Path | None:
    """The finished checkpoint a model starts from (None for the MSE anchor); an error
    when that model is not finished."""
    if (distortion, q) == ("mse", anchor):
        return None
    if distortion != "mse":
        wanted = ("mse", q)
    else:  # the next quality toward the anchor
        toward = [p for p in {*qualities, anchor} if anchor <= p < q or q < p <= anchor]
        wanted = ("mse", min(toward, key=lambda p: abs(p - q)))
    folder = RunFolder(Path(out_dir) / run_name(CONTROL, *wanted))
    if not (folder.path / DONE_NAME).is_file():
        raise FileNotFoundError(
            f"{run_name(CONTROL, distortion, q)} starts from {run_name(CONTROL, *wanted)}, which is not "
            f"finished in {out_dir}: train it first (or pass warm_start=False)")
    return folder.checkpoint


def pretrain_recipe(recipe: dict[str, Any], data: str | os.PathLike | None = None,
                    out: str | os.PathLike | None = None, device: str = "auto",
                    progress: bool = True) -> dict[str, Path]:
    """Train the base models of a ``config.PRETRAIN`` recipe on the folder ``data``
    (default: the recipe's corpus) into ``out``: MSE first, then MS-SSIM; with the recipe's
    ``anchor_only``, the MSE anchor alone (another seed's from-scratch stage)."""
    out = out or recipe["out"]
    qualities, metrics = recipe["qualities"], recipe["metrics"]
    if recipe.get("anchor_only"):
        qualities, metrics = [recipe["anchor_quality"]], ["mse"]
    base = RunConfig(unlabelled_root=data or recipe["data"], architecture=recipe["architecture"], N=recipe["N"],
                     M=recipe["M"], max_steps=recipe["steps"], lr=recipe["lr"], lr_schedule=recipe["lr_schedule"],
                     checkpoint_every=recipe["checkpoint_every"], log_every=recipe["log_every"],
                     compile=recipe.get("compile", False), seed=recipe["seed"], device=device, progress=progress,
                     batch_size=recipe["batch_size"], patch_size=recipe["patch_size"])
    common = dict(anchor_quality=recipe["anchor_quality"], warm_lr=recipe["warm_lr"])
    done = pretrain(out, ["mse"], qualities, base, warm_steps=recipe["warm_steps"], **common)
    others = [d for d in metrics if d != "mse"]
    if others:
        msssim = base.replace(batch_size=recipe["msssim_batch_size"],
                              msssim_patch_size=recipe["msssim_patch_size"])
        done.update(pretrain(out, others, qualities, msssim, warm_steps=recipe["msssim_steps"], **common))
    return done


def ensure_base_models(params: dict[str, Any], progress: bool = True) -> str:
    """Where a profile's fine-tuning starts: the zoo, a folder of the project's base models
    (trained here first when missing, with the profile's ``pretrain_steps``; without them,
    an error naming the folder and the command that trains them), or scratch."""
    init = params["pretrained"]
    if init in ("zoo", "scratch"):
        return init
    missing = [(d, q) for d in params["metrics"] for q in params["qualities"]
               if not RunFolder(Path(init) / run_name(CONTROL, d, q)).checkpoint.exists()]
    if missing and not params.get("pretrain_steps"):
        raise WeightsUnavailableError(f"{init}: no base model for {missing} yet; {how_to_pretrain(init)}")
    if missing:
        print(f"no base model for {missing} in {init}: training them first "
              f"({params['pretrain_steps']} steps each)")
        base = RunConfig.from_profile(params, init="scratch", max_steps=params["pretrain_steps"], epochs=None,
                                      progress=progress)
        for distortion, quality in missing:
            pretrain(init, [distortion], [quality], base)
    return init


def how_to_pretrain(folder: str | os.PathLike) -> str:
    """One clause saying how to fill ``folder`` with base models."""
    recipe = cfgmod.pretrain_recipe_of(str(folder))
    if recipe:
        return (f"train them with `python -m jndlc_helpers pretrain --profile {recipe}` (config.PRETRAIN"
                f"[{recipe!r}]; -s metrics=... and -s steps=... override the recipe), or fine-tune fewer "
                "(-p metrics=...)")
    return "train them with `python -m jndlc_helpers.codec pretrain FOLDER ...`, or set pretrain_steps"
