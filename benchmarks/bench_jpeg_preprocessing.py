"""JPEG preprocessing on the embedded JND test set, with real Pillow bitstreams.

One run measures, side by side on the 13 test images:
- the simulator against Pillow's decode (PSNR between them, quality factors 10-90);
- the rate proxy, refitted on the training images (unlabelled photographs and JND
  training pairs), against real file sizes of the test images (Pearson, Spearman);
- every preprocessor of the standard recipe (``config.JPEG_RECIPE``), trained here with
  each of its seeds (IWL with the first: it trains the baseline's weights); the first
  seed's weights are copied to data/jpeg_preprocessors/quick/ for the quick chain;
- plain JPEG, the classical anchor, its SSIM-weighted variant (MS-SSIM family) and every
  preprocessor at quality factors 20-90: BD-rate (PCHIP, average curve) and BS_JND, each
  loss against the baseline-loss preprocessor of the same seed, 95% intervals over images
  (bootstrap) and seeds (Student-t), Holm's correction over each anchor's rows
  (``evaluation.replicates``), and the baseline loss's seed-to-seed spread;
- the rounding surrogate: the MSE preprocessor (first seed) trained through a
  straight-through rounding instead of the expected-cost relaxation.

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
from jndlc_helpers.evaluation import replicates  # noqa: E402
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


def tested(r) -> dict:
    """A replicated row's interval, seeds, test and Holm-corrected test."""
    return {"interval": r["interval"], "seeds": int(r["n_seeds"]), "differs": bool(r["differs"]),
            "p": float(r["p"]), "holm": bool(r["holm"])}


def bd_value(bd, method, family, anchor, metric) -> dict:
    row = bd[(bd.method == method) & (bd.family == family) & (bd.anchor == anchor) & (bd.metric == metric)]
    if row.empty:
        return {"bd_rate": None, "low": None, "high": None, "reason": "not computed"}
    r = row.iloc[0]
    return no_nan({"bd_rate": float(r.bd_rate), "low": float(r.low), "high": float(r.high),
                   "reason": r.reason or None} | (tested(r) if "holm" in row else {}))


def per_loss(bd, bs, families: dict) -> list:
    """Every preprocessor against plain JPEG, the classical anchors and the baseline-loss
    preprocessor of the same seed: BD-rate in PSNR and MS-SSIM dB, BS_JND in its family's metric."""
    out = []
    for family, losses in families.items():
        metric = "psnr" if family == "mse" else "ms_ssim_db"
        anchors = ["jpeg", "classical", *(["classical-ssim"] if family == "ms-ssim" else []), steps.CONTROL]
        for loss in losses:
            m = f"preproc-{loss}"
            row = {"loss": loss, "family": family}
            for anchor in anchors:
                for met in ("psnr", "ms_ssim_db"):
                    row[f"bd_rate_vs_{anchor}_{met}"] = bd_value(bd, m, family, anchor, met)
            for base in ("jpeg", steps.CONTROL):
                s = bs[(bs.method == m) & (bs.family == family) & (bs.baseline == base) & (bs.metric == metric)]
                row[f"bs_jnd_vs_{base}"] = no_nan({k: float(s.iloc[0][k]) for k in ("mean", "low", "high")}
                                                  | {"n_used": int(s.iloc[0]["n_used"])}
                                                  | (tested(s.iloc[0]) if "holm" in s else {})) if len(s) else None
            out.append(row)
    return out


def effects(bd, bs, families: dict) -> list:
    """The JND losses' effects: each loss against the baseline-loss preprocessor of the same
    seed, BD-rate and BS_JND in its family's metric, with interval, seeds, test and Holm."""
    out = []
    for family, losses in families.items():
        metric = "psnr" if family == "mse" else "ms_ssim_db"
        for loss in (x for x in losses if x != "baseline"):
            s = bs[(bs.method == f"preproc-{loss}") & (bs.family == family) & (bs.baseline == steps.CONTROL)
                   & (bs.metric == metric)]
            bs_row = no_nan({"value": float(s.iloc[0]["mean"]), "low": float(s.iloc[0]["low"]),
                             "high": float(s.iloc[0]["high"])} | tested(s.iloc[0])) if len(s) else None
            bd_row = bd_value(bd, f"preproc-{loss}", family, steps.CONTROL, metric)
            out.append({"loss": loss, "family": family, "metric": metric,
                        "bd_rate": {"value": bd_row.pop("bd_rate"), **bd_row}, "bs_jnd": bs_row})
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
                          jpeg_seeds=std["jpeg_seeds"], jpeg_single_seed_losses=std["jpeg_single_seed_losses"],
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
    for (loss, distortion, seed), path in weights.items():
        if seed == P["jpeg_seeds"][0]:
            shutil.copyfile(path, quick / f"{loss}-{distortion}.pt")
    t = time.perf_counter()
    rd = steps.evaluate_all(P, weights, progress=True)
    eval_s = time.perf_counter() - t
    bd, bs = steps.bd_rate_tables(P, rd), steps.bs_jnd_tables(P, rd)
    surrogate = surrogate_comparison(P, rd)
    floor = replicates.noise_floor_for(rd, list(P["jpeg_losses"]), control=steps.CONTROL)
    report(P, bd, bs, fidelity, corr, times, train_s, eval_s, surrogate, floor)


def surrogate_comparison(P: dict, rd) -> dict:
    """The MSE preprocessor trained through a straight-through rounding surrogate instead
    of the expected-cost relaxation (same data, budget, first seed), against plain JPEG."""
    from jndlc_helpers.evaluation import bdrate
    from jndlc_helpers.jpeg.evaluate import MethodSpec, evaluate_methods
    from jndlc_helpers.jpeg.train import train_preprocessor

    seed = P["jpeg_seeds"][0]
    cfg = steps.train_config(P, "baseline", "mse", seed, surrogate="straight-through")
    w = train_preprocessor(steps.jpeg_path(P, "models", "baseline-mse-straight-through"), steps.training_images(P),
                           cfg, steps.proxy())
    st = evaluate_methods(steps.test_images(P), {("preproc-baseline-st", seed): MethodSpec(("mse",), "learned", str(w))},
                          P["jpeg_qualities"])
    both = pd.concat([rd[rd["seed"] == seed], st], ignore_index=True)
    bd = bdrate.bd_rate_table(both, ["preproc-baseline-st", "preproc-baseline"], anchors=["jpeg"], families=["mse"],
                              metrics=["psnr"], methods=("pchip",), aggregates=("average-curve",),
                              n_boot=P["bootstrap"], seed=P["seed"])
    return {m: bd_value(bd, m, "mse", "jpeg", "psnr") for m in ("preproc-baseline-st", "preproc-baseline")}


def report(P, bd, bs, fidelity, corr, times, train_s, eval_s, surrogate, floor) -> None:
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
        classical_ssim={f"bd_rate_vs_{a}_{m}": bd_value(bd, "classical-ssim", "ms-ssim", a, m)
                        for a in ("jpeg", "classical") for m in ("psnr", "ms_ssim_db")},
        bd_rate_msssim_preprocessor_vs_classical_ssim_msssimdb=bd_value(bd, "preproc-baseline", "ms-ssim",
                                                                        "classical-ssim", "ms_ssim_db"),
        jnd_loss_effects=effects(bd, bs, P["jpeg_losses"]), seeds=P["jpeg_seeds"],
        single_seed_losses=P["jpeg_single_seed_losses"], noise_floor=floor,
        holm="each anchor's rows of the BD-rate table (PSNR and MS-SSIM dB, both families) and each baseline's of "
             "the BS_JND table",
        simulator_psnr_vs_pillow=fidelity["simulator_psnr_vs_pillow"], simulator=fidelity,
        rate_estimate_spearman=corr["spearman"], rate_estimate=corr,
        per_loss=per_loss(bd, bs, P["jpeg_losses"]),
        rounding_surrogate_bd_rate_vs_jpeg_psnr={"expected-cost relaxation": surrogate["preproc-baseline"],
                                                 "straight-through": surrogate["preproc-baseline-st"]},
        training_time_s=times, training_time_total_s=train_s, evaluation_time_s=eval_s,
        recipe={k: P[k] for k in ("jpeg_steps", "jpeg_batch_size", "jpeg_lr", "jpeg_patch_size", "jpeg_qualities",
                                  "jpeg_seeds", "jpeg_single_seed_losses", "feature_extractor")},
        recipe_checked_on_validation="benchmarks/results/jpeg_recipe_validation.json",
        bootstrap=P["bootstrap"], n_test_images=int(bd["n_images"].max()),
        provenance=config.provenance_label(steps.provenance(P)),
    )


if __name__ == "__main__":
    main()
