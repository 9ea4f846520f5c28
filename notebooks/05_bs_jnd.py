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
# # 05 · JND-based bitrate saving, BS_JND (eq. 9, Table II, Fig. 5)
#
# For each test image, q_J is the quality (PSNR or MS-SSIM) of its JND1 image
# against the original. BS_JND reads off each method's per-image RD curve the bpp it
# needs to reach q_J (monotone interpolation of log-rate) and reports
# (bpp_proposed - bpp_baseline) / bpp_baseline x 100. Images whose q_J lies outside a
# curve are left out, counted, and named in the table's note. When JOD is computed,
# extra rows (ours, not the paper's) read each curve in JOD at 10 - tau, the
# threshold that defines the proxy JND label. BS_JND is computed in
# `jndlc_helpers.evaluation`, its table and figure come from `jndlc_helpers.report`.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
bootstrap = None
example_image = None  # image of Fig. 5 (None means the first test image)

# %%
from IPython.display import Markdown, display

from jndlc_helpers import config, pipeline
from jndlc_helpers.reproduce import load_run_params

P = load_run_params(profile, run_dir or None, bootstrap=bootstrap)
display(Markdown(f"**{config.provenance_label(config.provenance(P))}**"))

# %%
per_image, summary = pipeline.bs_jnd_tables(P)
summary

# %%
per_image

# %% [markdown]
# ## Table II beside the paper's values

# %%
display(Markdown(pipeline.table_markdown(P, "table2_bs_jnd")))

# %% [markdown]
# ## Fig. 5: one image's RD curves and its JND quality

# %%
fig = pipeline.figure_bs_jnd_example(P, example_image)
fig
