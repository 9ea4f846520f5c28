"""Wall time of the whole quick chain (`make reproduce`), notebook by notebook.

It runs the main command's chain itself from an empty run folder (runs/<profile>) and
publishes its figures to figures/<profile>/, as `make reproduce` does.

There is no second implementation to race, so the baseline is the target (quick: 20
minutes on a 2-core CPU, the speed issue's; the base-model issue allows 30 with
`make setup`), marked as a target and not a measurement. ``data_cached`` says whether
the embedded set was already built; ``--fresh-data`` rebuilds it inside the timing.
``--twice`` runs it a second time from an empty run folder and compares every file the
two runs published in figures/<profile>/ byte for byte (``identical``, ``differing``).
Run from the repository root:  python benchmarks/bench_reproduce.py [--profile quick] [--twice]
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

from jndlc_helpers import reproduce as R
from jndlc_helpers.parallel import training_workers
from jndlc_helpers.files import read_json

TARGET_SECONDS = {"quick": 1200.0, "smoke": 300.0}


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def notebook_seconds(run_dir: Path) -> dict[str, float]:
    """Each notebook's seconds in the run folder's manifest (the last chain run there)."""
    return {k: v["seconds"] for k, v in read_json(run_dir / "manifest.json")["notebooks"].items()}


def run_chain(profile: str, run_dir: Path) -> float:
    """The main command's chain from an empty run folder; its wall time."""
    shutil.rmtree(run_dir, ignore_errors=True)
    start = time.perf_counter()
    R.reproduce(profile, run_dir=run_dir, progress=False)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", default="quick", choices=sorted(TARGET_SECONDS))
    ap.add_argument("--fresh-data", action="store_true", help="rebuild the embedded dataset too")
    ap.add_argument("--twice", action="store_true", help="run it again and compare what both published")
    args = ap.parse_args()
    run_dir = R.default_run_dir(args.profile)  # the main command's own run, redone from nothing
    params = R.resolve_params(args.profile)
    data_cached = (Path(params["data_root"]) / "manifest.json").exists() and not args.fresh_data
    if args.fresh_data:
        shutil.rmtree(params["data_root"], ignore_errors=True)
    wall = run_chain(args.profile, run_dir)
    notebooks = notebook_seconds(run_dir)
    repeat = {}
    if args.twice:
        published = R.resolve_path(f"figures/{args.profile}")
        first = digests(Path(published))
        second_wall = run_chain(args.profile, run_dir)
        second = digests(Path(published))
        differing = sorted(k for k in first.keys() | second.keys() if first.get(k) != second.get(k))
        repeat = dict(identical=not differing, differing=differing, files_compared=len(first),
                      second_run_s=round(second_wall, 1), second_notebooks=notebook_seconds(run_dir))
    path = write_result(
        name=f"reproduce_{args.profile}", metric=f"wall time of the {args.profile} notebook chain",
        unit="s", value=round(wall, 1), baseline=f"target for the {args.profile} profile (not measured)",
        baseline_value=TARGET_SECONDS[args.profile], higher_is_better=False,
        command=f"python benchmarks/bench_reproduce.py --profile {args.profile}"
                + (" --fresh-data" if args.fresh_data else "") + (" --twice" if args.twice else ""),
        baseline_measured=False, data_cached=data_cached, parallel_runs=training_workers(params),
        notebooks=notebooks, **repeat,
    )
    print(f"{wall:.0f} s; written to {path}")


if __name__ == "__main__":
    main()
