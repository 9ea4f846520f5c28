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
# # 01 · Prepare the JND data
#
# The paper trains on VideoSet frames paired with their first-JND encodes (JND1),
# mixed with as many JPEG-AI images whose "JND image" is the original itself
# (Sec. 2.4). This notebook gets such pairs into the layout
# `root/{train,test}/{Ref,JND1}`.
#
# * **paper** profile: point `data_root` at a dataset converted with
#   `jndlc_helpers.data.convert` (VideoSet, MCL-JCI or KonJND-1k; see the README).
# * **quick** profile (the embedded default): photographs that ship inside
#   scikit-image and matplotlib, with **proxy** JND1 labels from ColorVideoVDP:
#   JND1 is the JPEG encode at the lowest quality whose predicted JOD stays within
#   `jnd_tau` of the reference for every higher quality. No human saw these images;
#   numbers built on them say so.
# * **smoke** profile: four 256x256 crops labelled with the NAMM pixel-domain JND
#   profile, for the tests.
#
# The work is done by `jndlc_helpers.data` (pairs, splits, converters, labellers,
# the embedded set), called through `jndlc_helpers.pipeline`.

# %% tags=["parameters"]
profile = "quick"  # smoke | quick | standard | paper
run_dir = ""  # empty means runs/PROFILE
data_root = None  # None means the profile (quick: data/embedded, built here)
labeller = None  # embedded default only: cvvdp (quick) or namm
jnd_tau = None  # JOD drop allowed by the cvvdp labeller (quick: 1.0)

# %%
import pandas as pd
from IPython.display import Markdown, display

from jndlc_helpers import config, pipeline
from jndlc_helpers.reproduce import load_run_params

P = load_run_params(profile, run_dir or None, data_root=data_root, labeller=labeller, jnd_tau=jnd_tau)
display(Markdown(f"**{config.provenance_label(config.provenance(P))}**"))

# %% [markdown]
# ## Build or check the dataset

# %%
root = pipeline.prepare_data(P)
labels_csv = root / "labels.csv"
labels = pd.read_csv(labels_csv) if labels_csv.exists() else None
print(f"dataset: {root}")
labels

# %% [markdown]
# ## One pair: the original, its JND1 image and their difference

# %%
fig = pipeline.plot_pair(P)
fig
