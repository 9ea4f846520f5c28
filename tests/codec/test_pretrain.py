"""Our base models: the pretraining chain and the recipe (``codec/pretrain.py``)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from test_train import TINY, smooth_pairs

from jndlc_helpers.codec import pretrain, train
from jndlc_helpers.codec.checkpoint import load_checkpoint_dict
from jndlc_helpers.codec.runconfig import RunConfig
from jndlc_helpers.codec.runfolder import CONFIG_NAME, DONE_NAME


def test_pretrain_refuses_an_init_of_its_own(tmp_path):
    with pytest.raises(ValueError, match="init"):
        pretrain.pretrain(tmp_path, ["mse"], [1], RunConfig(max_steps=1, init="zoo", **TINY), dataset=smooth_pairs())


def test_pretrain_trains_one_model_from_scratch_and_warm_starts_the_rest(tmp_path):
    data = smooth_pairs(n=4, size=192)
    cfg = RunConfig(max_steps=3, **{**TINY, "batch_size": 1})
    out = pretrain.pretrain(tmp_path / "base", ["mse", "ms-ssim"], [1, 3, 5, 6], cfg, anchor_quality=3,
                            warm_steps=1, dataset=data)
    assert sorted(out) == sorted(f"baseline-{m}-q{q}" for m in ("mse", "ms-ssim") for q in (1, 3, 5, 6))

    def done(name):
        return json.loads((tmp_path / "base" / name / DONE_NAME).read_text())

    def init(name):
        return load_checkpoint_dict(out[name])["meta"]["init"]

    assert done("baseline-mse-q3")["steps"] == 3 and init("baseline-mse-q3")["init"] == "scratch"  # the anchor
    for name, source in (("baseline-mse-q1", "baseline-mse-q3"), ("baseline-mse-q5", "baseline-mse-q3"),
                         ("baseline-mse-q6", "baseline-mse-q5"),  # a chain: one lambda step at a time
                         ("baseline-ms-ssim-q1", "baseline-mse-q1"), ("baseline-ms-ssim-q6", "baseline-mse-q6")):
        assert done(name)["steps"] == 1
        assert init(name)["source"] == str(out[source]), name
    with pytest.raises(FileNotFoundError, match="baseline-mse-q2 starts from baseline-mse-q4"):
        pretrain.pretrain(tmp_path / "other", ["mse"], [2], cfg.replace(max_steps=1), anchor_quality=4, dataset=data)


def test_pretrain_recipe_on_a_photo_folder_with_speed_settings(tmp_path, monkeypatch):
    from jndlc_helpers import config

    folder = tmp_path / "photos"
    folder.mkdir()
    x = smooth_pairs(n=3, size=192, seed=5).tensors[0]
    for i, img in enumerate(x):
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"p{i}.png")
    recipe = {**config.PRETRAIN["smoke"], "N": 8, "M": 12, "qualities": [1, 2], "anchor_quality": 2, "steps": 3,
              "warm_steps": 2, "msssim_steps": 1, "batch_size": 2, "msssim_batch_size": 1, "lr_schedule": "cosine"}
    out = pretrain.pretrain_recipe(recipe, data=folder, out=tmp_path / "base", device="cpu", progress=False)
    assert sorted(out) == sorted(f"baseline-{m}-q{q}" for m in ("mse", "ms-ssim") for q in (1, 2))
    cfg = json.loads((tmp_path / "base" / "baseline-mse-q1" / CONFIG_NAME).read_text())["config"]
    assert cfg["unlabelled_root"] == "../../photos" and cfg["data_root"] is None and cfg["lr"] == recipe["warm_lr"]
    assert cfg["lr_schedule"] == "cosine"
    msssim = json.loads((tmp_path / "base" / "baseline-ms-ssim-q2" / CONFIG_NAME).read_text())["config"]
    assert msssim["patch_size"] == 192 and msssim["batch_size"] == 1

    run = train.train_run(tmp_path / "fast", RunConfig(unlabelled_root=folder, patch_size=64, max_steps=2,
                                                       channels_last=True, **TINY))
    session = json.loads((run.parent / CONFIG_NAME).read_text())["sessions"][-1]
    assert session["channels_last"] is True and session["compile"] is False


def test_pretrain_warm_steps_per_quality(tmp_path):
    data = smooth_pairs(n=4, size=192)
    cfg = RunConfig(max_steps=2, **{**TINY, "batch_size": 1})
    kw = dict(dataset=data, anchor_quality=2)
    pretrain.pretrain(tmp_path, ["mse", "ms-ssim"], [1, 2], cfg, warm_steps={1: 3, "2": 1}, **kw)  # JSON: text keys

    def steps(name):
        return json.loads((tmp_path / name / DONE_NAME).read_text())["steps"]

    assert [steps(n) for n in ("baseline-mse-q2", "baseline-mse-q1", "baseline-ms-ssim-q1", "baseline-ms-ssim-q2")] == [
        2, 3, 3, 1]
    with pytest.raises(KeyError, match="quality 3"):
        pretrain.pretrain(tmp_path, ["mse"], [2, 3], cfg, warm_steps={1: 3}, **kw)


def test_the_pretrain_command_takes_the_weconv_recipe_and_one_shorter_budget_for_both(tmp_path, monkeypatch):
    from jndlc_helpers import __main__ as cli
    from jndlc_helpers.vocab import WECONV

    calls = []
    monkeypatch.setattr(pretrain, "pretrain_recipe", lambda recipe, **kw: calls.append((recipe, kw)) or {})
    budget = ["-s", "steps=6000", "-s", "warm_steps=1000", "-s", "metrics=['mse']", "--data", str(tmp_path)]
    cli.main(["pretrain", "--profile", "quick-weconv", *budget])
    cli.main(["pretrain", "--profile", "quick", *budget, "--out", str(tmp_path / "plain-6k")])
    cli.main(["pretrain", "--profile", "quick-weconv", *budget, "-s", "seed=1", "-s", "anchor_only=True",
              "--out", str(tmp_path / "weconv-6k-seed1")])
    (weconv, kw), (plain, plain_kw), (seed1, seed1_kw) = calls
    assert weconv["architecture"] == WECONV and plain["architecture"] == "mean-scale-hyperprior"
    for recipe in (weconv, plain, seed1):
        assert (recipe["steps"], recipe["warm_steps"], recipe["metrics"]) == (6000, 1000, ["mse"])
    assert kw["out"] is None and kw["data"] == str(tmp_path)  # the recipe's out: data/pretrained/quick-corpus-weconv
    assert plain_kw["out"] == str(tmp_path / "plain-6k")
    assert (seed1["seed"], seed1["anchor_only"], seed1_kw["out"]) == (1, True, str(tmp_path / "weconv-6k-seed1"))
    with pytest.raises(SystemExit, match="stepz"):
        cli.main(["pretrain", "--profile", "quick-weconv", "-s", "stepz=1"])


def test_anchor_only_trains_the_mse_anchor_alone_with_its_seed(tmp_path):
    from jndlc_helpers import config
    from jndlc_helpers.vocab import WECONV

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, img in enumerate(smooth_pairs(n=2, size=64, seed=3).tensors[0]):
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"p{i}.png")
    recipe = {**config.PRETRAIN["smoke"], "architecture": WECONV, "N": 8, "M": 12, "steps": 2, "seed": 1,
              "anchor_only": True}
    out = pretrain.pretrain_recipe(recipe, data=folder, out=tmp_path / "seed1", device="cpu", progress=False)
    assert sorted(out) == [f"baseline-mse-q{recipe['anchor_quality']}"]
    cfg = json.loads((out[f"baseline-mse-q{recipe['anchor_quality']}"].parent / CONFIG_NAME).read_text())["config"]
    assert (cfg["seed"], cfg["architecture"], cfg["init"]) == (1, WECONV, "scratch")


def test_missing_base_models_that_a_recipe_trains_are_an_error_naming_folder_and_command(tmp_path):
    from jndlc_helpers.codec.checkpoint import WeightsUnavailableError

    folder = tmp_path / "data" / "pretrained" / "quick-corpus-weconv"
    params = {"pretrained": str(folder), "pretrain_steps": None, "metrics": ["mse"], "qualities": [1, 5]}
    with pytest.raises(WeightsUnavailableError, match=r"quick-corpus-weconv: no base model for \[\('mse', 1\), "
                                                      r"\('mse', 5\)\].*pretrain --profile quick-weconv"):
        pretrain.ensure_base_models(params, progress=False)
