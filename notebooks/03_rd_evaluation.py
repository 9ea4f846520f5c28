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
# # 03 · Rate-distortion evaluation (Fig. 2)
#
# Every model compresses every test image to **real bytes** (padded to a multiple of
# 64, `compress`, `decompress`, cropped); bpp comes from the bytes, with the
# likelihood estimate beside it, and the decoded image is checked against the
# encoder-side reconstruction. Metrics are computed on 8-bit RGB reconstructions:
# PSNR, MS-SSIM, MS-SSIM in dB and, as an extra perceptual column, ColorVideoVDP's JOD.
# Classical anchors (JPEG, WebP, AVIF through Pillow) go through the same metrics.
# The evaluation resumes where it stopped (`jndlc_helpers.evaluation`; the figure comes
# from `jndlc_helpers.report`).

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
anchors = None  # classical codecs, e.g. jpeg webp avif
anchor_qualities = None
jod = None  # add ColorVideoVDP's JOD column
progress = True

# %%
from IPython.display import Markdown, display

from jndlc_helpers import config, pipeline
from jndlc_helpers.reproduce import load_run_params

P = load_run_params(profile, run_dir or None, anchors=anchors, anchor_qualities=anchor_qualities, jod=jod)
display(Markdown(f"**{config.provenance_label(config.provenance(P))}**"))

# %%
rd = pipeline.evaluate_rd(P, progress=progress)
rd.groupby(["family", "method", "quality"])[["bpp", "bpp_est", "psnr", "ms_ssim_db", "jod"]].mean().round(4)

# %% [markdown]
# ## Fig. 2: RD curves on the test set

# %%
fig = pipeline.figure_rd(P)
fig
