"""Time the embedded default's build: ColorVideoVDP labels vs the NAMM labeller.

Both builds run side by side in this process (same images, same machine, same
load), ``--runs`` times each (force=True, fresh temporary folders); the result is the
median build time with cvvdp, and the baseline the median with NAMM.

    python benchmarks/bench_embedded_build.py [--runs 3] [--threads 2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import write_result  # noqa: E402
from jndlc_helpers.data import embedded  # noqa: E402
from jndlc_helpers.data.labellers import LABEL_THREADS  # noqa: E402


def time_build(labeller: str, root: Path, threads: int | None) -> float:
    kwargs = {"threads": threads} if threads is not None else {}
    start = time.perf_counter()
    embedded.build_embedded(root, labeller=labeller, force=True, progress=False, **kwargs)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="builds per labeller (median reported)")
    ap.add_argument("--threads", type=int, default=None,
                    help=f"torch CPU threads while labelling (default {LABEL_THREADS})")
    args = ap.parse_args(argv)
    times: dict[str, list[float]] = {"cvvdp": [], "namm": []}
    with tempfile.TemporaryDirectory(prefix="bench_embedded_") as tmp:
        # warm-up outside the timings: imports, ColorVideoVDP's model construction
        embedded.build_smoke(Path(tmp) / "warm", labeller="cvvdp", progress=False)
        for run in range(args.runs):
            for labeller in ("cvvdp", "namm"):  # interleaved: both see the same load
                sec = time_build(labeller, Path(tmp) / f"{labeller}{run}", args.threads)
                times[labeller].append(sec)
                print(f"run {run + 1}/{args.runs} {labeller}: {sec:.1f} s", flush=True)
    value, base = statistics.median(times["cvvdp"]), statistics.median(times["namm"])
    n = len(embedded.EMBEDDED_SOURCES)
    path = write_result(
        name="embedded_build",
        metric="build seconds (median)",
        unit="s",
        value=round(value, 2),
        baseline="namm labeller (same images, same run)",
        baseline_value=round(base, 2),
        higher_is_better=False,
        command="python benchmarks/bench_embedded_build.py"
                + (f" --runs {args.runs}" if args.runs != 3 else "")
                + (f" --threads {args.threads}" if args.threads is not None else ""),
        runs=args.runs,
        images=n,
        max_side=embedded.MAX_SIDE,
        threads=args.threads or LABEL_THREADS,
        times_s={k: [round(t, 2) for t in v] for k, v in times.items()},
        per_image_s=round(value / n, 2),
    )
    print(f"cvvdp {value:.1f} s, namm {base:.1f} s, ratio {value / base:.1f} -> {path}")


if __name__ == "__main__":
    main()
