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
# # 08 · Compress at the just-noticeable point
#
# The earlier notebooks measure how many bits a codec needs to reach an image's JND
# (BS_JND). This one *uses* the JND: each test image is coded at the lowest rate whose
# decoded image still looks unchanged by the criterion that made the labels
# (ColorVideoVDP JOD >= 10 - tau on the labeller's display), and the bits it takes are
# set beside what people use today for "visually lossless at the smallest size".
#
# - **Closed loop** (`jndlc compress --target jnd`): plain JPEG and JPEG through a shipped
#   preprocessor (a bisection over quality factors 1-100), and the learned codec with a
#   *continuous* rate: the base models' latent quantisation step scaled between their
#   trained qualities (and, beside it, the same search over the trained qualities only).
# - **Open loop**: a ridge predictor of the JND operating point from the image alone
#   (one encode), trained on closed-loop labels of crops of the *training* photographs.
# - **Anchors**: JPEG XL at distance 1.0, Guetzli, one fixed JPEG quality factor and an
#   SSIM-target search (the last two chosen on the training images).
#
# Two judges: (a) the labels' criterion (JOD and, as BS_JND, PSNR >= the JND image's),
# (b) an independent one (butteraugli <= 1.0, or SSIMULACRA2 >= 80 without Debian's
# `butteraugli_main`). The logic lives in `jndlc_helpers.atjnd`.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
atjnd_preprocessor = None  # the JPEG preprocessor (None: the profile's)
atjnd_guetzli_images = None  # Guetzli on the first N test images (None: the profile's)
widget = True

# %%
from IPython.display import Image, Markdown, display

from jndlc_helpers import config
from jndlc_helpers.atjnd import report, steps
from jndlc_helpers.reproduce import load_run_params

P = steps.atjnd_params(load_run_params(profile, run_dir or None), atjnd_preprocessor=atjnd_preprocessor,
                       atjnd_guetzli_images=atjnd_guetzli_images)
display(Markdown(f"**{config.provenance_label(steps.provenance(P))}**"))

# %% [markdown]
# ## The open-loop predictor, trained on the training photographs only
#
# Each training photograph, whole and in crops, is labelled by the closed loop itself
# (its JND quality factor and its learned codec's continuous quality); the quick profile
# ships these labels (`data/atjnd/quick/`), made with the same models and knobs.

# %%
labels = steps.training_labels(P)
predictors = steps.fit_predictors(P, labels)
picked = steps.choices(P, labels)
display(Markdown(f"{len(labels)} training examples; fixed QF {picked['fixed_qf']}, SSIM target "
                 f"{picked['ssim_target']:.4f}; " + "; ".join(
                     f"{k}: CV MAE {p.cv_mae:.2f}, margin +{p.margin:.2f}" for k, p in predictors.items())))

# %% [markdown]
# ## Every method on the test images, judged twice

# %%
rows = steps.run_methods(P, picked)
table = steps.summary(rows)
display(Markdown(steps.table_markdown(P, table, rows, picked)))

# %% [markdown]
# ## Bits per image

# %%
label = config.provenance_label(steps.provenance(P))
numbers = report.numbers(P, rows, table, predictors, label)
steps.save_numbers(P, numbers, picked)
display(Markdown(
    f"Closed loop, side by side on the same images: preprocessed / plain JPEG "
    f"{numbers['preprocessed_vs_plain_jpeg_bpp']:.3f}, learned / plain JPEG {numbers['learned_vs_plain_jpeg_bpp']:.3f}, "
    f"JPEG XL d1 / learned {numbers['jxl_d1_vs_learned_bpp']:.3f}. Predictor: QF MAE "
    f"{numbers['predictor_qf_mae']:.2f} against the test labels, {numbers['predictor_within_jnd']:.0%} within JND."))
Image(filename=str(report.figure_bpp(P, rows, label)))

# %% [markdown]
# ## The original against each method's at-JND decode (needs a live kernel)

# %%
if widget:
    from jndlc_helpers.report.widgets import ComparisonWidget

    display(ComparisonWidget(steps.gallery(P, rows), left="original", right="learned-closed-loop").widget)
