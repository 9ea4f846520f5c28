"""Bits to look unchanged: every method of notebook 08 on the 13 embedded test images.

One run codes each test image at its JND with every method side by side (the closed
loops, the open-loop predictor, JPEG XL d1, Guetzli, one fixed QF, the SSIM-target
search) and judges each by both judges (``jndlc_helpers.atjnd``). The headline value is
the learned codec's mean bpp at the JND (closed loop, continuous rate) against plain
JPEG's (closed loop), on the same images.

    python benchmarks/bench_at_jnd.py [--run-dir DIR] [--relabel]

``--run-dir`` (default runs/bench_at_jnd) is resumable: images already coded there are
read back. ``--relabel`` labels the predictor's training crops afresh and ships them to
data/atjnd/quick/ (about 15 CPU-minutes on 2 cores).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from common import no_nan, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jndlc_helpers import reproduce as R  # noqa: E402
from jndlc_helpers.atjnd import steps  # noqa: E402

SHIPPED = ROOT / "data" / "atjnd" / "quick"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", default=str(ROOT / "runs" / "bench_at_jnd"))
    parser.add_argument("--relabel", action="store_true")
    args = parser.parse_args()
    P = steps.atjnd_params(R.load_run_params("quick", args.run_dir))
    if args.relabel:
        P["atjnd_labels"] = None
        steps.path(P, "training_labels.csv").unlink(missing_ok=True)
    t0 = time.perf_counter()
    out = steps.run(P, progress=True)
    seconds = time.perf_counter() - t0
    if args.relabel:
        SHIPPED.mkdir(parents=True, exist_ok=True)
        for name in ("training_labels.csv", "training_labels.json"):
            shutil.copy(steps.path(P, name), SHIPPED / name)
    table = out["table"].set_index("method")
    numbers = out["numbers"]
    write_result(
        "at_jnd", "mean bpp at the JND (closed loop, learned codec with a continuous rate)", "bpp",
        float(table.loc["learned-closed-loop", "bpp_mean"]), "plain JPEG, closed loop (QF search)",
        float(table.loc["jpeg-closed-loop", "bpp_mean"]), False,
        "python benchmarks/bench_at_jnd.py" + (" --relabel" if args.relabel else ""),
        **no_nan({**numbers, **out["picked"]}))
    print(f"at_jnd: {seconds:.0f} s")


if __name__ == "__main__":
    main()
