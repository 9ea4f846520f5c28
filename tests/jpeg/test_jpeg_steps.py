"""Notebook 07's steps end to end on a tiny data set, and the notebook's parameters."""
import json
from pathlib import Path

import pytest

from jndlc_helpers import config
from jndlc_helpers.files import file_digest
from jndlc_helpers.jpeg import preprocess as PP
from jndlc_helpers.jpeg import steps

NB = Path(__file__).resolve().parents[2] / "notebooks" / "07_jpeg_preprocessing.ipynb"


def test_smoke_steps_write_every_table(tmp_path, make_pairs):
    root = make_pairs(["a", "b"], split="train", size=(64, 48))
    make_pairs(["c", "d"], split="test", size=(64, 48), root=root)
    P = steps.jpeg_params({**config.profile("smoke", data_root=str(root), parallel_runs=1),
                           "run_dir": str(tmp_path / "run")}, jpeg_steps=2)
    out = steps.run(P, progress=False)
    rd = out["rd"]
    assert set(rd["method"]) == {"jpeg", "classical", "preproc-baseline", "preproc-iwl"}
    assert len(rd) == 4 * 2 * 2  # methods x images x qualities
    bd = out["bd"]
    row = bd[(bd.method == "classical") & (bd.anchor == "jpeg") & (bd.metric == "psnr")]
    assert len(row) == 1
    for name in ("bd_rate.md", "bs_jnd.md"):
        text = steps.figure_path(P, name).read_text()
        assert "proxy JND labels" in text and str(tmp_path) not in text
    assert out["figure"].is_file()
    weights = steps.train_all(P, progress=False)  # done: loaded, not retrained
    again = steps.evaluate_all(P, weights, progress=False)  # all rows cached
    assert len(again) == len(rd)
    other = steps.jpeg_path(P, "other.pt")  # other weights under the same name: that method is redone
    PP.save_weights(other, PP.Preprocessor(8), {"multiplier": 0.7})
    redone = steps.evaluate_all(P, {**weights, ("iwl", "mse", 0): other}, progress=False)
    assert len(redone) == len(rd)
    keys = json.loads(Path(f"{steps.jpeg_path(P, 'results', 'rd.csv')}.methods.json").read_text())
    assert keys["preproc-iwl-mse"]["weights"] == file_digest(other)[:16]
    g = steps.gallery(P, rd, weights)
    assert set(g.options("method")) == {"jpeg", "classical", "preproc-baseline", "preproc-iwl"}
    row = g.row("c", "preproc-baseline", "mse", 30)
    assert row["bpp"] == rd[(rd.image == "c") & (rd.method == "preproc-baseline") & (rd.quality == 30)]["bpp"].iloc[0]


def test_several_seeds_are_paired_with_the_control_of_their_seed(tmp_path, make_pairs):
    root = make_pairs(["a", "b"], split="train", size=(64, 48))
    make_pairs(["c", "d"], split="test", size=(64, 48), root=root)
    P = steps.jpeg_params({**config.profile("smoke", data_root=str(root), parallel_runs=1, bootstrap=20),
                           "run_dir": str(tmp_path / "run")}, jpeg_steps=2, jpeg_seeds=[0, 1])
    weights = steps.train_all(P, progress=False)
    assert sorted(weights) == [("baseline", "mse", 0), ("baseline", "mse", 1), ("iwl", "mse", 0)]
    assert steps.jpeg_path(P, "models", "baseline-mse-seed1", "done").exists()
    rd = steps.evaluate_all(P, weights, progress=False)
    seeds = rd.groupby("method")["seed"].unique().map(sorted).to_dict()
    assert seeds == {"jpeg": [0], "classical": [0], "preproc-baseline": [0, 1], "preproc-iwl": [0]}
    bd = steps.bd_rate_tables(P, rd).set_index(["method", "anchor", "metric"])
    assert bd.loc[("preproc-baseline", "jpeg", "psnr"), "n_seeds"] == 2
    iwl = bd.loc[("preproc-iwl", "preproc-baseline", "psnr")]
    assert iwl["n_seeds"] == 1 and "control's seed spread" in iwl["interval"]
    assert "seed spread" not in bd.loc[("classical", "jpeg", "psnr"), "interval"]  # not trained: no seed noise
    bs = steps.bs_jnd_tables(P, rd)
    assert {"n_seeds", "holm"} <= set(bs.columns)
    for name in ("bd_rate.md", "bs_jnd.md"):
        text = steps.figure_path(P, name).read_text()
        assert "2 training seeds" in text and "holm" in text and "x 2 seeds" in text
    assert steps.figure_rd(P, rd).is_file()


def test_method_specs_travel_to_worker_processes():
    import pickle

    from jndlc_helpers.jpeg.evaluate import MethodSpec

    spec = MethodSpec(("mse",), "classical")
    assert pickle.loads(pickle.dumps(spec)) == spec and callable(spec.build())
    with pytest.raises(ValueError, match="method kind"):
        MethodSpec(("mse",), "learned").build()


def test_unknown_knobs_and_profiles_are_named():
    P = {**config.profile("smoke"), "run_dir": "x"}
    with pytest.raises(KeyError, match="jpeg_stepz"):
        steps.jpeg_params(P, jpeg_stepz=3)
    with pytest.raises(KeyError, match="nope"):
        steps.jpeg_params({**P, "profile": "nope"})


def test_notebook_parameters_and_no_outputs():
    import jupytext
    import papermill as pm

    nb = json.loads(NB.read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb["cells"] if c["cell_type"] == "code")
    declared = pm.inspect_notebook(str(NB))
    knobs = set(declared) - {"profile", "run_dir", "widget"}
    assert knobs <= set(config.PROFILES["quick"])
    assert all(declared[k]["default"] == "None" for k in knobs)
    py = jupytext.read(NB.with_suffix(".py"))
    assert [c.source for c in jupytext.read(NB).cells] == [c.source for c in py.cells]
