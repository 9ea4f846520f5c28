"""FWL by feature share: the runs' measured shares and the BD-rate beside them."""
from __future__ import annotations

import json

import numpy as np
import pytest

from jndlc_helpers.codec import fwl_share
from jndlc_helpers.evaluation import feature_share as FS
from jndlc_helpers.report import figures

from test_replicates import rd_table


def fake_run(root, method, seed, share=None, feature_input=None, w=0.9, c=None, logged=True):
    """An archived FWL run: config.json, a log of three steps, a calibration when share is set."""
    folder = root / f"seed{seed}" / f"{method}-mse-q3"
    folder.mkdir(parents=True)
    ident = {"loss": "fwl", "metric": "mse", "quality": 3, "seed": seed, "features": "vgg16-hed", "fwl_weight": w}
    if feature_input:
        ident["feature_input"] = feature_input
    if share is not None:
        ident["feature_share"] = share
        (folder / fwl_share.CALIBRATION_NAME).write_text(json.dumps({"share": share, "feature_scale": c}))
    (folder / "config.json").write_text(json.dumps({"method": method, "config": ident}))
    lines = [{"step": s, "feature_loss": 1.0 + s, "distortion": 10.0 * (1 + s)} for s in range(3)]
    if logged:
        lines = [{**r, "feature_share": 0.2} for r in lines]
    (folder / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def test_run_shares_read_the_logged_share_or_recompute_it(tmp_path):
    old = fake_run(tmp_path, "fwl-caffe", 0, logged=False)  # before the share was logged: Caffe's input
    new = fake_run(tmp_path, "fwl", 0, feature_input="unit")
    cal = fake_run(tmp_path, "fwl-share50", 0, share=0.5, w=0.5, c=123.0)
    t = FS.run_shares([old, new, cal]).set_index("method")
    assert t.loc["fwl-caffe", "share"] == pytest.approx(0.1 * 0.1)  # (1 - w) * F / D = 0.1 * 1/10
    assert t.loc["fwl-caffe", "input_scale"] == "caffe" and t.loc["fwl", "input_scale"] == "unit"
    assert t.loc["fwl", "share"] == pytest.approx(0.2)
    assert t.loc["fwl-share50", "feature_scale"] == 123.0 and t.loc["fwl-share50", "share_target"] == 0.5


def test_by_share_puts_each_fwl_methods_effect_beside_its_share(tmp_path):
    rd, _ = rd_table(effect=0.03, seed_noise=0.01)
    folders = [fake_run(tmp_path, "fwl", s, feature_input="unit") for s in (0, 1, 2)]
    table = FS.by_share(rd, FS.run_shares(folders), n_boot=50, seed=0)
    row = table.iloc[0]
    assert row["method"] == "fwl" and row["seeds"] == 3 and row["share"] == pytest.approx(0.2)
    assert row["qualities"] == "3"  # the runs' qualities: a grid still running says which it has
    assert row["bd_rate_vs_control"] == pytest.approx(3.0, abs=1e-6) and bool(row["holm"])
    fig = figures.fwl_share_figure(table, {"mse/psnr": {"max_abs": 0.5}}, None)
    assert len(fig.axes) == 1 and np.isfinite(row["p"])
