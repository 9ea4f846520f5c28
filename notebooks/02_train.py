# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Train: the baseline controls and the JND losses
#
# One run per (loss, metric, quality), fine-tuned from the base model of that
# quality, as the paper fine-tunes Cheng2020-attention from CompressAI's pretrained
# weights. Losses (all return CompressAI-style dicts):
#
# | name | distortion D (R + lambda D) | source |
# |---|---|---|
# | `baseline` | d(x_o, x_hat) | CompressAI; fine-tuned on the same data and budget: the **control** |
# | `pwl` | d(x_j, x_hat) | eq. 6 |
# | `iwl` | d(x_o, x_hat) - d(x_o, x_j) | eq. 7, as published |
# | `iwl-hinge` | max(0, d(x_o, x_hat) - d(x_o, x_j)) | **our extension**, not in the paper |
# | `fwl` | w d(x_o, x_hat) + (1-w) MSE(F(x_hat), F(x_j)), w = 0.9 | eq. 8 |
#
# **The IWL finding.** In eq. 7 the term d(x_o, x_j) does not depend on the network,
# so IWL's gradients are exactly the baseline's (a test in `tests/codec/test_losses.py`
# checks it). Any IWL gain over the *pretrained* baseline is a gain of fine-tuning on
# the new data, which is why every table here also compares against `baseline`
# fine-tuned on the same data for the same budget. `iwl-hinge` is one way to make the
# image-wise idea bite; it is ours and labelled so.
#
# Runs resume after an interruption and finished runs are skipped. Models, losses and
# the training loop live in `jndlc_helpers.codec`.
#
# **The standard profile** trains every loss with 3 seeds, each paired with the control
# of the same seed (same crops, order and noise), for the budget at which the control
# converged (`benchmarks/results/control_convergence.json`). Each run is evaluated as
# soon as it is trained and archived in the committed results store
# (`figures/standard/store/`: per-image RD rows and logs, no model), so a grid spread
# over several sessions never redoes a run, and 03-05 rebuild the tables from the store.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
losses = None  # None means the profile (quick: baseline iwl iwl-hinge fwl; paper: + pwl)
metrics = None  # mse and/or ms-ssim
qualities = None  # CompressAI zoo qualities (lambdas): paper 1-6, quick 1 3 5 7
max_steps = None  # step budget per run; None means the profile's (jndlc_helpers/config.py; paper: 100 epochs)
epochs = None
batch_size = None
patch_size = None
lr = None
feature_extractor = None  # FWL's F: vgg16 (paper) or nlpd (offline)
fwl_weight = None
progress = True

# %%
from IPython.display import Markdown, display

from jndlc_helpers import config, pipeline
from jndlc_helpers.reproduce import load_run_params

P = load_run_params(profile, run_dir or None, losses=losses, metrics=metrics, qualities=qualities,
                    max_steps=max_steps, epochs=epochs, batch_size=batch_size, patch_size=patch_size,
                    lr=lr, feature_extractor=feature_extractor, fwl_weight=fwl_weight)
display(Markdown(f"**{config.provenance_label(config.provenance(P))}**"))

# %%
models = pipeline.train_all(P, progress=progress)
models

# %% [markdown]
# ## Training curves

# %%
fig = pipeline.plot_training_curves(P)
fig
