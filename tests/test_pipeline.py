"""The pipeline's steps on hand-made run folders: data checks and training curves."""
import json

import numpy as np
import pytest
from PIL import Image

from jndlc_helpers import pipeline
from jndlc_helpers.config import profile


def write_dataset(root, n=2):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for sub in ("Ref", "JND1"):
            (root / split / sub).mkdir(parents=True)
            for i in range(n):
                img = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(img).save(root / split / sub / f"im{i}.png")
    return root


def test_paper_profile_without_data_root_says_what_to_do():
    with pytest.raises(FileNotFoundError, match="data_root=None is not a folder.*-p data_root=PATH"):
        pipeline.prepare_data(profile("paper"), progress=False)


def test_every_file_is_decoded_and_each_bad_one_named(tmp_path):
    root = write_dataset(tmp_path / "data")
    params = profile("paper", data_root=str(root))
    assert pipeline.prepare_data(params, progress=False) == root
    for bad in (root / "train" / "Ref" / "im1.png", root / "test" / "JND1" / "im0.png"):
        data = bad.read_bytes()
        bad.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(ValueError) as e:
        pipeline.prepare_data(params, progress=False)
    msg = str(e.value)
    assert msg.startswith("2 of 8 image(s) do not decode")
    assert "train/Ref/im1.png" in msg and "test/JND1/im0.png" in msg and str(tmp_path) not in msg


def test_failed_labels_stop_the_data_step(tmp_path):
    root = write_dataset(tmp_path / "data")
    (root / "labels.csv").write_text("image,qf,status\nim0,100,no JND found: even QF 100 fails\nim1,40,ok\n")
    with pytest.raises(ValueError, match="im0: no JND found"):
        pipeline.prepare_data(profile("paper", data_root=str(root)), progress=False)


def write_run(models, name, loss, metric, quality, losses):
    run = models / name
    run.mkdir(parents=True)
    # the layout train._write_config writes: the run's knobs nested under "config"
    (run / "config.json").write_text(json.dumps({"run": name, "config": {
        "loss": loss, "metric": metric, "quality": quality}, "sessions": []}))
    (run / "log.jsonl").write_text("".join(json.dumps({"step": i + 1, "loss": v}) + "\n"
                                           for i, v in enumerate(losses)))


def test_training_curves_read_nested_config_and_keep_negative_losses(tmp_path):
    params = profile("smoke", data_root=str(tmp_path / "data"))
    params["run_dir"] = str(tmp_path / "run")
    models = tmp_path / "run" / "models"
    write_run(models, "iwl-mse-q1", "iwl", "mse", 1, [0.5, -0.2, -0.4])
    write_run(models, "baseline-ms-ssim-q1", "baseline", "ms-ssim", 1, [2.0, 1.5, 1.2])
    curves = pipeline.training_curves(params)
    assert set(zip(curves["method"], curves["family"])) == {("iwl", "mse"), ("baseline", "ms-ssim")}
    fig = pipeline.training_curves_figure(params)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["mse-trained runs", "ms-ssim-trained runs"]
    for ax in axes:
        assert ax.get_yscale() == "linear"
        assert ax.lines and all(len(line.get_ydata()) == 3 for line in ax.lines)
    iwl = axes[0].lines[0].get_ydata()
    lo, hi = axes[0].get_ylim()
    assert min(iwl) == -0.4 and lo <= -0.4 and hi >= 0.5
