"""JPEG preprocessing on the embedded JND test set, with real Pillow bitstreams.

One run measures, side by side on the 13 test images:
- the simulator against Pillow's decode (PSNR between them, quality factors 10-90);
- the rate proxy, refitted on the training images (unlabelled photographs and JND
  training pairs), against real file sizes of the test images (Pearson, Spearman);
- every preprocessor of the standard recipe (``config.JPEG_RECIPE``), trained
  here (the weights are copied to data/jpeg_preprocessors/quick/ for the quick chain);
- plain JPEG, the classical anchor and every preprocessor at quality factors 20-90:
  BD-rate (PCHIP, average curve, bootstrap 95% over images) and BS_JND;
- the rounding surrogate: the MSE preprocessor trained through a straight-through
  rounding instead of the expected-cost relaxation.

The headline value is the MSE-trained preprocessor's rate relative to plain JPEG at
equal PSNR (1 + BD-rate/100): below 1 is better.

    python benchmarks/bench_jpeg_preprocessing.py [--bootstrap 1000] [--resume]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import no_nan, write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from jndlc_helpers import config  # noqa: E402
from jndlc_helpers.jpeg import rate as R  # noqa: E402
from jndlc_helpers.jpeg import simulator as S  # noqa: E402
from jndlc_helpers.jpeg import steps  # noqa: E402
from jndlc_helpers.evaluation import evaluate as E  # noqa: E402
from jndlc_helpers.evaluation import metrics as M  # noqa: E402

FIDELITY_QUALITIES = tuple(range(10, 91, 10))




def simulator_fidelity(images: dict) -> dict:
    """PSNR of the simulator's reconstruction against Pillow's decode, and the codec's own PSNR."""
    sim_db, codec_db = [], []
    for rgb in images.values():
        for q in FIDELITY_QUALITIES:
            dec = E.decode_anchor(E.encode_anchor(rgb, "jpeg", q))
            sim = S.simulate(R.rgb_tensor(rgb), q)[0].permute(1, 2, 0).to(torch.uint8).numpy()
            sim_db.append(M.psnr(dec, sim))
            codec_db.append(M.psnr(rgb, dec))
    return {"simulator_psnr_vs_pillow": float(np.mean(sim_db)), "simulator_psnr_vs_pillow_min": float(np.min(sim_db)),
            "codec_psnr_mean": float(np.mean(codec_db)), "qualities": list(FIDELITY_QUALITIES)}


def rate_fit(P: dict, test: dict) -> dict:
    """Refit the proxy on the training images, save it, and measure it on the test images."""
    train = [img.ref for img in steps.training_images(P)]
    proxy = R.fit_rate_proxy(train)
    X, y = R.measure(test.values())
    corr = R.correlation(proxy, X, y, len(R.DEFAULT_QUALITIES))
    proxy.save(R.default_proxy_path(), fitted_on="data/photos/unlabelled + data/embedded/train (Ref)",
               qualities=list(R.DEFAULT_QUALITIES), test_correlation=corr)
    return corr


def bd_value(bd, method, family, anchor, metric) -> dict:
    row = bd[(bd.method == method) & (bd.family == family) & (bd.anchor == anchor) & (bd.metric == metric)]
    if row.empty:
        return {"bd_rate": None, "low": None, "high": None, "reason": "not computed"}
    r = row.iloc[0]
    return no_nan({"bd_rate": float(r.bd_rate), "low": float(r.low), "high": float(r.high),
                   "reason": r.reason or None})


def per_loss(bd, bs, families: dict) -> list:
    out = []
    for family, losses in families.items():
        metric = "psnr" if family == "mse" else "ms_ssim_db"
        for loss in losses:
            m = f"preproc-{loss}"
            row = {"loss": loss, "family": family}
            for anchor in ("jpeg", "classical", "preproc-baseline"):
                for met in ("psnr", "ms_ssim_db"):
                    row[f"bd_rate_vs_{anchor}_{met}"] = bd_value(bd, m, family, anchor, met)
            for base in ("jpeg", "preproc-baseline"):
                s = bs[(bs.method == m) & (bs.family == family) & (bs.baseline == base) & (bs.metric == metric)]
                row[f"bs_jnd_vs_{base}"] = no_nan({k: float(s.iloc[0][k]) for k in ("mean", "low", "high")}
                                                  | {"n_used": int(s.iloc[0]["n_used"])}) if len(s) else None
            out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--resume", action="store_true", help="keep runs/bench_jpeg (finished runs and rows are reused)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not args.resume:
        shutil.rmtree(ROOT / "runs" / "bench_jpeg", ignore_errors=True)
    std = config.JPEG_RECIPE
    P = steps.jpeg_params({**config.profile("quick", data_root=str(ROOT / "data/embedded"),
                                            unlabelled_root=str(ROOT / "data/photos/unlabelled"),
                                            bootstrap=args.bootstrap),
                           "run_dir": str(ROOT / "runs" / "bench_jpeg")},
                          jpeg_losses=std["jpeg_losses"], jpeg_qualities=std["jpeg_qualities"],
                          jpeg_weights="", jpeg_jod=False)
    test = steps.test_images(P)
    fidelity = simulator_fidelity(test)
    corr = rate_fit(P, test)
    times = {}
    t0 = time.perf_counter()
    weights = {}
    for family, losses in P["jpeg_losses"].items():
        for loss in losses:
            t = time.perf_counter()
            weights.update(steps.train_all({**P, "jpeg_losses": {family: [loss]}}, progress=True))
            times[f"{loss}-{family}"] = time.perf_counter() - t
    train_s = time.perf_counter() - t0
    quick = ROOT / steps.SHIPPED / "quick"
    quick.mkdir(parents=True, exist_ok=True)
    for name, path in weights.items():
        shutil.copyfile(path, quick / f"{name}.pt")
    t = time.perf_counter()
    rd = steps.evaluate_all(P, weights, progress=True)
    eval_s = time.perf_counter() - t
    bd, bs = steps.bd_rate_tables(P, rd), steps.bs_jnd_tables(P, rd)
    surrogate = surrogate_comparison(P, rd)
    report(P, bd, bs, fidelity, corr, times, train_s, eval_s, surrogate)


def surrogate_comparison(P: dict, rd) -> dict:
    """The MSE preprocessor trained through a straight-through rounding surrogate instead
    of the expected-cost relaxation (same data, budget, seed), against plain JPEG."""
    from jndlc_helpers.evaluation import bdrate
    from jndlc_helpers.jpeg.evaluate import MethodSpec, evaluate_methods
    from jndlc_helpers.jpeg.train import TrainConfig, train_preprocessor

    cfg = TrainConfig(loss="baseline", distortion="mse", steps=P["jpeg_steps"], batch_size=P["jpeg_batch_size"],
                      patch_size=P["jpeg_patch_size"], qualities=P["jpeg_qualities"], lr=P["jpeg_lr"],
                      seed=P["jpeg_seeds"][0], surrogate="straight-through")
    w = train_preprocessor(steps.jpeg_path(P, "models", "baseline-mse-straight-through"), steps.training_images(P),
                           cfg, steps.proxy())
    st = evaluate_methods(steps.test_images(P), {"preproc-baseline-st": MethodSpec(("mse",), "learned", str(w))},
                          P["jpeg_qualities"])
    both = pd.concat([rd, st], ignore_index=True)
    bd = bdrate.bd_rate_table(both, ["preproc-baseline-st", "preproc-baseline"], anchors=["jpeg"], families=["mse"],
                              metrics=["psnr"], methods=("pchip",), aggregates=("average-curve",),
                              n_boot=P["bootstrap"], seed=P["seed"])
    return {m: bd_value(bd, m, "mse", "jpeg", "psnr") for m in ("preproc-baseline-st", "preproc-baseline")}


def report(P, bd, bs, fidelity, corr, times, train_s, eval_s, surrogate) -> None:
    mse = bd_value(bd, "preproc-baseline", "mse", "jpeg", "psnr")
    ms = bd_value(bd, "preproc-baseline", "ms-ssim", "jpeg", "ms_ssim_db")
    classical = bd_value(bd, "classical", "mse", "jpeg", "psnr")
    value = None if mse["bd_rate"] is None else 1 + mse["bd_rate"] / 100
    write_result(
        "jpeg_preprocessing",
        "rate relative to plain Pillow JPEG at equal PSNR, MSE-trained preprocessor (1 + BD-rate/100, PCHIP, "
        "average curve, real bitstreams, quality factors 20-90, 13 embedded test images)",
        "x", value, "plain Pillow JPEG (4:2:0, same quality factors)", 1.0, False,
        "python benchmarks/bench_jpeg_preprocessing.py",
        bd_rate_vs_jpeg_psnr=mse["bd_rate"], bd_rate_vs_jpeg_psnr_low=mse["low"],
        bd_rate_vs_jpeg_psnr_high=mse["high"],
        bd_rate_vs_jpeg_msssimdb=ms["bd_rate"], bd_rate_vs_jpeg_msssimdb_low=ms["low"],
        bd_rate_vs_jpeg_msssimdb_high=ms["high"],
        bd_rate_classical_vs_jpeg_psnr=classical["bd_rate"], bd_rate_classical_vs_jpeg_psnr_low=classical["low"],
        bd_rate_classical_vs_jpeg_psnr_high=classical["high"],
        bd_rate_classical_vs_jpeg_msssimdb=bd_value(bd, "classical", "ms-ssim", "jpeg", "ms_ssim_db")["bd_rate"],
        bd_rate_mse_preprocessor_vs_classical_psnr=bd_value(bd, "preproc-baseline", "mse", "classical", "psnr"),
        bd_rate_msssim_preprocessor_vs_classical_msssimdb=bd_value(bd, "preproc-baseline", "ms-ssim", "classical",
                                                                   "ms_ssim_db"),
        simulator_psnr_vs_pillow=fidelity["simulator_psnr_vs_pillow"], simulator=fidelity,
        rate_estimate_spearman=corr["spearman"], rate_estimate=corr,
        per_loss=per_loss(bd, bs, P["jpeg_losses"]),
        rounding_surrogate_bd_rate_vs_jpeg_psnr={"expected-cost relaxation": surrogate["preproc-baseline"],
                                                 "straight-through": surrogate["preproc-baseline-st"]},
        training_time_s=times, training_time_total_s=train_s, evaluation_time_s=eval_s,
        recipe={k: P[k] for k in ("jpeg_steps", "jpeg_batch_size", "jpeg_lr", "jpeg_patch_size", "jpeg_qualities",
                                  "jpeg_seeds", "feature_extractor")},
        bootstrap=P["bootstrap"], n_test_images=int(bd["n_images"].max()),
        provenance=config.provenance_label(steps.provenance(P)),
    )


if __name__ == "__main__":
    main()
