"""How far the fine-tuned control moves from its base models, by learning rate and budget.

The quick profile's control (the baseline loss on the JND train set mixed 1:1 with
corpus photographs) is fine-tuned from the pretrained base models at each learning
rate for growing budgets (each budget extends the runs of the one before, the same as
a run of that budget: the learning rate is constant this short) and evaluated on the
JND test set after each, next to the base models. Its BD-rate against them (PCHIP,
dataset-average curve, bootstrap 95% interval over the test images, as in Table I)
moves measurably where the interval excludes 0.

The headline is the MSE family's BD-rate in PSNR at the quick profile's learning rate
and budget, against the same at the paper's 1e-4.

    python benchmarks/bench_control_shift.py [--lrs 1e-4 3e-5 1e-5] [--budgets 70 140] [--runs DIR]
"""
from __future__ import annotations

import argparse
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
from jndlc_helpers.vocab import CONTROL, METRIC_OF, PRETRAINED, run_name  # noqa: E402

PAPER_LR = config.profile("paper")["lr"]


def evaluate_models(params: dict, paths: dict, method: str, out_csv: Path) -> pd.DataFrame:
    """``method``'s models at every (family, quality) of ``params`` on the JND test set (no JOD)."""
    jobs = [dict(method=method, family=f, quality=q, lmbda=config.lambda_for(f, q),
                 checkpoint=str(paths[run_name(method, f, q)]))
            for f in params["metrics"] for q in params["qualities"]]
    refs = [ref for ref, _ in pipeline.test_pairs(params)]
    return evaluate.evaluate_all(jobs, refs, out_csv, progress=False, workers=parallel.training_workers(params))


def pretrained_baseline(params: dict, runs: Path) -> tuple[RunConfig, pd.DataFrame]:
    """The profile's run configuration (from its base models) and the base models' RD rows."""
    base = RunConfig.from_profile(params, init=pretrain.ensure_base_models(params, progress=False), progress=False)
    pre = grid.run_grid(runs / "pretrained", [PRETRAINED], params["metrics"], params["qualities"], base)
    return base, evaluate_models(params, pre, PRETRAINED, runs / "rd_pretrained.csv")


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
    args = ap.parse_args()

    params = reproduce.resolve_params("quick")
    runs = ROOT / args.runs
    base, pre_rd = pretrained_baseline(params, runs)
    entries = []
    for lr in args.lrs:
        for steps in sorted(args.budgets):
            start = time.perf_counter()
            paths = grid.run_grid(runs / f"lr{lr:g}", [CONTROL], params["metrics"], params["qualities"],
                                  base.replace(lr=lr, max_steps=steps), workers=parallel.training_workers(params))
            trained = time.perf_counter()
            rd = evaluate_models(params, paths, CONTROL, runs / f"rd_lr{lr:g}_{steps}.csv")
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
        "control_shift",
        metric="BD-rate (%) of the fine-tuned control against the pretrained base models, MSE family, PSNR "
               f"(PCHIP, dataset-average curve), at the quick profile's lr {quick['lr']:g} and "
               f"{quick['max_steps']} steps",
        unit="%", value=mse_psnr(quick["lr"]), baseline=f"the same at the paper's lr {PAPER_LR:g}",
        baseline_value=mse_psnr(PAPER_LR), higher_is_better=False,
        command="python benchmarks/bench_control_shift.py --lrs " + " ".join(f"{lr:g}" for lr in args.lrs)
                + " --budgets " + " ".join(map(str, args.budgets)),
        quick_lr=quick["lr"], quick_steps=quick["max_steps"], n_test_images=len(pipeline.test_pairs(params)),
        measurable="an interval (bootstrap 95% over test images) that excludes 0",
        labels="proxy JND labels (ColorVideoVDP); our small corpus-trained base models; quick profile data",
        entries=entries,
    )


if __name__ == "__main__":
    main()
