"""The paper's question at convergence: does a JND loss beat the fine-tuned control?

Reads the standard profile's results store (``figures/standard/store``: per-image RD rows
of every finished run, every seed; training logs), and for each (method, training
metric) gives its BD-rate and BS_JND against the control of the same seed, in the
family's own metric (PSNR for MSE-trained models, MS-SSIM dB for MS-SSIM-trained
ones), with the interval of ``evaluation.replicates`` (test images bootstrapped, seeds
Student-t) and the control's own seed-to-seed spread as the noise floor. A method
differs from the control only where its interval excludes 0. Runs still missing from
the store are listed (a grid spread over sessions): ``complete`` says whether every
run of the profile is in.

    python benchmarks/bench_jnd_effect.py [--store figures/standard/store] [--bootstrap 1000]
    python benchmarks/bench_jnd_effect.py --name jnd_effect_weconv -p architecture=weconv-mean-scale-hyperprior \
        -p "losses=['baseline', 'pwl', 'iwl-hinge', 'fwl']" -p "metrics=['mse']" -p "seeds=[0]"

``-p KEY=VALUE`` changes a knob of the standard profile (as ``reproduce -p`` does): another
architecture reads its own store (``figures/standard-<architecture>/store``).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from jndlc_helpers import config, pipeline, replicated, reproduce  # noqa: E402
from jndlc_helpers.evaluation import feature_share, metrics, replicates  # noqa: E402
from jndlc_helpers.files import read_json  # noqa: E402
from jndlc_helpers.vocab import CONTROL, METRIC_OF, PRETRAINED  # noqa: E402


def cpu_seconds(store: replicated.Store) -> float:
    """Seconds of training of every archived run (their done.json: wall time of one run on one
    core, runs two at a time; with other work on the machine it is more than the CPU time)."""
    return float(sum(read_json(folder / "done.json").get("seconds", 0.0)
                     for folder in store.run_folders() if (folder / "done.json").is_file()))


def effect(rd: pd.DataFrame, jq: pd.DataFrame, method: str, family: str, n_boot: int, seed: int,
           anchor: str = CONTROL) -> dict:
    """One (method, family) entry against ``anchor``: BD-rate and BS_JND with intervals."""
    axis = METRIC_OF[family]
    bd = replicates.bd_rate_replicated(rd, method, anchor, family, axis, n_boot=n_boot, seed=seed)
    _, bs = replicates.bsjnd_replicated(rd, jq, [method], anchor, [family], n_boot=n_boot, seed=seed)
    b = bs.iloc[0] if len(bs) else pd.Series(dtype=object)

    return {"method": method, "metric": family, "axis": axis, "anchor": anchor,
            "bd_rate_vs_control" if anchor == CONTROL else "bd_rate": num(bd["bd_rate"]),
            "low": num(bd["low"]), "high": num(bd["high"]), "interval": bd["interval"],
            "differs": bool(bd["differs"]), "p": num(bd["p"]),
            "bs_jnd_vs_control" if anchor == CONTROL else "bs_jnd": num(b.get("mean")),
            "bs_jnd_low": num(b.get("low")), "bs_jnd_high": num(b.get("high")),
            "bs_jnd_differs": bool(b.get("differs", False)), "bs_jnd_p": num(b.get("p")),
            "bs_jnd_images": int(b.get("n_used", 0)),
            "seeds": int(bd["n_seeds"]), "n_images": int(bd["n_images"]), "reason": bd["reason"],
            "qualities": trained_qualities(rd, method, family)}


def trained_qualities(rd: pd.DataFrame, method: str, family: str) -> list[int]:
    """The qualities ``method`` has rows at in ``family`` (fewer than the profile's: a partial row)."""
    return sorted(int(q) for q in rd.loc[(rd["method"] == method) & (rd["family"] == family), "quality"].unique())


def num(x) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else round(float(x), 3)


def share_num(x) -> float | None:
    """A share of D to 3 significant digits (it spans 1e-4 to 1)."""
    return None if x is None or not math.isfinite(float(x)) else float(f"{float(x):.3g}")


def add_holm(rows: list[dict]) -> None:
    """``holm`` and ``bs_jnd_holm`` on each row: Holm's correction over the rows of the list
    (one table: every method and family against one anchor)."""
    for key, out in (("p", "holm"), ("bs_jnd_p", "bs_jnd_holm")):
        flags = replicates.holm([math.nan if r[key] is None else r[key] for r in rows])
        for r, flag in zip(rows, flags):
            r[out] = bool(flag)


def fwl_rows(effects: list[dict], shares, params: dict) -> list[dict]:
    """Each FWL row's feature share (mean over its runs' training) and settings, in place;
    and the list ``fwl_by_share``: {metric, share, w, input_scale, bd_rate_vs_control, ...}."""
    out = []
    for e in effects:
        g = shares[(shares["method"] == e["method"]) & (shares["family"] == e["metric"])]
        if g.empty:
            continue
        target = g["share_target"].dropna()
        e.update(feature_extractor=params["feature_extractor"], input_scale=str(g["input_scale"].iloc[0]),
                 w=round(float(g["fwl_weight"].iloc[0]), 9), feature_share=share_num(g["share"].mean()),
                 feature_share_min=share_num(g["share"].min()), feature_share_max=share_num(g["share"].max()),
                 share_target=num(target.iloc[0]) if len(target) else None)
        out.append({k: e[k] for k in ("method", "metric", "feature_share", "share_target", "w", "input_scale",
                                      "bd_rate_vs_control", "low", "high", "seeds", "qualities", "holm", "interval")}
                   | {"share": e["feature_share"]})
    return sorted(out, key=lambda r: (r["metric"], r["share"] if r["share"] is not None else -1))


def main() -> None:
    from jndlc_helpers.__main__ import parse_overrides

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--store", default=None, help="default: the profile's results_store")
    ap.add_argument("--bootstrap", type=int, default=None)
    ap.add_argument("--name", default="jnd_effect", help="the result file's name")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    params = reproduce.resolve_params("standard", parse_overrides(args.param))
    args.store = args.store or params["results_store"]
    args.bootstrap = args.bootstrap or params["bootstrap"]

    store = replicated.Store(reproduce.resolve_path(args.store))
    rd = store.rows()
    pairs = pipeline.test_pairs(params)
    jq = metrics.jnd_quality_table(pairs)
    done = store.done(len(pairs))
    missing = [j.folder for j in replicated.jobs(params) if j not in done]
    effects, vs_pretrained = [], []
    for family in params["metrics"]:
        for method in [m for m in params["losses"] if m != CONTROL]:
            if replicates.n_seeds(rd, method, family) and replicates.n_seeds(rd, CONTROL, family):
                effects.append(effect(rd, jq, method, family, args.bootstrap, params["seed"]))
        for method in params["losses"]:
            if replicates.n_seeds(rd, method, family) and replicates.n_seeds(rd, PRETRAINED, family):
                vs_pretrained.append(effect(rd, jq, method, family, args.bootstrap, params["seed"], PRETRAINED))
    add_holm(effects)
    add_holm(vs_pretrained)
    for e in effects:
        e.update(steps=params["max_steps"])
    by_share = fwl_rows(effects, feature_share.run_shares(store.run_folders()), params)
    floor = replicates.noise_floor(rd, CONTROL, params["metrics"]) if len(rd) else {}
    fwl_mse = next((e for e in effects if e["method"] == "fwl" and e["metric"] == "mse"), None)
    write_result(
        args.name,
        metric="BD-rate (%) of FWL (VGG16 relu5_3 fed the [0, 1] image, as the authors) against the fine-tuned "
               "control of the same seed, MSE-trained, PSNR (PCHIP, seed- and image-average curves)",
        unit="%", value=fwl_mse and fwl_mse["bd_rate_vs_control"],
        baseline="the control's largest seed-to-seed BD-rate (MSE family, PSNR): the noise floor",
        baseline_value=floor.get("mse/psnr", {}).get("max_abs"), higher_is_better=False,
        command=f"python benchmarks/bench_jnd_effect.py --name {args.name} --store {args.store} "
                f"--bootstrap {args.bootstrap}" + "".join(f' -p "{p}"' for p in args.param),
        interval="95%: test images bootstrapped (the same draw for method and control), training seeds "
                 "Student-t, added in quadrature; seeds paired (common random numbers); a one-seed method borrows "
                 "one control seed's spread. 'differs': the interval excludes 0; 'holm': still so after Holm's "
                 "correction over every row of its list (p from the interval read as a normal one)",
        effects=effects, vs_pretrained=vs_pretrained, fwl_by_share=by_share, control_noise_floor=floor,
        feature_share="the feature term's share of D, (1 - w) c MSE(F(x_hat), F(x_j)) / D, averaged over each "
                      "run's logged steps and over the method's runs (min and max: the range over runs)",
        lr=params["lr"], lr_schedule="plateau (ReduceLROnPlateau on the training loss), from the base models",
        steps=params["max_steps"], batch_size=params["batch_size"], seeds=params["seeds"],
        qualities=params["qualities"], training_seconds=round(cpu_seconds(store), 1),
        complete=not missing, runs_in_store=len(done), runs_missing=missing,
        labels=config.provenance_label(config.provenance(config.profile("standard", **parse_overrides(args.param)))),
    )


if __name__ == "__main__":
    main()
