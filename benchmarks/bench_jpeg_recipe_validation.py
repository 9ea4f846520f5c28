"""The JPEG preprocessors' training recipe, chosen on the validation images.

Two recipes for the MSE preprocessor (baseline loss, seed 0), each trained as usual on
the embedded training images and the unlabelled photographs: 300 steps of batch 4 at lr
1e-3 (the recipe so far, chosen earlier by looking at the test images) and 1200 steps of
batch 8 at lr 3e-3. Both are evaluated with real Pillow bitstreams on the validation
images (``data/validation/test``: 12 images of 4 photographs, disjoint from train and
test), beside plain JPEG and the classical anchor, at the recipe's quality factors.

The rule, fixed before looking: the recipe with the lower BD-rate against the classical
anchor (PSNR, PCHIP, average curve) wins; where the two lie within ``TIE`` points of each
other, the cheaper one (fewer steps x batch) wins.

    python benchmarks/bench_jpeg_recipe_validation.py [--bootstrap 1000] [--resume]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from common import no_nan, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from jndlc_helpers import config  # noqa: E402
from jndlc_helpers.data.validation import VALIDATION_DIR  # noqa: E402
from jndlc_helpers.evaluation import bdrate  # noqa: E402
from jndlc_helpers.jpeg import steps  # noqa: E402
from jndlc_helpers.jpeg.evaluate import MethodSpec, evaluate_methods  # noqa: E402
from jndlc_helpers.jpeg.train import TrainConfig, train_preprocessor  # noqa: E402

RUNS = ROOT / "runs" / "bench_jpeg_recipe"
CHOSEN_BEFORE = "300 steps, batch 4, lr 1e-3"
RECIPES = {  # name -> (steps, batch, lr)
    CHOSEN_BEFORE: (300, 4, 1e-3),
    "1200 steps, batch 8, lr 3e-3": (1200, 8, 3e-3),
}
TIE = 0.1  # BD-rate points
RULE = (f"the recipe with the lower BD-rate against the classical anchor (PSNR, PCHIP, average curve, "
        f"validation images); within {TIE} points of each other, the cheaper one (fewer steps x batch)")


def slug(name: str) -> str:
    steps_, batch, lr = RECIPES[name]
    return f"s{steps_}-b{batch}-lr{lr:g}"


def train(P: dict, name: str) -> tuple[Path, float]:
    """One recipe's MSE preprocessor (baseline loss, the recipe's seed) and its training time
    (from its log: the last session's, where it was resumed)."""
    steps_, batch, lr = RECIPES[name]
    cfg = TrainConfig(loss="baseline", distortion="mse", steps=steps_, batch_size=batch, lr=lr,
                      patch_size=P["jpeg_patch_size"], qualities=P["jpeg_qualities"], seed=P["jpeg_seeds"][0])
    run = RUNS / "models" / f"baseline-mse-{slug(name)}"
    weights = train_preprocessor(run, steps.training_images(P), cfg, steps.proxy(), progress=True)
    last = (run / "log.jsonl").read_text().splitlines()[-1]
    return weights, float(json.loads(last)["elapsed_s"])


def choose(values: dict[str, float]) -> str:
    """The rule: the lowest BD-rate; within ``TIE`` of it, the cheapest recipe."""
    best = min(values.values())
    near = [n for n, v in values.items() if v <= best + TIE]
    return min(near, key=lambda n: RECIPES[n][0] * RECIPES[n][1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--resume", action="store_true", help="keep runs/bench_jpeg_recipe (finished runs and rows reused)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.resume:
        shutil.rmtree(RUNS, ignore_errors=True)
    P = steps.jpeg_params({**config.profile("quick", data_root=str(ROOT / "data/embedded"),
                                            unlabelled_root=str(ROOT / "data/photos/unlabelled"),
                                            bootstrap=args.bootstrap), "run_dir": str(RUNS)},
                          jpeg_qualities=config.JPEG_RECIPE["jpeg_qualities"], jpeg_weights="", jpeg_jod=False)
    trained = {name: train(P, name) for name in RECIPES}
    methods = {"jpeg": MethodSpec(("mse",), "jpeg"), "classical": MethodSpec(("mse",), "classical"),
               **{f"preproc-{slug(n)}": MethodSpec(("mse",), "learned", str(w)) for n, (w, _) in trained.items()}}
    images = steps.test_images({**P, "data_root": str(ROOT / VALIDATION_DIR)})
    rd = evaluate_methods(images, methods, P["jpeg_qualities"], RUNS / "results" / "rd.csv", progress=True,
                          workers=2)
    bd = bdrate.bd_rate_table(rd, [f"preproc-{slug(n)}" for n in RECIPES] + ["classical"], anchors=["classical", "jpeg"],
                              families=["mse"], metrics=["psnr"], methods=("pchip",), aggregates=("average-curve",),
                              n_boot=P["bootstrap"], seed=P["seed"])
    report(P, bd, trained, len(images))


def bd_row(bd, method: str, anchor: str) -> dict:
    r = bd[(bd.method == method) & (bd.anchor == anchor) & (bd.metric == "psnr")].iloc[0]
    return no_nan({"bd_rate": float(r.bd_rate), "low": float(r.low), "high": float(r.high),
                   "reason": r.reason or None})


def report(P: dict, bd, trained: dict, n_images: int) -> None:
    candidates = [{"recipe": n, "steps": RECIPES[n][0], "batch_size": RECIPES[n][1], "lr": RECIPES[n][2],
                   "training_time_s": trained[n][1],
                   "bd_rate_vs_classical_psnr": bd_row(bd, f"preproc-{slug(n)}", "classical"),
                   "bd_rate_vs_jpeg_psnr": bd_row(bd, f"preproc-{slug(n)}", "jpeg")} for n in RECIPES]
    chosen = choose({c["recipe"]: c["bd_rate_vs_classical_psnr"]["bd_rate"] for c in candidates})
    value = 1 + next(c for c in candidates if c["recipe"] == chosen)["bd_rate_vs_classical_psnr"]["bd_rate"] / 100
    write_result(
        "jpeg_recipe_validation",
        f"rate relative to the classical anchor at equal PSNR of the MSE preprocessor trained with the recipe "
        f"chosen on the validation images (1 + BD-rate/100, PCHIP, average curve, real bitstreams, quality factors "
        f"{P['jpeg_qualities'][0]}-{P['jpeg_qualities'][-1]}, {n_images} validation images)",
        "x", value, "the classical anchor (per-coefficient RD rounding, chroma pre-compensation)", 1.0, False,
        "python benchmarks/bench_jpeg_recipe_validation.py",
        rule=RULE, candidates=candidates, chosen_on_validation=chosen, chosen_before=CHOSEN_BEFORE,
        agree=chosen == CHOSEN_BEFORE,
        classical_vs_jpeg_psnr=bd_row(bd, "classical", "jpeg"),
        images=f"{VALIDATION_DIR}/test ({n_images} images of 4 photographs, disjoint from train and test)",
        seed=P["jpeg_seeds"][0], bootstrap=P["bootstrap"],
        provenance=config.provenance_label({**steps.provenance(P), "budget": "each candidate's (candidates)"}),
    )


if __name__ == "__main__":
    main()
