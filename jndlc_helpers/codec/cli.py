"""The codec's command line: ``python -m jndlc_helpers.codec {run,grid,pretrain,export-pretrained}``
(also ``python -m jndlc_helpers train ...``; under torchrun for several GPUs).

Options start from a profile's knobs (``--profile``) and override them; the result is
one ``RunConfig``, validated once; bad input is one line naming it, not a traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from .. import config as cfgmod
from .. import parallel, vocab
from . import distributed, grid, losses, models
from .features import FEATURES, INPUT_SCALES
from .pretrain import pretrain
from .runconfig import RunConfig

# What the command line reports as one line: bad parameters, files or folders, a run
# folder holding another run, a diverged run (its message names run and step).
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, FloatingPointError, ModuleNotFoundError)
# RunConfig fields the options set (each --option-name is the field's name).
OPTIONS = ("data_root", "unlabelled_root", "architecture", "N", "M", "init", "features", "feature_weights",
           "feature_input", "fwl_weight", "feature_scale", "feature_share", "epochs", "max_steps", "batch_size", "patch_size", "lr", "aux_lr", "clip_max_norm",
           "seed", "device", "amp", "channels_last", "compile", "num_workers", "decode_cache", "checkpoint_every",
           "tensorboard", "progress")


def _common(p: argparse.ArgumentParser) -> None:
    """The options every sub-command takes (a RunConfig's fields)."""
    p.add_argument("--profile", choices=sorted(cfgmod.PROFILES), help="defaults from config.profile(NAME)")
    p.add_argument("--data-root", help="root/train/{Ref,JND1}")
    p.add_argument("--unlabelled-root", help="unlabelled images mixed 1:1 (x_j = x_o)")
    p.add_argument("--architecture", choices=models.ARCHITECTURES)
    p.add_argument("--N", type=int)
    p.add_argument("--M", type=int)
    p.add_argument("--init", help="scratch | zoo | base-model directory | checkpoint file")
    p.add_argument("--features", choices=FEATURES, help="FWL's extractor")
    p.add_argument("--feature-weights", help="local VGG16 weights file")
    p.add_argument("--feature-input", choices=INPUT_SCALES, help="how F is fed: the [0, 1] image (unit, the "
                   "authors') or HED's Caffe input (caffe, vgg16-hed only)")
    p.add_argument("--fwl-weight", type=float)
    p.add_argument("--feature-scale", type=float, help="c, the FWL feature term's scale (default 1)")
    p.add_argument("--feature-share", type=float, help="set c on the training crops so that the feature term "
                   "is this share of D at the start")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands run / grid / pretrain / export-pretrained on ``parser``."""
    sub = parser.add_subparsers(dest="train_command", required=True)
    p = sub.add_parser("run", help="train one run")
    p.add_argument("run_dir")
    p.add_argument("--loss", required=True, choices=losses.LOSS_NAMES)
    p.add_argument("--distortion", required=True, choices=vocab.DISTORTIONS)
    p.add_argument("--quality", required=True, type=int)
    p.add_argument("--lmbda", type=float, help="default: the paper's lambda for distortion and quality")
    p.add_argument("--overwrite", action="store_true", default=None)
    _common(p)
    p = sub.add_parser("grid", help="all (loss, distortion, quality) runs; finished ones are skipped")
    p.add_argument("runs_dir")
    p.add_argument("--losses", nargs="+", required=True)
    p.add_argument("--distortions", nargs="+", required=True, choices=vocab.DISTORTIONS)
    p.add_argument("--qualities", nargs="+", required=True, type=int)
    p.add_argument("--parallel-runs", type=int, help="runs trained at once (default: one per core on a CPU, "
                   "one on a GPU)")
    _common(p)
    p = sub.add_parser("pretrain", help="our base models: the baseline from scratch per distortion/quality")
    p.add_argument("out_dir")
    p.add_argument("--distortions", nargs="+", required=True, choices=vocab.DISTORTIONS)
    p.add_argument("--qualities", nargs="+", required=True, type=int)
    _common(p)
    p = sub.add_parser("export-pretrained", help="the baseline-pretrained control (no fine-tuning)")
    p.add_argument("run_dir")
    p.add_argument("--distortion", required=True, choices=vocab.DISTORTIONS)
    p.add_argument("--quality", required=True, type=int)
    _common(p)


def options(args: argparse.Namespace) -> dict[str, Any]:
    """Profile defaults overridden by the options given on the command line."""
    if args.profile:  # the profile's base models for the architecture asked for
        arch = {"architecture": args.architecture} if args.architecture else {}
        base = RunConfig.from_profile(cfgmod.profile(args.profile, **arch))
        kw = {k: getattr(base, k) for k in OPTIONS}
    else:
        kw = {}
    kw.update({k: getattr(args, k) for k in OPTIONS if getattr(args, k, None) is not None})
    return kw


def run_command(args: argparse.Namespace) -> int:
    kw = options(args)
    main_rank = distributed.env_rank() == 0  # under torchrun, one process prints
    if args.train_command == "run":
        kw.update({k: getattr(args, k) for k in ("lmbda", "overwrite") if getattr(args, k) is not None})
        from .train import train_run

        cfg = RunConfig(loss=args.loss, distortion=args.distortion, quality=args.quality, **kw)
        path = train_run(args.run_dir, cfg)
        if main_rank:
            print(path)
    elif args.train_command == "grid":
        workers = parallel.auto_workers(args.parallel_runs, kw.get("device", "auto"))
        done = grid.run_grid(args.runs_dir, args.losses, args.distortions, args.qualities, RunConfig(**kw), workers=workers)
        for name, path in done.items():
            if main_rank:
                print(f"{name}\t{path}")
    elif args.train_command == "pretrain":
        kw["init"] = "scratch"
        for name, path in pretrain(args.out_dir, args.distortions, args.qualities, RunConfig(**kw)).items():
            print(f"{name}\t{path}")
    else:
        keep = {k: kw[k] for k in ("architecture", "N", "M", "init", "progress") if k in kw}
        print(grid.export_pretrained(args.run_dir, distortion=args.distortion, quality=args.quality, **keep))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jndlc_helpers.codec", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_command(args)
    except USER_ERRORS as e:  # bad input: one line naming it, not a traceback
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    sys.exit(main())
