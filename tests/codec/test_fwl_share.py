"""FWL at a chosen share of D: the calibration, its file, the run's log, and the grid's methods."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn as nn

from jndlc_helpers import config
from jndlc_helpers.codec import fwl_share, train
from jndlc_helpers.codec.losses import make_loss
from jndlc_helpers.codec.runconfig import RunConfig, identity_digest

from test_train import TINY, log_lines, smooth_pairs


def test_scale_for_gives_the_share_asked_for():
    for share, w, pixel, feature in [(0.1, 0.9, 30.0, 0.02), (0.5, 0.5, 0.05, 900.0), (0.97, 0.03, 1.0, 1.0)]:
        c = fwl_share.scale_for(share, w, pixel, feature)
        assert (1 - w) * c * feature / (w * pixel + (1 - w) * c * feature) == pytest.approx(share, rel=1e-12)
    with pytest.raises(ValueError, match="cannot calibrate"):
        fwl_share.scale_for(0.1, 0.9, 1.0, 0.0)


def test_calibration_hits_the_share_on_its_crops_and_leaves_the_runs_stream_alone(tmp_path):
    from compressai.models import ScaleHyperprior

    torch.manual_seed(0)
    model, data = ScaleHyperprior(8, 12), smooth_pairs(n=5)
    conv = nn.Conv2d(3, 4, 3).requires_grad_(False)
    fwl = make_loss("fwl", "mse", 0.01, features=conv, fwl_weight=0.75)
    before = torch.random.get_rng_state()
    calib = fwl_share.calibrate(tmp_path, model, fwl, data, 0.25, batch_size=2)
    assert torch.equal(torch.random.get_rng_state(), before)  # its own crops and noise
    assert calib["n_crops"] == 5 and fwl.feature_scale == calib["feature_scale"]
    pixel, feature, _ = fwl_share.mean_terms(model, fwl, data, 2)  # the same draw again
    w, c = 0.75, fwl.feature_scale
    assert (1 - w) * c * feature / (w * pixel + (1 - w) * c * feature) == pytest.approx(0.25, rel=1e-9)
    # written beside the run and read back (a resumed run keeps its c)
    on_disk = json.loads((tmp_path / fwl_share.CALIBRATION_NAME).read_text())
    assert on_disk["feature_scale"] == c
    fwl.feature_scale = 1.0
    assert fwl_share.calibrate(tmp_path, model, fwl, data, 0.25, 2)["feature_scale"] == c == fwl.feature_scale


def test_share_of_log_reads_the_logged_share_or_recomputes_it():
    old = [{"feature_loss": 2.0, "distortion": 10.0}, {"feature_loss": 4.0, "distortion": 10.0}]
    assert fwl_share.share_of_log(old, 0.9) == pytest.approx((0.02 + 0.04) / 2)
    assert fwl_share.share_of_log([{"feature_share": 0.3}, {"feature_share": 0.5}], 0.9) == pytest.approx(0.4)
    assert math.isnan(fwl_share.share_of_log([{"loss": 1.0}], 0.9))


def test_a_share_calibrated_run_logs_its_share_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "_features", lambda *a: nn.Conv2d(3, 4, 3).requires_grad_(False))
    cfg = RunConfig(distortion="mse", quality=3, max_steps=3, seed=1, **TINY).for_run("fwl-share50", "mse", 3)
    assert (cfg.loss, cfg.method, cfg.fwl_weight, cfg.feature_share) == ("fwl", "fwl-share50", 0.5, 0.5)
    run = tmp_path / cfg.name
    train.train_run(run, cfg, dataset=smooth_pairs())
    calib = json.loads((run / fwl_share.CALIBRATION_NAME).read_text())
    first = log_lines(run)[0]
    assert first["feature_share"] == pytest.approx(0.5, abs=0.25)  # other crops than the calibration's
    done = json.loads((run / "done.json").read_text())
    assert done["method"] == "fwl-share50" and 0 < done["feature_share"] < 1
    assert done["config"]["feature_share"] == 0.5 and calib["share"] == 0.5


def test_fwl_methods_name_their_settings_and_old_runs_keep_their_digest(tmp_path):
    base = RunConfig(max_steps=1, features="vgg16-hed")
    unit, caffe = base.for_run("fwl", "mse", 3), base.for_run("fwl-caffe", "mse", 3)
    assert (unit.feature_input, caffe.feature_input, caffe.name) == ("unit", "caffe", "fwl-caffe-mse-q3")
    ident_unit, ident_caffe = unit.identity(tmp_path), caffe.identity(tmp_path)
    assert ident_unit["feature_input"] == "unit"
    # Caffe's input was the only one before the knob: its runs' identity has no such key
    assert "feature_input" not in ident_caffe and "feature_share" not in ident_caffe
    assert identity_digest(ident_unit) != identity_digest(ident_caffe)
    nlpd = RunConfig(max_steps=1).for_run("fwl", "mse", 3).identity(tmp_path)
    assert "feature_input" not in nlpd  # only HED's network has two inputs
    with pytest.raises(ValueError, match="feature_input='caffe'"):
        RunConfig(max_steps=1).for_run("fwl-caffe", "mse", 3)
    with pytest.raises(ValueError, match="feature_share=1.5"):
        RunConfig(max_steps=1, loss="fwl", feature_share=1.5)
    assert set(config.METHOD_VARIANTS) <= set(config.profile("standard")["losses"])
