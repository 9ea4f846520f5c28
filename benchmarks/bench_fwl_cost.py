"""What FWL's VGG16 (relu5_3) costs per training step on the CPU, against the control's step.

One quality per training metric of the quick profile's data and base models, the
control (baseline loss) and FWL with VGG16 up to relu5_3 (HED's BSDS500 weights, the
offline stand-in for the paper's ImageNet weights), the same batch and patch, one
process with one thread each, one after the other, interleaved: ``--steps`` timed steps
after ``--warmup`` steps (the log's ``seconds``). The standard profile's patch and batch
were chosen from this.

    python benchmarks/bench_fwl_cost.py [--steps 20] [--warmup 3]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from jndlc_helpers import reproduce  # noqa: E402
from jndlc_helpers.codec import train  # noqa: E402
from jndlc_helpers.codec.runconfig import RunConfig  # noqa: E402
from jndlc_helpers.codec.runfolder import LOG_NAME  # noqa: E402


def seconds_per_step(run_dir: Path, warmup: int) -> float:
    """Mean seconds per step after ``warmup`` steps, from the run's log."""
    log = [json.loads(line) for line in (run_dir / LOG_NAME).read_text().splitlines()]
    timed = [r["seconds"] for r in log if r["step"] >= warmup]
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--quality", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    params = reproduce.resolve_params("standard")
    base = RunConfig.from_profile(params, max_steps=args.warmup + args.steps, progress=False,
                                  checkpoint_every=10_000)
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for metric in params["metrics"]:
            patch = base.for_run("baseline", metric, args.quality).patch_size
            out = {}
            for loss in ("baseline", "fwl"):
                run = Path(tmp) / f"{loss}-{metric}"
                train.train_run(run, base.for_run(loss, metric, args.quality))
                out[loss] = seconds_per_step(run, args.warmup)
            entries.append({"metric": metric, "patch_size": patch, "batch_size": params["batch_size"],
                            "baseline_s_per_step": round(out["baseline"], 4), "fwl_s_per_step": round(out["fwl"], 4),
                            "ratio": round(out["fwl"] / out["baseline"], 3)})
            print(entries[-1], flush=True)
    mse = entries[0]
    write_result(
        "fwl_cost",
        metric=f"seconds per FWL training step (VGG16 relu5_3, {params['feature_extractor']}), MSE-trained, "
               f"batch {mse['batch_size']} at {mse['patch_size']} px, one thread",
        unit="s", value=mse["fwl_s_per_step"], baseline="the control's step (baseline loss), same run settings",
        baseline_value=mse["baseline_s_per_step"], higher_is_better=False,
        command=f"python benchmarks/bench_fwl_cost.py --steps {args.steps} --warmup {args.warmup}",
        feature_extractor=params["feature_extractor"], quality=args.quality, entries=entries,
        note="timed with the machine's other work running (a shared 2-core CPU); the ratio is the number to read",
    )


if __name__ == "__main__":
    main()
