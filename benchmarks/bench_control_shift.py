"""How far the fine-tuned control moves from its base models, by learning rate and budget.

The quick profile's control (the baseline loss on the JND train set mixed 1:1 with
corpus photographs) is fine-tuned from the pretrained base models at each learning
rate for growing budgets (each budget extends the runs of the one before, the same as
a run of that budget: the learning rate is constant this short; a copy of each budget's
models is kept, so a rerun evaluates what that budget trained) and evaluated on the
validation images (``--images validation``, the default: ``data/validation``, disjoint
from train and test; ``--images test`` is how the learning rate was first chosen) after
each, next to the base models. Its BD-rate against them (PCHIP, dataset-average curve,
bootstrap 95% interval over the images, as in Table I) moves measurably where the interval
excludes 0.

The choice (``chosen_lr``), by a rule fixed before looking: the learning rate whose control
gains most against the base models at the quick profile's budget, the mean of the MSE
family's BD-rate in PSNR and the MS-SSIM family's in MS-SSIM dB. The headline is the MSE
family's BD-rate in PSNR at the quick profile's learning rate and budget, against the same
at the paper's 1e-4.

    python benchmarks/bench_control_shift.py [--images validation] [--lrs 1e-4 3e-5 1e-5] [--budgets 70 140]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jndlc_helpers import config, parallel, pipeline, reproduce  # noqa: E402
from jndlc_helpers.codec import grid, pretrain  # noqa: E402
from jndlc_helpers.codec.runconfig import RunConfig  # noqa: E402
from jndlc_helpers.evaluation import basecheck, evaluate  # noqa: E402
from jndlc_helpers.files import atomic_write  # noqa: E402
from jndlc_helpers.vocab import CONTROL, METRIC_OF, PRETRAINED, run_name  # noqa: E402

PAPER_LR = config.profile("paper")["lr"]


def image_pairs(params: dict, images: str) -> list:
    """The (Ref, JND1) pairs a choice is measured on: "validation" (where choices are made) or "test"."""
    if images == "validation":
        from jndlc_helpers.data.validation import validation_pairs

        return validation_pairs(reproduce.resolve_path("data/validation"))
    return pipeline.test_pairs(params)


def evaluate_models(params: dict, paths: dict, method: str, out_csv: Path, images: str = "test") -> pd.DataFrame:
    """``method``'s models at every (family, quality) of ``params`` on the ``images`` pairs (no JOD)."""
    jobs = [dict(method=method, family=f, quality=q, lmbda=config.lambda_for(f, q),
                 checkpoint=str(paths[run_name(method, f, q)]))
            for f in params["metrics"] for q in params["qualities"]]
    refs = [ref for ref, _ in image_pairs(params, images)]
    return evaluate.evaluate_all(jobs, refs, out_csv, progress=False, workers=parallel.training_workers(params))


def snapshot(paths: dict, dest: Path, steps: int) -> dict:
    """A copy of each run's checkpoint under ``dest`` (the runs go on to larger budgets);
    a run trained past ``steps`` (a budget extended before its copy was taken) is refused."""
    out = {}
    for name, path in paths.items():
        target = dest / name / Path(path).name
        if not target.is_file():
            done = json.loads((Path(path).parent / "done.json").read_text())
            if done["steps"] != steps:
                raise SystemExit(f"error: {Path(path).parent} has {done['steps']} steps, not {steps}: "
                                 "remove it (and the copies past it) to train this budget again")
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, lambda tmp, src=path: shutil.copyfile(src, tmp))
        out[name] = target
    return out


def pretrained_baseline(params: dict, runs: Path, images: str = "test") -> tuple[RunConfig, pd.DataFrame]:
    """The profile's run configuration (from its base models) and the base models' RD rows."""
    base = RunConfig.from_profile(params, init=pretrain.ensure_base_models(params, progress=False), progress=False)
    pre = grid.run_grid(runs / "pretrained", [PRETRAINED], params["metrics"], params["qualities"], base)
    return base, evaluate_models(params, pre, PRETRAINED, runs / f"rd_pretrained_{images}.csv", images)


def own_metric_mean(entry: dict) -> float:
    """The mean of each family's BD-rate in its own metric (average curve): the choice's score."""
    return sum(entry[f][f"average-curve/{axis}"]["bd_rate"] for f, axis in METRIC_OF.items()) / len(METRIC_OF)


def choose_lr(entries: list[dict], steps: int) -> float:
    """The learning rate whose control gains most against the base models at ``steps``."""
    return min((e for e in entries if e["steps"] == steps), key=own_metric_mean)["lr"]


def headline(entry: dict) -> str:
    """'mse psnr -3.38% [-4.6, -2.1]; ms-ssim ...': each family in its own metric."""
    return "; ".join(f"{f} {axis} {v['bd_rate']:+.2f}% [{v['low']:+.1f}, {v['high']:+.1f}]"
                     for f, axis in METRIC_OF.items() if f in entry
                     for v in [entry[f][f"average-curve/{axis}"]])


def main() -> None:
    quick = config.profile("quick")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lrs", type=float, nargs="+", default=[PAPER_LR, 3e-5, 1e-5])
    ap.add_argument("--budgets", type=int, nargs="+", default=[70, 140])
    ap.add_argument("--runs", default="runs/control_shift", help="run folder (one models folder per lr)")
    ap.add_argument("--images", choices=["validation", "test"], default="validation")
    args = ap.parse_args()

    params = reproduce.resolve_params("quick")
    runs = ROOT / args.runs
    base, pre_rd = pretrained_baseline(params, runs, args.images)
    entries = []
    for lr in args.lrs:
        for steps in sorted(args.budgets):
            start = time.perf_counter()
            paths = grid.run_grid(runs / f"lr{lr:g}", [CONTROL], params["metrics"], params["qualities"],
                                  base.replace(lr=lr, max_steps=steps), workers=parallel.training_workers(params))
            trained = time.perf_counter()
            paths = snapshot(paths, runs / "snapshots" / f"lr{lr:g}" / str(steps), steps)
            rd = evaluate_models(params, paths, CONTROL, runs / f"rd_lr{lr:g}_{steps}_{args.images}.csv", args.images)
            entry = {"lr": lr, "steps": steps, "train_s": round(trained - start, 1),
                     "evaluate_s": round(time.perf_counter() - trained, 1),
                     **basecheck.control_shift(pd.concat([pre_rd, rd], ignore_index=True), CONTROL, PRETRAINED,
                                               params["metrics"], params["bootstrap"], params["seed"])}
            entries.append(entry)
            print(f"lr {lr:g}, {steps} steps: {headline(entry)}", flush=True)

    def mse_psnr(lr: float) -> float | None:
        found = [e for e in entries if e["lr"] == lr and e["steps"] == quick["max_steps"]]
        return found[0]["mse"]["average-curve/psnr"]["bd_rate"] if found else None

    write_result(
        "control_shift" + ("_validation" if args.images == "validation" else ""),
        metric="BD-rate (%) of the fine-tuned control against the pretrained base models, MSE family, PSNR "
               f"(PCHIP, dataset-average curve), at the quick profile's lr {quick['lr']:g} and "
               f"{quick['max_steps']} steps",
        unit="%", value=mse_psnr(quick["lr"]), baseline=f"the same at the paper's lr {PAPER_LR:g}",
        baseline_value=mse_psnr(PAPER_LR), higher_is_better=False,
        command=f"python benchmarks/bench_control_shift.py --images {args.images} --lrs "
                + " ".join(f"{lr:g}" for lr in args.lrs) + " --budgets " + " ".join(map(str, args.budgets)),
        quick_lr=quick["lr"], quick_steps=quick["max_steps"], images=args.images,
        n_images=len(image_pairs(params, args.images)),
        chosen_lr=choose_lr(entries, quick["max_steps"]),
        rule="the learning rate whose control gains most against the base models at the quick profile's budget: "
             "the mean of the MSE family's BD-rate in PSNR and the MS-SSIM family's in MS-SSIM dB",
        measurable="an interval (bootstrap 95% over the images) that excludes 0",
        labels="proxy JND labels (ColorVideoVDP); our small corpus-trained base models; quick profile data",
        entries=entries,
    )


if __name__ == "__main__":
    main()
