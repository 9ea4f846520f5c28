import pytest

from jndlc_helpers import config


# CompressAI's zoo documentation (mbt2018, cheng2020, ...): the lambdas of qualities 1-8.
COMPRESSAI_ZOO_LAMBDAS = {
    "mse": (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800),
    "ms-ssim": (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00),
}


@pytest.mark.parametrize("metric", ["mse", "ms-ssim"])
@pytest.mark.parametrize("quality", range(1, 9))
def test_lambdas_are_compressais(metric, quality):
    assert config.lambda_for(metric, quality) == COMPRESSAI_ZOO_LAMBDAS[metric][quality - 1]


def test_lambda_for_names_a_bad_argument():
    with pytest.raises(ValueError, match="quality"):
        config.lambda_for("mse", 9)
    with pytest.raises(ValueError, match="distortion"):
        config.lambda_for("psnr", 1)


def test_a_profile_is_a_copy_down_to_its_lists():
    p = config.profile("quick")
    p["losses"].append("mine")
    p["jpeg_losses"]["mse"].append("mine")
    fresh = config.profile("quick")
    assert "mine" not in fresh["losses"] and "mine" not in fresh["jpeg_losses"]["mse"]
    assert "mine" not in config.profile("standard")["losses"]  # built from the quick profile's dict


def test_profiles_share_one_set_of_knobs():
    keys = {name: set(p) for name, p in config.PROFILES.items()}
    assert keys["smoke"] == keys["quick"] == keys["standard"] == keys["paper"]


def test_standard_profile_replicates_every_loss_of_the_paper():
    std = config.profile("standard")
    assert {"baseline", "pwl", "iwl", "fwl", "iwl-hinge"} <= set(std["losses"])
    assert set(std["losses"]) - {"baseline", "pwl", "iwl", "fwl", "iwl-hinge"} == set(config.METHOD_VARIANTS)
    assert len(std["seeds"]) >= 3 and "iwl" in std["single_seed_losses"] and "fwl" not in std["single_seed_losses"]
    assert std["feature_input"] == "unit"  # F takes the [0, 1] image, as the authors feed it
    assert std["feature_extractor"] == "vgg16-hed" and len(std["qualities"]) >= 4
    label = config.provenance_label(config.provenance(std))
    assert "x 3 seeds" in label and "offline FWL features (vgg16-hed)" in label


def test_unknown_profile_or_knob_is_named():
    with pytest.raises(KeyError, match="nope"):
        config.profile("nope")
    with pytest.raises(KeyError, match="max_stepz"):
        config.profile("quick", max_stepz=3)
    assert config.profile("quick", max_steps=7)["max_steps"] == 7
    assert config.PROFILES["quick"]["max_steps"] != 7  # overrides never leak into the defaults


def test_provenance_label_flags_everything_that_is_not_the_paper():
    quick = config.provenance_label(config.provenance(config.profile("quick")))
    assert "NOT the paper's protocol" in quick
    assert "proxy JND labels (cvvdp)" in quick and "offline FWL features (nlpd)" in quick
    assert "70 steps" in quick and "N=64" in quick
    assert "from our base models (data/pretrained/quick-corpus)" in quick
    assert "data/embedded + data/photos/unlabelled (1:1)" in quick
    paper = config.provenance_label(config.provenance(config.profile("paper")))
    assert "NOT" not in paper and "proxy" not in paper and "100 epochs" in paper


def test_provenance_names_the_ms_ssim_patch_size():
    quick = config.provenance_label(config.provenance(config.profile("quick")))
    assert "patch 128 (MS-SSIM runs 192)" in quick
    mse_only = config.provenance(config.profile("quick", metrics=["mse"]))
    assert mse_only["budget"].endswith("patch 128, lr 3e-05")
    paper = config.provenance(config.profile("paper"))
    assert paper["budget"].endswith("patch 256, lr 0.0001")  # already above what MS-SSIM needs
    assert "JOD display=standard_fhd" in config.provenance_label({**paper, "jod_display": "standard_fhd"})


def test_the_weconv_base_models_recipe_is_the_quick_one_with_another_architecture():
    from jndlc_helpers.vocab import WECONV

    quick, weconv = config.PRETRAIN["quick"], config.PRETRAIN["quick-weconv"]
    assert weconv["architecture"] == WECONV and weconv["out"] == "data/pretrained/quick-corpus-weconv"
    assert {k: v for k, v in weconv.items() if k not in ("architecture", "out")} == \
        {k: v for k, v in quick.items() if k not in ("architecture", "out")}
    assert weconv["msssim_steps"] is not quick["msssim_steps"]  # a copy, not a shared dict


def test_another_architecture_takes_its_own_base_models_folder():
    from jndlc_helpers.vocab import WECONV

    quick = config.profile("quick", architecture=WECONV)
    assert quick["pretrained"] == "data/pretrained/quick-corpus-weconv"
    assert quick["pretrain_steps"] is None  # the recipe trains them, not 02 on the fly
    assert config.profile("standard", architecture=WECONV)["pretrained"] == quick["pretrained"]
    assert config.profile("quick", architecture=WECONV, pretrain_steps=9)["pretrain_steps"] == 9
    assert config.profile("quick", architecture=WECONV, pretrained="mine")["pretrained"] == "mine"
    smoke = config.profile("smoke", architecture=WECONV)
    assert smoke["pretrained"] == "data/pretrained/smoke-weconv" and smoke["pretrain_steps"] == 50
    assert config.profile("quick", architecture="mean-scale-hyperprior") == config.profile("quick")
    assert config.profile("paper", architecture=WECONV)["pretrained"] == "zoo"  # refused by check_pretrained
    standard = config.profile("standard", architecture=WECONV)
    assert standard["results_store"] == f"figures/standard-{WECONV}/store"  # the store is keyed by run name
    assert config.profile("standard", architecture=WECONV, results_store="mine")["results_store"] == "mine"
    assert config.default_folder_name("quick", WECONV) == f"quick-{WECONV}"
    assert config.default_folder_name("quick", "mean-scale-hyperprior") == "quick"
    assert config.default_folder_name("quick") == "quick"


def test_the_recipe_of_a_base_models_folder():
    assert config.pretrain_recipe_of("data/pretrained/quick-corpus-weconv") == "quick-weconv"
    assert config.pretrain_recipe_of("/home/me/jndlc/data/pretrained/quick-corpus") == "quick"
    assert config.pretrain_recipe_of("/elsewhere/quick-corpus-weconv") is None
    assert config.pretrain_recipe_of(None) is None


def test_provenance_says_when_a_model_starts_from_scratch():
    from jndlc_helpers.vocab import WECONV

    paper = config.profile("paper", architecture=WECONV, pretrained="scratch")
    label = config.provenance_label(config.provenance(paper))
    assert "weconv-mean-scale-hyperprior from scratch (no pretrained weights)" in label
    assert "NOT the paper's model" in label
    assert "NOT" not in config.provenance_label(config.provenance(config.profile("paper")))
