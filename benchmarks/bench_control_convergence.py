"""When has the fine-tuned control converged? Its BD-rate against the base models at doubling budgets.

The control (the baseline loss on the quick profile's data, fine-tuned from the
pretrained base models at the quick profile's learning rate, the plateau schedule of
the paper and CompressAI) is trained for 70, 140, 280, ... steps; each budget extends
the runs of the one before (the same trajectory as one run of that budget: the plateau
schedule looks only at the training loss behind it), and a copy of every model is
evaluated at each budget on the validation images (``--images validation``, the default:
``data/validation``, disjoint from train and test; ``--images test`` is how the budget was
first chosen). Its BD-rate against the base models (PCHIP, dataset-average curve,
bootstrap 95% interval over the images, each family in its own metric) settles as the
budget grows. The control has converged when the last doubling moved it by less than
``--tolerance`` points in both families (or left it inside the interval of the budget
before); the standard profile fine-tunes for that budget.

    python benchmarks/bench_control_convergence.py [--images validation] [--start 70] [--max-budget 2240]

Resumable: trained runs, snapshots and evaluations are kept under ``--runs``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from common import RESULTS, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_control_shift import evaluate_models, headline, image_pairs, pretrained_baseline, snapshot  # noqa: E402

from jndlc_helpers import parallel, reproduce  # noqa: E402
from jndlc_helpers.codec import grid, train  # noqa: E402
from jndlc_helpers.vocab import CONTROL, METRIC_OF, PRETRAINED  # noqa: E402
from jndlc_helpers.evaluation import basecheck  # noqa: E402
from jndlc_helpers.files import atomic_write  # noqa: E402



def convergence(entries: list[dict], families: list[str], tolerance: float) -> dict:
    """Per family the BD-rate curve over budgets, and whether the last doubling moved it
    by less than ``tolerance`` points or left it inside the previous budget's interval."""
    out = {"budgets": [e["steps"] for e in entries], "bd_rate": {}, "low": {}, "high": {}, "last_change": {},
           "within_previous_interval": {}}
    for f in families:
        axis = METRIC_OF[f]
        vals = [e[f][f"average-curve/{axis}"] for e in entries]
        out["bd_rate"][f] = [v["bd_rate"] for v in vals]
        out["low"][f] = [v["low"] for v in vals]
        out["high"][f] = [v["high"] for v in vals]
        if len(vals) >= 2:
            out["last_change"][f] = vals[-1]["bd_rate"] - vals[-2]["bd_rate"]
            out["within_previous_interval"][f] = bool(vals[-2]["low"] <= vals[-1]["bd_rate"] <= vals[-2]["high"])
    small = [abs(out["last_change"].get(f, float("inf"))) < tolerance for f in families]
    out["converged_by_change"] = len(entries) >= 2 and all(small)
    out["converged"] = len(entries) >= 2 and all(
        s or out["within_previous_interval"][f] for s, f in zip(small, families))
    return out


def plot(entries: list[dict], conv: dict, families: list[str], chosen: int | None, path: Path,
         images: str = "test") -> None:
    """BD-rate of the control against the base models over the budget, with intervals."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    for f in families:
        b, v = conv["budgets"], conv["bd_rate"][f]
        lo = [x - y for x, y in zip(v, conv["low"][f])]
        hi = [y - x for x, y in zip(v, conv["high"][f])]
        ax.errorbar(b, v, yerr=[lo, hi], marker="o", capsize=3,
                    label=f"{f}-trained, in {METRIC_OF[f].replace('_', ' ')}")
    if chosen:
        ax.axvline(chosen, color="0.5", linestyle="--", linewidth=0.8, label=f"chosen: {chosen} steps")
    ax.axhline(0, color="0.7", linewidth=0.6)
    ax.set_xscale("log", base=2)
    ax.set_xticks(conv["budgets"], [str(b) for b in conv["budgets"]])
    ax.set_xlabel("fine-tuning steps (batch 4)")
    ax.set_ylabel("BD-rate vs pretrained base models (%)")
    ax.set_title("The fine-tuned control converging (PCHIP, 95% bootstrap over images)", fontsize=9)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.005, f"evaluated on the {images} images; quick-profile data: proxy JND labels (ColorVideoVDP); "
             "our small mean-scale hyperprior N=64/M=96; lr 3e-5", fontsize=6, color="0.35")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=130, format="png"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--start", type=int, default=70, help="the first budget (the quick profile's)")
    ap.add_argument("--max-budget", type=int, default=2240)
    ap.add_argument("--min-budgets", type=int, default=3, help="budgets measured before convergence may stop it")
    ap.add_argument("--tolerance", type=float, default=1.0, help="points of BD-rate")
    ap.add_argument("--runs", default="runs/control_convergence")
    ap.add_argument("--images", choices=["validation", "test"], default="validation")
    args = ap.parse_args()

    params = reproduce.resolve_params("quick")
    runs = ROOT / args.runs
    suffix = "_validation" if args.images == "validation" else ""
    base, pre_rd = pretrained_baseline(params, runs, args.images)
    entries, steps, conv = [], args.start, {}
    while steps <= args.max_budget:
        start = time.perf_counter()
        paths = grid.run_grid(runs / "models", [CONTROL], params["metrics"], params["qualities"],
                              base.replace(max_steps=steps), workers=parallel.training_workers(params))
        trained = time.perf_counter()
        snap = snapshot(paths, runs / "snapshots" / str(steps), steps)
        rd = evaluate_models(params, snap, CONTROL, runs / f"rd_{steps}_{args.images}.csv", args.images)
        entry = {"steps": steps, "train_s": round(trained - start, 1),
                 "evaluate_s": round(time.perf_counter() - trained, 1),
                 **basecheck.control_shift(pd.concat([pre_rd, rd], ignore_index=True), CONTROL, PRETRAINED,
                                           params["metrics"], params["bootstrap"], params["seed"])}
        entries.append(entry)
        conv = convergence(entries, params["metrics"], args.tolerance)
        print(f"{steps} steps: {headline(entry)}; converged: {conv['converged']}", flush=True)
        if conv["converged"] and len(entries) >= args.min_budgets:
            break
        steps *= 2
    chosen = entries[-1]["steps"] if conv["converged"] else None
    figure = RESULTS / f"control_convergence{suffix}.png"
    plot(entries, conv, params["metrics"], chosen, figure, args.images)
    mse = conv["bd_rate"]["mse"]
    write_result(
        "control_convergence" + suffix,
        metric="BD-rate (%) of the fine-tuned control against the pretrained base models, MSE family, PSNR "
               "(PCHIP, dataset-average curve), at the chosen budget",
        unit="%", value=mse[-1], baseline=f"the same at the quick profile's {args.start} steps",
        baseline_value=mse[0], higher_is_better=False,
        command=f"python benchmarks/bench_control_convergence.py --images {args.images} --start {args.start} "
                f"--max-budget {args.max_budget} --tolerance {args.tolerance:g}",
        chosen_steps=chosen, lr=params["lr"], lr_schedule="plateau (ReduceLROnPlateau on the training loss, "
        f"looked at every {train.MIN_SCHEDULER_STEPS} steps; constant unless the loss stalls for 10 looks)",
        batch_size=params["batch_size"], patch_size=params["patch_size"],
        msssim_patch_size=base.for_run(CONTROL, "ms-ssim", 1).patch_size, qualities=params["qualities"],
        images=args.images, n_images=len(image_pairs(params, args.images)), tolerance_points=args.tolerance,
        criterion="the last doubling moved the BD-rate by less than the tolerance in both families, "
                  "or left it inside the previous budget's bootstrap 95% interval",
        figure=str(figure.relative_to(ROOT)),
        labels="proxy JND labels (ColorVideoVDP); our small corpus-trained base models; quick profile data",
        **conv, entries=entries,
    )


if __name__ == "__main__":
    main()
