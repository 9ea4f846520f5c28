"""How often the replicated interval covers a null effect, on made-up RD tables.

``evaluation.replicates`` gives each method's BD-rate against its control a 95% interval
(test images bootstrapped, seeds Student-t, added in quadrature). Made-up tables with a
known null effect (``tests/evaluation/test_replicates.py``: 12 images, 3 seeds, 4 qualities)
carry seed noise (each training's rates scaled by exp(N(0, 2%)), the method's draw not shared
with its control), image-to-image variation of the effect (exp(N(0, 3%)) per image, the same
for every seed), or both. The headline is the coverage with both; the baseline is the plain
two-level percentile bootstrap (seeds and images resampled) on the same tables, which a
3-seed study cannot make cover.

    python benchmarks/bench_interval_coverage.py [--tables 400] [--bootstrap 200]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "evaluation"))

from test_replicates import R, rd_table, two_level_percentile  # noqa: E402

SETTINGS = {"seeds and images": (0.02, 0.03), "seeds only": (0.02, 0.0), "images only": (0.0, 0.03)}


def rates(n_tables: int, n_boot: int, seed_noise: float, image_noise: float) -> tuple[float, float]:
    """(ours, two-level percentile): the fraction of ``n_tables`` whose interval holds 0."""
    ours = percentile = 0
    for rng_seed in range(5000, 5000 + n_tables):
        rd, _ = rd_table(0.0, seed_noise, shared=False, rng_seed=rng_seed, image_noise=image_noise)
        r = R.bd_rate_replicated(rd, "fwl", "baseline", "mse", "psnr", n_boot=n_boot, seed=rng_seed)
        ours += r["low"] <= 0 <= r["high"]
        lo, hi = two_level_percentile(rd, n_boot=n_boot, seed=rng_seed)
        percentile += lo <= 0 <= hi
    return ours / n_tables, percentile / n_tables


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tables", type=int, default=400)
    ap.add_argument("--bootstrap", type=int, default=200)
    args = ap.parse_args()
    found = {}
    for name, (seed_noise, image_noise) in SETTINGS.items():
        ours, percentile = rates(args.tables, args.bootstrap, seed_noise, image_noise)
        found[name] = {"seed_noise": seed_noise, "image_noise": image_noise, "coverage": ours,
                       "two_level_percentile_coverage": percentile}
        print(f"{name}: ours {ours:.3f}, two-level percentile {percentile:.3f}", flush=True)
    both = found["seeds and images"]
    write_result(
        "interval_coverage",
        metric="coverage of a null effect by the replicated 95% interval (seeds and image noise)",
        unit="fraction", value=both["coverage"],
        baseline="the two-level percentile bootstrap (seeds and images resampled), same tables",
        baseline_value=both["two_level_percentile_coverage"], higher_is_better=True,
        command=f"python benchmarks/bench_interval_coverage.py --tables {args.tables} --bootstrap {args.bootstrap}",
        nominal=0.95, tables=args.tables, bootstrap=args.bootstrap, settings=found,
        design="made-up RD tables: 12 images, 3 training seeds, 4 qualities, method vs its control (seed noise "
               "not shared), null effect; tests/evaluation/test_replicates.py:rd_table",
    )


if __name__ == "__main__":
    main()
