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
# # 04 · BD-rate (Table I)
#
# Bjontegaard-delta rate of each proposed model against a named anchor, with the
# `bjontegaard` package, for PSNR and for MS-SSIM in dB (and, when computed, JOD:
# our rows, not the paper's). PCHIP is the headline; VCEG-M33's cubic fit (the
# paper's era) sits beside it as a cross-check, flagged where it oscillates or
# departs from PCHIP. Two aggregates: on the dataset-average RD curve, and the mean
# of per-image values; a 95% bootstrap interval over test images from 10 images on,
# otherwise the range of per-image values. Curves that don't overlap enough give NaN
# with the reason, never an extrapolated number. Two anchors: the pretrained
# baseline (the paper's comparison) and the baseline fine-tuned on the same data for
# the same budget (the control). BD-rate is computed in `jndlc_helpers.evaluation`,
# the tables are written by `jndlc_helpers.report`.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
bootstrap = None  # bootstrap resamples for the 95% intervals

# %%
from IPython.display import Markdown, display

from jndlc_helpers import config, pipeline
from jndlc_helpers.reproduce import load_run_params

P = load_run_params(profile, run_dir or None, bootstrap=bootstrap)
display(Markdown(f"**{config.provenance_label(config.provenance(P))}**"))

# %%
bd = pipeline.bd_rate_tables(P)
bd

# %% [markdown]
# ## Table I beside the paper's values

# %%
display(Markdown(pipeline.table_markdown(P, "table1_bd_rate")))

# %% [markdown]
# ## FWL by the share of D its feature term takes
#
# The paper states neither why w = 0.9 nor the scale of F, and the share of the
# distortion that eq. 8's feature term takes depends on both (and on how F is fed). A
# profile that trains FWL at several settings (the standard profile: the [0, 1] image as
# the authors feed it, HED's own Caffe input, and runs calibrated to 10% and 50% of D)
# puts each one's BD-rate against the control of its seed beside the share it had, with
# the control's seed-to-seed spread as the noise floor. Other profiles skip this cell.

# %%
pipeline.fwl_by_share(P)
