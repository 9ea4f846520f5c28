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
# # 06 · Visual comparison (Figs. 3-4) and the wipe slider
#
# Reconstructions of the baseline and the proposed methods at similar bitrates,
# with zoomed crops and their bpp, PSNR and MS-SSIM. In JupyterLab, the widget below
# lets you pick an image, a quality and two methods and move a boundary between the
# two reconstructions; in a headless run or exported HTML, the static side-by-side
# figure stands in for it. Figures and the widget live in `jndlc_helpers.report`.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
target_bpp = None  # None means the median bpp of the fine-tuned baseline middle quality
methods = None  # None means baseline-pretrained, baseline, iwl, fwl
crop_box = None  # (top, left, height, width) of the zoomed crop; None picks the most detailed square
widget = True

# %%
from IPython.display import Markdown, display

from jndlc_helpers import config, pipeline
from jndlc_helpers.reproduce import load_run_params

P = load_run_params(profile, run_dir or None)
display(Markdown(f"**{config.provenance_label(config.provenance(P))}**"))

# %%
gallery = pipeline.reconstruct_test_set(P)
pipeline.evaluate_kodak(P)  # with kodak_root: Figs. 3-4 show the first Kodak image
figs = pipeline.figure_visual(P, methods=methods, target_bpp=target_bpp, crop_box=crop_box)
for f in figs:
    display(f)

# %% [markdown]
# ## Wipe slider (needs a live kernel)

# %%
if widget:
    from jndlc_helpers.report.widgets import ComparisonWidget

    display(ComparisonWidget(gallery).widget)
