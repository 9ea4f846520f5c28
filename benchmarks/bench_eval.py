"""Our evaluator against CompressAI's ``eval_model`` on the same checkpoint and images.

Four photos that ship inside scikit-image are centre-cropped to 256x256 and written
as PNG to a temporary folder; a ScaleHyperprior (N=64, M=96) with a seeded random
init is updated and saved as a checkpoint {"state_dict": ...}, then loaded once
with eval_model's own ``load_checkpoint(..., "bmshj2018-hyperprior")``. Both
evaluators run in-process on that model, ``--reps`` times each in ABBA order, with the
same thread count (importing eval_model sets torch to 1 thread, and so both run
on one). Timed: the evaluation call only (image reading, padding, compress,
decompress, metrics; ours also computes the likelihood estimate and checks the
entropy-coding round trip).

Agreement: per image, our bpp must equal eval_model's ``inference`` bpp exactly,
PSNR and MS-SSIM within 1e-3 (both are computed on the rounded 8-bit values).
Writes benchmarks/results/eval_vs_compressai.json (ratio = ours / theirs seconds,
lower is better). Exits 1 if the metrics disagree or ours is > 5% slower.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import write_result  # noqa: E402

ARCH = "bmshj2018-hyperprior"
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
COMMAND = "python benchmarks/bench_eval.py"


def write_images(folder: Path, size: int = 256) -> list[Path]:
    from skimage import data

    paths = []
    for name in PHOTOS:
        img = np.asarray(getattr(data, name)())[..., :3]
        h, w = img.shape[:2]
        top, left = (h - size) // 2, (w - size) // 2
        p = folder / f"{name}.png"
        Image.fromarray(np.ascontiguousarray(img[top:top + size, left:left + size])).save(p)
        paths.append(p)
    return paths


def write_checkpoint(path: Path, seed: int = 0) -> Path:
    from compressai.models import ScaleHyperprior

    torch.manual_seed(seed)
    model = ScaleHyperprior(N=64, M=96)
    model.update(force=True)
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=8, help="timed runs of each evaluator (alternating)")
    args = ap.parse_args(argv)

    import compressai.utils.eval_model.__main__ as em  # sets torch to 1 thread

    from jndlc_helpers.evaluation.evaluate import evaluate_model

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "images").mkdir()
        write_images(tmp / "images")
        ckpt = write_checkpoint(tmp / "checkpoint.pth.tar")
        net = em.load_checkpoint(ARCH, False, str(ckpt))
        filepaths = em.collect_images(str(tmp / "images"))
        eval_args = {"architecture": ARCH, "half": False, "per_image": False}

        def theirs():
            return em.eval_model(net, "", tmp / "images", filepaths, entropy_estimation=False, **eval_args)

        def ours():
            return evaluate_model(net, filepaths, method="random-init", family="mse", quality=1)

        avg, df = theirs(), ours()  # warm-up (allocations, first-call paths)
        t_theirs, t_ours = [], []
        for rep in range(args.reps):
            order = ("theirs", "ours") if rep % 2 == 0 else ("ours", "theirs")  # ABBA: no order bias
            for who in order:
                t0 = time.perf_counter()
                if who == "theirs":
                    avg = theirs()
                    t_theirs.append(time.perf_counter() - t0)
                else:
                    df = ours()
                    t_ours.append(time.perf_counter() - t0)

        # per-image agreement with eval_model's own inference()
        diffs = {"bpp": 0.0, "psnr": 0.0, "ms_ssim": 0.0}
        for p in filepaths:
            ref = em.inference(net, em.read_image(p))
            row = df[df["image"] == Path(p).stem].iloc[0]
            diffs["bpp"] = max(diffs["bpp"], abs(row["bpp"] - ref["bpp"]))
            diffs["psnr"] = max(diffs["psnr"], abs(row["psnr"] - ref["psnr-rgb"]))
            diffs["ms_ssim"] = max(diffs["ms_ssim"], abs(row["ms_ssim"] - ref["ms-ssim-rgb"]))

    ours_s, theirs_s = statistics.median(t_ours), statistics.median(t_theirs)
    ratio = ours_s / theirs_s
    agree = diffs["bpp"] == 0.0 and diffs["psnr"] <= 1e-3 and diffs["ms_ssim"] <= 1e-3
    fast = ratio <= 1.05
    path = write_result(
        name="eval_vs_compressai",
        metric=f"evaluation wall time, {len(filepaths)} images 256x256, ScaleHyperprior N=64 M=96 "
               f"(random init), median of {args.reps} runs each in ABBA order, {torch.get_num_threads()} thread(s)",
        unit="s",
        value=ours_s,
        baseline="compressai.utils.eval_model.eval_model (in-process, same model and images)",
        baseline_value=theirs_s,
        higher_is_better=False,
        command=COMMAND,
        ratio_of_minima=min(t_ours) / min(t_theirs),
        ours_runs_s=t_ours,
        theirs_runs_s=t_theirs,
        max_abs_diff=diffs,
        agreement="bpp exact, PSNR and MS-SSIM within 1e-3" if agree else "DISAGREE",
        theirs_average={k: float(v) for k, v in avg.items()},
        ours_average={"bpp": float(df["bpp"].mean()), "psnr-rgb": float(df["psnr"].mean()),
                      "ms-ssim-rgb": float(df["ms_ssim"].mean()), "bpp_est": float(df["bpp_est"].mean())},
        ours_extra_work="likelihood estimate (bpp_est) and entropy-coding round-trip check included in our time",
    )
    print(f"ours {ours_s:.3f} s, eval_model {theirs_s:.3f} s, ratio {ratio:.3f}; max |diff| {diffs}")
    print(f"wrote {path}")
    if not agree:
        print("FAIL: metrics disagree with eval_model", file=sys.stderr)
    if not fast:
        print("FAIL: ours is more than 5% slower than eval_model", file=sys.stderr)
    return 0 if (agree and fast) else 1


if __name__ == "__main__":
    raise SystemExit(main())
