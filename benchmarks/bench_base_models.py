"""Base models against Pillow's JPEG on the embedded JND test set, side by side.

The base models the quick profile fine-tunes from (``baseline-<metric>-q<k>`` in the
models folder, k in its qualities unless ``--qualities`` says otherwise) and JPEG at
quality factors 5, 10, ..., 95 code the same test images in one run; the numbers are those of
``jndlc_helpers.evaluation.basecheck.base_model_report``. The headline value is the MSE family's
rate relative to JPEG at equal PSNR (1 + BD-rate/100, PCHIP): below 1 is better.

    python benchmarks/bench_base_models.py [--models DIR] [--data DIR] [--qualities 1 3 5 7] [--unfinished]

``--unfinished`` also takes checkpoints of runs still training (to follow a long run);
such a result says so in its ``models`` field.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd
from common import no_nan, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jndlc_helpers import config, vocab  # noqa: E402
from jndlc_helpers.codec import models  # noqa: E402
from jndlc_helpers.data import pairs  # noqa: E402
from jndlc_helpers.evaluation import basecheck, evaluate, metrics  # noqa: E402

JPEG_QUALITIES = tuple(range(5, 100, 5))




def find_models(folder: Path, qualities: list[int], unfinished: bool) -> list[tuple[str, int, Path, bool]]:
    """(metric, quality, checkpoint, finished) of the base models of ``qualities`` in ``folder``."""
    found = []
    for metric in vocab.DISTORTIONS:
        for q in qualities:
            run = folder / f"baseline-{metric}-q{q}"
            ckpt = run / "checkpoint.pth.tar"
            done = (run / "done.json").is_file()
            if ckpt.is_file() and (done or unfinished):
                found.append((metric, q, ckpt, done))
    if not found:
        raise SystemExit(f"{folder}: no base models (baseline-<metric>-q<k>/checkpoint.pth.tar)")
    return found


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=config.PRETRAIN["quick"]["out"])
    ap.add_argument("--data", default="data/embedded", help="root/test/{Ref,JND1}")
    ap.add_argument("--qualities", type=int, nargs="+", default=config.profile("quick")["qualities"],
                    help="default: those the quick profile fine-tunes from")
    ap.add_argument("--unfinished", action="store_true", help="include runs still training")
    ap.add_argument("--out", default=None, help="also write the RD table (CSV) here")
    args = ap.parse_args()

    folder, data = ROOT / args.models, ROOT / args.data
    test_pairs = pairs.find_pairs(data / "test")
    images = [ref for ref, _ in test_pairs]
    rows, steps = [], {}
    found = find_models(folder, args.qualities, args.unfinished)
    for metric, q, ckpt, _ in found:
        model, meta = models.load_checkpoint(ckpt)
        steps[metric, q] = meta.get("steps")
        rows.append(evaluate.evaluate_model(model, images, method="baseline-pretrained", family=metric,
                                            quality=q, lmbda=config.lambda_for(metric, q)))
    for qf in JPEG_QUALITIES:
        rows.append(evaluate.evaluate_anchor("jpeg", qf, images))
    rd = pd.concat(rows, ignore_index=True)
    if args.out:
        rd.to_csv(args.out, index=False)
    jnd = metrics.jnd_quality_table(test_pairs)
    report = basecheck.base_model_report(rd, jnd)
    fam = report.pop("families")
    label = "" if all(done for *_, done in found) else " (includes unfinished runs)"
    rate = report["bd_rate_vs_jpeg_mse_psnr"]
    write_result(
        "base_models",
        metric="rate relative to Pillow JPEG at equal PSNR, MSE family (1 + BD-rate/100, PCHIP, "
               "dataset-average curves)",
        unit="x", value=None if math.isnan(rate) else 1 + rate / 100, baseline="Pillow JPEG (4:2:0)",
        baseline_value=1.0, higher_is_better=False,
        command="python benchmarks/bench_base_models.py" + (" --unfinished" if args.unfinished else ""),
        **no_nan({**report, "families": fam}), n_test_images=len(images), data=args.data,
        models=f"{args.models}: " + ", ".join(f"{m}-q{q} ({'' if d else 'unfinished, '}step {steps[m, q]})"
                                              for m, q, _, d in found) + label,
    )
    print(f"BD-rate vs JPEG: MSE/PSNR {report['bd_rate_vs_jpeg_mse_psnr']:.2f}%, "
          f"MS-SSIM/dB {report['bd_rate_vs_jpeg_msssim_msssimdb']:.2f}%; bpp {report['bpp_min']:.3f}-"
          f"{report['bpp_max']:.3f}; monotone {report['monotone']}; JND in range "
          f"{report['jnd_in_range_fraction']:.0%}")
    for f, v in fam.items():
        print(f, "bpp", v["bpp"], v["axis"], v[v["axis"]], "dB vs JPEG", v["db_vs_jpeg"])


if __name__ == "__main__":
    main()
