"""The paper profile's code path end to end, at tiny size, on the CPU: Cheng2020-attention
(small N, from scratch: the zoo's weights are a download), a made-up VideoSet-layout
folder with human-style labels, an unlabelled folder mixed 1:1, two qualities, a few
steps, through ``reproduce --profile paper`` with overrides, to Tables I and II."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import smooth_rgb, write_png

from jndlc_helpers import __main__ as cli
from jndlc_helpers.codec.checkpoint import load_checkpoint_dict
from jndlc_helpers.data.convert import write_labels

TRAIN = [("SRC001", "360p"), ("SRC001", "540p"), ("SRC002", "360p"), ("SRC003", "360p")]
TEST = [("SRC004", "360p"), ("SRC005", "360p")]
OVERRIDES = {
    "model_N": 8, "pretrained": "scratch", "qualities": [1, 2], "losses": ["iwl", "fwl"],
    "feature_extractor": "nlpd", "max_steps": 2, "batch_size": 2, "patch_size": 64, "num_workers": 0,
    "parallel_runs": 2, "anchors": ["jpeg"], "anchor_qualities": [10, 40, 70], "jod": False,
    "bootstrap": 20, "device": "cpu",
    # notebook 07 at tiny size too: one preprocessor, two quality factors
    "jpeg_losses": {"mse": ["baseline"]}, "jpeg_qualities": [30, 70], "jpeg_steps": 2, "jpeg_batch_size": 2,
    "jpeg_patch_size": 32, "jpeg_jod": False,
    # notebook 08 at tiny size: the whole photographs only, no Guetzli
    "atjnd_crops_per_image": 0, "atjnd_guetzli_images": 0,
}


def videoset_layout(root: Path) -> Path:
    """Frames named as convert_videoset names them, JND1 a coarser version (a stand-in
    for the x264 encode at the first-JND QP), and labels.csv as it writes it."""
    rows = []
    for split, items in (("train", TRAIN), ("test", TEST)):
        for i, (source, res) in enumerate(items):
            stem = f"{source}_{res}_f0000"
            ref = smooth_rgb(192, 224 if split == "train" else 176, seed=int(stem[3:6]) + len(res), high=230)
            jnd = (np.round(ref / 12.0) * 12).clip(0, 255).astype(np.uint8)
            write_png(root / split / "Ref" / f"{stem}.png", ref)
            write_png(root / split / "JND1" / f"{stem}.png", jnd)
            rows.append({"image": stem, "split": split, "source": source, "labeller": "human (videoset.csv)",
                         "qp": 30 + i, "resolution": res, "frame": 0, "width": ref.shape[1], "height": ref.shape[0]})
    write_labels(root / "labels.csv", rows, extra=("qp", "resolution", "frame"))
    return root


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper")
    data = videoset_layout(tmp / "videoset")
    for i in range(3):  # the JPEG-AI role: images without labels
        write_png(tmp / "jpeg_ai" / f"img{i}.png", smooth_rgb(208, 224, seed=50 + i))
    params = {**OVERRIDES, "data_root": str(data), "unlabelled_root": str(tmp / "jpeg_ai")}
    argv = ["reproduce", "--profile", "paper", "--run-dir", str(tmp / "run"), "--figures-dir", str(tmp / "published"),
            "--no-progress"]
    for key, value in params.items():
        argv += ["-p", f"{key}={value}"]
    cli.main(argv)
    return tmp / "run", tmp / "published"


def test_paper_profile_chain_writes_tables_i_and_ii(paper_run):
    run_dir, published = paper_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["profile"] == "paper" and {e["status"] for e in manifest["notebooks"].values()} == {"done"}
    t1 = pd.read_csv(published / "table1_bd_rate.csv", comment="#")
    t2 = pd.read_csv(published / "table2_bs_jnd.csv", comment="#")
    assert set(t1["key"]) >= {"iwl-mse", "fwl-mse", "iwl-ms-ssim", "fwl-ms-ssim"}
    assert set(t2["paper"].dropna()) == {-9.22, -9.25, -13.94, -10.77}
    assert {"common", "n_common"} <= set(t2.columns)
    md = (published / "table2_bs_jnd.md").read_text()
    assert "profile=paper" in md and "cheng2020-attn (N=8" in md and "NOT the paper's protocol" not in md
    assert "proxy JND labels" not in md  # human labels


def test_paper_profile_chain_trained_cheng2020_on_the_mixed_data(paper_run):
    run_dir, _ = paper_run
    models = pd.read_csv(run_dir / "models" / "models.csv")
    assert len(models) == 2 * 2 * 3  # metrics x qualities x (pretrained control + 2 losses)
    meta = load_checkpoint_dict(run_dir / "models" / "fwl-ms-ssim-q2" / "checkpoint.pth.tar")["meta"]
    assert meta["architecture"] == "cheng2020-attn" and meta["N"] == 8 and meta["steps"] == 2
    assert meta["patch_size"] == 192 and meta["unlabelled"] is not None  # MS-SSIM patches; the 1:1 mix
    assert "trained from scratch, not fine-tuned from pretrained weights" in meta["labels"]
    rd = pd.read_csv(run_dir / "results" / "rd.csv")
    learned = rd[rd["family"] != "anchor"]
    assert len(learned) == len(models) * len(TEST) and (learned["bpp"] > 0).all()
    assert learned[["psnr", "ms_ssim"]].map(math.isfinite).all().all()
