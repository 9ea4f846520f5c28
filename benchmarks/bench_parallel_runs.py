"""Runs side by side (``parallel.py``) against one run at a time with all the threads.

The quick profile's own work in miniature: its eight fine-tuning runs of one quality
(its four losses x MSE and MS-SSIM, quality 3, from the shipped base models, its batch,
patches and steps) with ``grid.run_grid``, then their evaluation on the JND test
set with JOD (``evaluate.evaluate_all``, plus four JPEG settings). Starting the
processes (imports, the JOD model) is paid once per pass, as in the chain, where it is
spread over 40 runs and 58 evaluations instead of 8 and 12. Serial: ``workers=1`` with torch's
threads set to the core count. Side by side: ``workers`` = the core count, one thread
each. The variants alternate; medians over repeats. Loss check: every run's last
logged loss, side by side vs serial (each run is seeded alone, so only the threads'
summation order differs); RD check: the largest difference in bpp and PSNR.

    python benchmarks/bench_parallel_runs.py [--steps 70] [--repeats 1]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from jndlc_helpers import config, pipeline  # noqa: E402
from jndlc_helpers.codec import grid  # noqa: E402
from jndlc_helpers.codec.runconfig import RunConfig  # noqa: E402
from jndlc_helpers.codec.runfolder import LOG_NAME  # noqa: E402
from jndlc_helpers.vocab import run_name  # noqa: E402
from jndlc_helpers.evaluation import evaluate  # noqa: E402

METRICS, QUALITY = ["mse", "ms-ssim"], 3
LOSSES = config.profile("quick")["losses"]


def one_pass(out: Path, params: dict, workers: int) -> dict:
    """Train the runs, then evaluate them; seconds of each half and what they gave."""
    t0 = time.perf_counter()
    runs = grid.run_grid(out / "models", LOSSES, METRICS, [QUALITY], RunConfig.from_profile(params, progress=False),
                         workers=workers)
    t1 = time.perf_counter()
    jobs = [dict(method=name, family=metric, quality=QUALITY, checkpoint=str(runs[name]))
            for metric in METRICS for loss in LOSSES for name in [run_name(loss, metric, QUALITY)]]
    jobs += evaluate.anchor_jobs(["jpeg"], [25, 40, 55, 70])
    refs = [ref for ref, _ in pipeline.test_pairs(params)]
    rd = evaluate.evaluate_all(jobs, refs, out / "rd.csv", jod=params["jod"], progress=False, workers=workers)
    t2 = time.perf_counter()
    losses = {name: json.loads((out / "models" / name / LOG_NAME).read_text().splitlines()[-1])["loss"]
              for name in runs}
    return {"train_s": t1 - t0, "eval_s": t2 - t1, "losses": losses, "rd": rd}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=config.profile("quick")["max_steps"])
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    torch.set_num_threads(cores)
    params = config.profile("quick", max_steps=args.steps)
    refs = pipeline.test_pairs(params)
    res: dict[str, list[dict]] = {"serial": [], "side_by_side": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for name, workers in (("serial", 1), ("side_by_side", cores)):
                res[name].append(one_pass(Path(tmp) / f"{name}-{r}", params, workers))
                print(f"repeat {r} {name}: train {res[name][-1]['train_s']:.1f} s, "
                      f"eval {res[name][-1]['eval_s']:.1f} s", file=sys.stderr)

    def med(name: str, key: str) -> float:
        return round(statistics.median(x[key] for x in res[name]), 2)

    serial, spread = res["serial"][0], res["side_by_side"][0]
    loss_rel = max(abs(spread["losses"][k] - v) / abs(v) for k, v in serial["losses"].items())
    a, b = (x["rd"].sort_values(["method", "image"]).reset_index(drop=True) for x in (serial, spread))
    total = {k: med(k, "train_s") + med(k, "eval_s") for k in res}
    path = write_result(
        name="parallel_runs", metric="seconds to train and evaluate the quick profile's runs of one quality",
        unit="s",
        value=round(total["side_by_side"], 2), baseline=f"one run at a time, {cores} torch threads",
        baseline_value=round(total["serial"], 2), higher_is_better=False,
        command="python benchmarks/bench_parallel_runs.py",
        setup=f"quick profile, {args.steps} steps, losses {LOSSES} x {METRICS} at quality {QUALITY} from "
              f"{params['pretrained']}; evaluation of the {len(LOSSES) * len(METRICS)} models + JPEG q25-q70 "
              f"on {len(refs)} test images with JOD={params['jod']}; side by side: {cores} processes of 1 "
              f"thread, started once per pass; {args.repeats} alternating repeats, medians",
        speedup_train=round(med("serial", "train_s") / med("side_by_side", "train_s"), 3),
        speedup_eval=round(med("serial", "eval_s") / med("side_by_side", "eval_s"), 3),
        speedup_total=round(total["serial"] / total["side_by_side"], 3),
        seconds={k: {"train": [round(x["train_s"], 1) for x in v], "eval": [round(x["eval_s"], 1) for x in v]}
                 for k, v in res.items()},
        loss_check=f"largest relative difference of a run's last logged loss, side by side vs serial: {loss_rel:.2e}",
        rd_check=f"largest difference: bpp {float((a['bpp'] - b['bpp']).abs().max()):.2e}, "
                 f"PSNR {float((a['psnr'] - b['psnr']).abs().max()):.2e} dB",
    )
    print(f"serial {total['serial']:.1f} s, side by side {total['side_by_side']:.1f} s -> {path}")


if __name__ == "__main__":
    main()
