"""A run's configuration (``codec/runconfig.py``): made from profiles, validated once,
and naming a run by the same identity digest as before."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jndlc_helpers import config, vocab
from jndlc_helpers.codec.grid import export_pretrained
from jndlc_helpers.codec.runconfig import RunConfig, identity_digest
from jndlc_helpers.reproduce import resolve_params

REPO = Path(__file__).resolve().parents[2]
STORE = REPO / "figures" / "standard" / "store" / "logs"


@pytest.mark.parametrize("name", sorted(config.PROFILES))
def test_every_profile_makes_a_valid_run_config(name):
    params = config.profile(name)
    cfg = RunConfig.from_profile(params)
    assert (cfg.init, cfg.features, cfg.N, cfg.batch_size) == (
        params["pretrained"], params["feature_extractor"], params.get("model_N"), params["batch_size"])
    assert cfg.max_steps == params.get("max_steps") and cfg.epochs == params.get("epochs")


@pytest.mark.parametrize("change, names", [
    (dict(loss="l1"), "loss='l1'"), (dict(distortion="psnr"), "distortion='psnr'"), (dict(quality=9), "quality"),
    (dict(architecture="vit"), "architecture='vit'"), (dict(max_steps=None), "budget"),
    (dict(lr_schedule="linear"), "lr_schedule='linear'"), (dict(log_every=0), "log_every"),
])
def test_a_bad_setting_is_refused_where_the_config_is_made_naming_it(change, names):
    good = RunConfig(max_steps=1)
    with pytest.raises(ValueError, match=names.replace("(", r"\(")):
        good.replace(**change)


def test_for_run_gives_the_papers_lambda_and_msssim_patches():
    base = RunConfig(max_steps=1, patch_size=128, lmbda=0.5)
    run = base.for_run("iwl", "ms-ssim", 3)
    assert (run.name, run.lam, run.patch_size) == ("iwl-ms-ssim-q3", config.lambda_for("ms-ssim", 3),
                                                  vocab.MSSSIM_PATCH)
    assert base.for_run("iwl", "mse", 3).patch_size == 128 and base.lam == 0.5


def _stored_runs() -> list[Path]:
    return sorted(p.parent for p in STORE.glob("seed*/*/config.json"))


@pytest.mark.skipif(not _stored_runs(), reason="no stored standard-profile runs")
def test_the_standard_profiles_stored_runs_keep_their_identity_digest(tmp_path):
    """Golden files: every run archived in the committed store (trained before the run
    configuration had a type) is named by the digest the profile gives it today, so a
    rerun never retrains it."""
    params = resolve_params("standard")
    base = RunConfig.from_profile(params)
    for folder in _stored_runs():
        stored = json.loads((folder / "config.json").read_text())
        seed = int(folder.parent.name.removeprefix("seed"))
        ident = stored["config"]
        run_dir = REPO / "runs" / "standard" / "models" / folder.parent.name / folder.name
        if ident.get("method") == vocab.PRETRAINED:
            export_pretrained(tmp_path / folder.name, distortion=ident["metric"], quality=ident["quality"],
                              architecture=base.architecture, N=base.N, M=base.M, init=base.init, progress=False)
            ours = json.loads((tmp_path / folder.name / "config.json").read_text())["config_digest"]
        else:
            method = folder.name.removesuffix(f"-{ident['metric']}-q{ident['quality']}")
            cfg = base.replace(seed=seed).for_run(method, ident["metric"], ident["quality"])
            assert cfg.identity(run_dir) == ident, folder.name
            ours = identity_digest(cfg.identity(run_dir))
        assert ours == stored["config_digest"], folder.name
