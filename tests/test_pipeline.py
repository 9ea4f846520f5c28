"""The pipeline's steps on hand-made run folders: data checks and training curves."""
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from jndlc_helpers import config, pipeline
from jndlc_helpers.report import figures
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
    # the layout RunFolder.write_config writes: the run's knobs nested under "config"
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
    fig = figures.training_curves_figure(curves, params["metrics"], None)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(axes) == 2 and [ax.get_title().split(",")[1] for ax in axes] == [" q1", " q1"]
    mse = axes[0] if "MSE" in axes[0].get_title().upper().split(",")[0] and "SSIM" not in axes[0].get_title() \
        else axes[1]
    for ax in axes:
        assert ax.get_yscale() == "linear"
        assert len(ax.lines) == 2  # the raw loss, faint, and its smoothed curve
    raw = mse.lines[0].get_ydata()
    lo, hi = mse.get_ylim()
    assert min(raw) == -0.4 and lo <= -0.4 and hi >= 0.5
    assert fig.legends and fig.legends[0].get_texts()  # outside the axes


def test_training_curves_draw_the_seeds_as_a_band(tmp_path):
    params = profile("smoke", data_root=str(tmp_path / "data"))
    params["run_dir"] = str(tmp_path / "run")
    for seed, shift in ((0, 0.0), (1, 0.3), (2, -0.1)):
        write_run(tmp_path / "run" / "models", f"seed{seed}/baseline-mse-q1", "baseline", "mse", 1,
                  list(np.linspace(2, 1, 40) + shift))
    from jndlc_helpers.report import figures

    curves = pd.concat([pd.read_json(p, lines=True).assign(method="baseline", family="mse", quality=1, seed=k)
                        for k, p in enumerate(sorted((tmp_path / "run" / "models").glob("seed*/*/log.jsonl")))])
    fig = figures.training_curves_figure(curves, ["mse"], None)
    ax = fig.axes[0]
    assert len(ax.collections) == 1  # the band between the seeds
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.max() == pytest.approx(2.3, abs=0.05) and band.min() == pytest.approx(0.9, abs=0.05)


def write_results(run, n_images=3):
    """rd.csv and jnd_quality.csv of a run: iwl needs 0.9x the baselines' bits."""
    import math

    import pandas as pd

    from jndlc_helpers.evaluation.evaluate import COLUMNS

    rows = []
    for i in range(n_images):
        for method, f in (("baseline-pretrained", 1.0), ("baseline", 1.0), ("iwl", 0.9)):
            for q in range(1, 5):
                bpp = f * 0.1 * 2 ** q
                rows.append({"image": f"im{i}", "method": method, "family": "mse", "quality": q, "lmbda": 0.01,
                             "bpp": bpp, "bpp_est": bpp, "psnr": 26 + 2.5 * q + 0.1 * i, "ms_ssim": 1 - 0.1 / q,
                             "ms_ssim_db": -10 * math.log10(0.1 / q), "jod": 6.5 + q * 0.8, "enc_s": 0, "dec_s": 0})
    (run / "results").mkdir(parents=True)
    pd.DataFrame(rows, columns=COLUMNS).to_csv(run / "results" / "rd.csv", index=False)
    pd.DataFrame({"image": [f"im{i}" for i in range(n_images)], "psnr": 31.0, "ms_ssim": 0.95,
                  "ms_ssim_db": 13.0, "jod": 9.2}).to_csv(run / "results" / "jnd_quality.csv", index=False)


def test_jod_rows_and_display_in_the_tables(tmp_path):
    params = profile("quick", metrics=["mse"], losses=["baseline", "iwl"], bootstrap=20)
    params["run_dir"] = str(tmp_path / "run")
    write_results(tmp_path / "run")
    bd = pipeline.bd_rate_tables(params)
    assert set(bd["metric"]) == {"psnr", "ms_ssim_db", "jod"}
    md = pipeline.table_markdown(params, "table1_bd_rate")
    assert "JOD (ours, not the paper's)" in md and "display model 'standard_fhd'" in md
    assert (bd.loc[(bd["metric"] == "jod") & (bd["interpolation"] == "pchip") & (bd["method"] == "iwl"),
                   "bd_rate"].round(6) == -10.0).all()
    per, summary = pipeline.bs_jnd_tables(params)
    jod = summary[(summary["metric"] == "jod") & (summary["key"] == "iwl-mse")]
    assert len(jod) == 2 and np.allclose(jod["mean"], -10.0)  # against both baselines
    assert (per.loc[per["metric"] == "jod", "q_jnd"] == 9.0).all()  # 10 - tau, not the JND image's JOD
    md2 = pipeline.table_markdown(params, "table2_bs_jnd")
    assert "JOD = 9 (10 - tau" in md2 and "JOD (ours, not the paper's)" in md2


def test_provenance_shows_project_paths_relative(tmp_path):
    from jndlc_helpers.reproduce import project_root

    root = project_root()
    params = profile("quick", jod=False)
    params.update(data_root=str(root / "data/embedded"), unlabelled_root=str(root / "data/photos/unlabelled"),
                  pretrained=str(root / "data/pretrained/quick-corpus"), run_dir=str(tmp_path / "run"))
    label = config.provenance_label(pipeline.prov(params))
    assert str(root) not in label
    assert "data/embedded + data/photos/unlabelled (1:1)" in label and "(data/pretrained/quick-corpus)" in label
