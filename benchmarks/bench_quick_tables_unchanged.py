"""Does the code give the quick profile's published tables again, to the last digit?

The quick run's trained models (``runs/quick/models``) are linked into a fresh run folder,
evaluated there from scratch with the current code (notebooks 03-05: every model and
anchor coded again on the 13 test images, BD-rates and BS_JND bootstrapped again), and
every published table (``figures/quick/table*.{csv,md,tex}``) and results file of the
original run is compared byte for byte (rd.csv: every column but the coding times, as
text). A refactor that changes no number passes.

    python benchmarks/bench_quick_tables_unchanged.py [--keep]

``--keep`` compares an earlier check folder without evaluating again.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jndlc_helpers import pipeline, provenance  # noqa: E402
from jndlc_helpers.reproduce import load_run_params  # noqa: E402

QUICK, CHECK = ROOT / "runs" / "quick", ROOT / "runs" / "quick_tables_check"
RESULTS = ("rd.csv", "jnd_quality.csv", "bd_rate.csv", "bs_jnd.csv", "bs_jnd_per_image.csv")
TIMES = ("enc_s", "dec_s")  # rd.csv's wall times: measured again, never equal


def evaluate_again() -> float:
    """The quick run's models, linked into CHECK and evaluated there; seconds taken."""
    shutil.rmtree(CHECK, ignore_errors=True)
    shutil.copytree(QUICK / "models", CHECK / "models", copy_function=os.link)
    shutil.copy(QUICK / "params.json", CHECK / "params.json")
    params = load_run_params("quick", CHECK)
    start = time.perf_counter()
    pipeline.evaluate_rd(params, progress=False)
    pipeline.bd_rate_tables(params)
    pipeline.bs_jnd_tables(params)
    return time.perf_counter() - start


def same(a: Path, b: Path) -> bool:
    """Byte-identical; for rd.csv, every column but the coding times, as written."""
    if not b.is_file():
        return False
    if a.name != "rd.csv":
        return filecmp.cmp(a, b, shallow=False)
    x, y = (pd.read_csv(p, dtype=str).drop(columns=list(TIMES)) for p in (a, b))
    return x.equals(y)


def compare() -> dict[str, bool]:
    """{file: identical} for every published table and results file."""
    pairs = {f"figures/quick/{p.name}": (p, CHECK / "figures" / p.name)
             for p in sorted((ROOT / "figures" / "quick").glob("table*.*"))}
    pairs.update({f"results/{name}": (QUICK / "results" / name, CHECK / "results" / name) for name in RESULTS})
    return {name: same(a, b) for name, (a, b) in pairs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", action="store_true", help="compare the existing check folder")
    ap.add_argument("--seconds", type=float, default=None, help="with --keep: the earlier evaluation's seconds")
    args = ap.parse_args()
    seconds = args.seconds if args.keep else evaluate_again()
    same = compare()
    rd = CHECK / "results" / "rd.csv"
    write_result(
        "quick_tables_unchanged", metric="published quick-profile tables and results files byte-identical "
        "after evaluating the quick run's models again with the current code", unit="files",
        value=sum(same.values()), baseline="files compared", baseline_value=len(same), higher_is_better=True,
        command="python benchmarks/bench_quick_tables_unchanged.py", files=same,
        rd_rows=sum(1 for _ in rd.open()) - 1 if rd.is_file() else 0, evaluation_s=seconds,
        git_commit=provenance.git_commit(ROOT),
        labels="quick profile: proxy JND labels (ColorVideoVDP), our small base models, 70 steps")
    print(f"{sum(same.values())} of {len(same)} files identical")


if __name__ == "__main__":
    main()
