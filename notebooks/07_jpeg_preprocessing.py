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
# # 07 · JND losses for standard JPEG: rate-distortion-optimised preprocessing
#
# Most images people share are plain JPEG, whose decoder cannot change. Following Ye
# et al. (IEEE TCSVT 2025), a small network changes the image *before* an unchanged
# JPEG encoder, trained end to end with a differentiable JPEG simulator (Pillow's
# libjpeg, 4:2:0) and a rate estimate fitted to real Pillow file sizes. It works on the
# image's own block-DCT coefficients and picks, for each one, which of its two nearest
# quantisation levels JPEG will keep; it is trained with the baseline loss (MSE or
# 1 - MS-SSIM) or one of the paper's JND losses (PWL, IWL, FWL; IWL-hinge is ours).
# Beside it, a classical anchor without learning: a per-coefficient rate-distortion
# rounding decision with chroma pre-compensation. It weighs bits against squared error,
# so it cannot aim at MS-SSIM (an MS-SSIM slope converted to squared-error units gives
# back the MSE slope); in the MS-SSIM family a second anchor, `classical-ssim`, weighs
# each block's squared error by its SSIM sensitivity. Every number below comes from real
# bitstreams: Pillow encodes the preprocessed image and Pillow decodes it. The logic
# lives in `jndlc_helpers.jpeg`.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
bootstrap = None  # bootstrap resamples for the 95% intervals
jpeg_steps = None  # training steps per preprocessor (None: the profile's)
jpeg_weights = None  # folder of trained weights to load instead of training (None: the profile's)
jpeg_seeds = None  # training seeds per preprocessor, e.g. [0, 1, 2] (None: the profile's)
widget = True

# %%
from IPython.display import Image, Markdown, display

from jndlc_helpers import config
from jndlc_helpers.jpeg import steps
from jndlc_helpers.reproduce import load_run_params

P = steps.jpeg_params(load_run_params(profile, run_dir or None, bootstrap=bootstrap),
                      jpeg_steps=jpeg_steps, jpeg_weights=jpeg_weights, jpeg_seeds=jpeg_seeds)
display(Markdown(f"**{config.provenance_label(steps.provenance(P))}**"))

# %% [markdown]
# ## Train (or load) the preprocessors, then code the test set with real bitstreams

# %%
weights = steps.train_all(P)
rd = steps.evaluate_all(P, weights)
rd.groupby(["method", "family", "quality"])[["bpp", "psnr", "ms_ssim_db"]].mean()

# %% [markdown]
# ## BD-rate against plain JPEG, the classical anchors and the baseline-loss preprocessor
#
# With several training seeds (the standard profile trains three), each loss is compared
# with the baseline-loss preprocessor of the same seed; the intervals then cover the test
# images and the seeds, and `holm` says whether a row still differs after Holm's
# correction over the rows against the same anchor. IWL trains the baseline's weights, so
# it is trained once and borrows the baseline's seed spread.

# %%
bd = steps.bd_rate_tables(P, rd)
display(Markdown(steps.figure_path(P, "bd_rate.md").read_text()))

# %% [markdown]
# ## BS_JND: bits saved at each image's JND quality
#
# Against plain JPEG, and (the fair comparison of the losses: same data, budget and
# seed) against the preprocessor trained with the baseline loss.

# %%
bs = steps.bs_jnd_tables(P, rd)
display(Markdown(steps.figure_path(P, "bs_jnd.md").read_text()))

# %% [markdown]
# ## RD curves

# %%
Image(filename=str(steps.figure_rd(P, rd)))

# %% [markdown]
# ## Plain JPEG beside preprocessed JPEG (needs a live kernel)
#
# The same quality factor on both sides: the preprocessed file is smaller (the readout
# gives bpp, PSNR and MS-SSIM of each); pick a higher quality factor on the right to
# compare at about equal bpp.

# %%
if widget:
    from jndlc_helpers.report.widgets import ComparisonWidget

    display(ComparisonWidget(steps.gallery(P, rd, weights), left="jpeg", right="preproc-baseline").widget)
