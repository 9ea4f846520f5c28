"""FWL's effect as a function of the share of D its feature term takes.

The paper leaves w's reasoning and F's scale unstated, so an FWL result holds at the share of
D the feature term had (``codec/fwl_share.py``). From a replicated grid's archived runs this
reads each FWL run's measured share (the mean over its logged steps) and the settings behind
it, and puts every FWL method's BD-rate against the control of its seed beside the share.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..codec import fwl_share
from ..codec.runfolder import RunFolder
from ..files import read_json
from ..vocab import CONTROL, METRIC_OF
from .replicates import bd_rate_replicated, with_holm

SHARE_COLUMNS = ["method", "family", "quality", "seed", "input_scale", "fwl_weight", "feature_scale",
                 "share_target", "share"]
BY_SHARE_COLUMNS = ["method", "family", "metric", "input_scale", "fwl_weight", "share_target", "share",
                    "share_min", "share_max", "qualities", "bd_rate_vs_control", "low", "high", "seeds", "differs", "p",
                    "holm"]


def run_shares(folders: Iterable[Path]) -> pd.DataFrame:
    """One row per archived FWL run: its settings and the feature term's mean share of D."""
    rows = []
    for folder in folders:
        raw = read_json(folder / "config.json")
        ident = raw["config"]
        if ident.get("loss") != "fwl":
            continue
        w, c = float(ident["fwl_weight"]), float(ident.get("feature_scale") or 1.0)
        calib = folder / fwl_share.CALIBRATION_NAME
        if calib.is_file():
            c = float(read_json(calib)["feature_scale"])
        rows.append({"method": raw.get("method") or "fwl", "family": ident["metric"], "quality": ident["quality"],
                     "seed": ident["seed"], "input_scale": input_scale(ident), "fwl_weight": w,
                     "feature_scale": c, "share_target": ident.get("feature_share"),
                     "share": fwl_share.share_of_log(RunFolder(folder).read_records(), w, c)})
    return pd.DataFrame(rows, columns=SHARE_COLUMNS)


def input_scale(identity: dict) -> str:
    """How F was fed: HED's VGG16 without a ``feature_input`` key took Caffe's input (the
    runs from before the knob); every other extractor takes the [0, 1] image."""
    if identity.get("features") == "vgg16-hed":
        return identity.get("feature_input", "caffe")
    return "unit"


def by_share(rd: pd.DataFrame, shares: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """Per FWL method and family: the share (mean over its runs, and their range), its
    settings, the qualities its runs cover (a grid still running has fewer) and its BD-rate
    against the control of its seed in the family's own metric
    (``replicates.bd_rate_replicated``), with Holm's correction over the rows."""
    rows = []
    for (method, family), g in shares.groupby(["method", "family"], sort=True):
        metric = METRIC_OF[family]
        bd = bd_rate_replicated(rd, method, CONTROL, family, metric, n_boot=n_boot, seed=seed)
        target = g["share_target"].dropna()
        rows.append({"method": method, "family": family, "metric": metric, "input_scale": g["input_scale"].iloc[0],
                     "fwl_weight": float(g["fwl_weight"].iloc[0]),
                     "share_target": float(target.iloc[0]) if len(target) else math.nan,
                     "share": float(g["share"].mean()), "share_min": float(g["share"].min()),
                     "share_max": float(g["share"].max()), "qualities": ",".join(map(str, sorted(set(g["quality"])))),
                     "bd_rate_vs_control": bd["bd_rate"], "low": bd["low"], "high": bd["high"], "seeds": bd["n_seeds"],
                     "differs": bd["differs"], "p": bd["p"]})
    table = pd.DataFrame(rows, columns=BY_SHARE_COLUMNS[:-1])
    return with_holm(table.assign(all=0), ["all"]).drop(columns="all").sort_values(["family", "share"],
                                                                                    kind="stable")
