"""WeConv against the plain mean-scale hyperprior, trained from scratch under the same budget.

Both architectures' base models come from the same recipe (``config.PRETRAIN["quick"]`` and
``["quick-weconv"]``: same corpus, seed, batch, patches and schedule), MSE family, under one
shorter budget (the anchor's ``steps``, ``warm_steps`` for each warm start) given on both
command lines. Their qualities code the 13 embedded test images in one run; the BD-rate of
WeConv against the plain model (PSNR, PCHIP, dataset-average curve, bootstrap 95% interval
over the images) is the headline. Its noise floor from scratch: each architecture's anchor
quality trained again with another seed, its point read against the first seed's curve (the
rate it needs beside the rate the first seed's curve needs for the same PSNR). Parameters and
time per training step come from ``weconv_cost.json`` (measured side by side there); encode
and decode times from this run's evaluation.

    python benchmarks/bench_weconv.py [--plain data/pretrained/quick-corpus-4k] [--weconv data/pretrained/quick-corpus-weconv]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd
from common import RESULTS, no_nan, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jndlc_helpers import config  # noqa: E402
from jndlc_helpers.codec import models  # noqa: E402
from jndlc_helpers.data import pairs  # noqa: E402
from jndlc_helpers.evaluation import bdrate, bsjnd, evaluate  # noqa: E402
from jndlc_helpers.files import read_json  # noqa: E402


def evaluate_family(folder: Path, qualities: list[int], method: str, images: list[Path]) -> pd.DataFrame:
    """RD rows of ``folder``'s MSE base models at ``qualities`` (a missing quality: skipped)."""
    rows = []
    for q in qualities:
        ckpt = folder / f"baseline-mse-q{q}" / "checkpoint.pth.tar"
        if ckpt.is_file() and (ckpt.parent / "done.json").is_file():
            model, _ = models.load_checkpoint(ckpt)
            rows.append(evaluate.evaluate_model(model, images, method=method, family="mse", quality=q,
                                                lmbda=config.lambda_for("mse", q)))
    if not rows:
        raise SystemExit(f"{folder}: no finished MSE base models")
    return pd.concat(rows, ignore_index=True)


def seed_shift(curve: pd.DataFrame, point: pd.DataFrame) -> float:
    """How much more rate (%) the other seed's point needs than the first seed's curve at its PSNR."""
    avg = curve.groupby("quality")[["bpp", "psnr"]].mean()
    p = point[["bpp", "psnr"]].mean()
    rate, why = bsjnd.rate_at_quality(avg["bpp"].to_numpy(), avg["psnr"].to_numpy(), float(p["psnr"]))
    return (float(p["bpp"]) / rate - 1) * 100 if why is None else math.nan


def budget(folder: Path) -> dict:
    """The steps each base model of ``folder`` trained for (from its done.json)."""
    return {p.parent.name: read_json(p).get("steps") for p in sorted(folder.glob("baseline-mse-q*/done.json"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plain", default="data/pretrained/quick-corpus-4k")
    ap.add_argument("--weconv", default=config.PRETRAIN["quick-weconv"]["out"])
    ap.add_argument("--seed-suffix", default="-seed1", help="the second seed's folders: <folder><suffix>")
    ap.add_argument("--qualities", type=int, nargs="+", default=config.profile("quick")["qualities"])
    ap.add_argument("--bootstrap", type=int, default=1000)
    args = ap.parse_args()
    images = [ref for ref, _ in pairs.find_pairs(ROOT / "data/embedded/test")]
    folders = {"plain": ROOT / args.plain, "weconv": ROOT / args.weconv}
    rd = pd.concat([evaluate_family(f, args.qualities, m, images) for m, f in folders.items()], ignore_index=True)
    bd = bdrate.bd_rate_table(rd, ["weconv"], anchors=["plain"], metrics=["psnr"], families=["mse"],
                              methods=("pchip",), aggregates=("average-curve",), n_boot=args.bootstrap, seed=0)
    head = bd.iloc[0]
    anchor = config.PRETRAIN["quick"]["anchor_quality"]
    shifts = {}
    for m, f in folders.items():
        other = Path(str(f) + args.seed_suffix)
        if (other / f"baseline-mse-q{anchor}" / "done.json").is_file():
            point = evaluate_family(other, [anchor], m, images)
            shifts[m] = seed_shift(rd[rd["method"] == m], point)
    cost = json.loads((RESULTS / "weconv_cost.json").read_text())
    times = rd.groupby("method")[["enc_s", "dec_s"]].mean()
    value = float(head["bd_rate"])
    write_result(
        "weconv",
        metric="rate of WeConv relative to the plain mean-scale hyperprior at equal PSNR, same budget, MSE family "
               "(1 + BD-rate/100, PCHIP, dataset-average curves)",
        unit="x", value=1 + value / 100 if math.isfinite(value) else None,
        baseline="the plain mean-scale hyperprior under the same budget", baseline_value=1.0, higher_is_better=False,
        command=f"python benchmarks/bench_weconv.py --plain {args.plain} --weconv {args.weconv}",
        **no_nan({"bd_rate_vs_plain": value, "low": float(head["low"]), "high": float(head["high"]),
                  "seed_noise": max((abs(v) for v in shifts.values() if math.isfinite(v)), default=math.nan),
                  "seed_shift": shifts}),
        interval="bootstrap 95% over the test images", n_images=len(images), qualities=args.qualities,
        params_ratio=cost["parameters"]["ratio"], step_time_ratio=cost["ratio"],
        cost_source="benchmarks/results/weconv_cost.json (side by side, one thread)",
        encode_time_ratio=float(times.loc["weconv", "enc_s"] / times.loc["plain", "enc_s"]),
        decode_time_ratio=float(times.loc["weconv", "dec_s"] / times.loc["plain", "dec_s"]),
        steps={m: budget(f) for m, f in folders.items()},
        labels="our small mean-scale hyperprior N=64/M=96 and its WeConv variant, trained from scratch on our "
               "22-photograph corpus under a short budget; proxy-labelled embedded test images; not WeConvene's "
               "model or protocol",
    )
    print(f"WeConv vs plain: {value:+.2f}% [{head['low']:+.2f}, {head['high']:+.2f}]; seed shifts {shifts}")


if __name__ == "__main__":
    main()
