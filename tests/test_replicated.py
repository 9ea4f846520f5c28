"""A replicated grid on the smoke data: each run archived as it finishes, never redone, and
the tables regenerated from the store without any model."""
import json
import shutil

import pytest

from jndlc_helpers import pipeline, replicated
from jndlc_helpers.evaluation import replicates
from jndlc_helpers.codec import train
from jndlc_helpers.config import profile


def test_jobs_go_seed_by_seed_with_single_seed_losses_once():
    params = profile("smoke", metrics=["mse"], qualities=[1], losses=["baseline", "iwl", "fwl"], seeds=[3, 4],
                     single_seed_losses=["iwl"])
    names = [j.folder for j in replicated.jobs(params)]
    assert names == ["seed3/baseline-pretrained-mse-q1", "seed3/baseline-mse-q1", "seed3/iwl-mse-q1",
                     "seed3/fwl-mse-q1", "seed4/baseline-mse-q1", "seed4/fwl-mse-q1"]
    assert replicated.seeds(profile("smoke")) == [0]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replicated")
    params = profile("smoke", data_root=str(tmp / "data"), metrics=["mse"], qualities=[1, 2],
                     losses=["baseline", "iwl"], seeds=[0, 1], single_seed_losses=["iwl"],
                     results_store=str(tmp / "store"), max_steps=2, bootstrap=20, parallel_runs=1)
    params["run_dir"] = str(tmp / "run")
    pipeline.prepare_data(params, progress=False)
    table = pipeline.train_all(params, progress=False)
    return params, table


def test_every_run_is_evaluated_and_archived(grid):
    params, table = grid
    assert len(table) == 8 and table["stored"].all()
    store = pipeline.results_store(params)
    rd = store.rows()
    assert sorted(rd["seed"].unique()) == [0, 1]
    assert set(rd.loc[rd["seed"] == 1, "method"]) == {"baseline"}  # iwl: one seed
    assert len(rd) == 8 * 2  # two test images
    log = store.root / "logs" / "seed1" / "baseline-mse-q2" / "log.jsonl"
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2]
    assert json.loads((store.root / "logs" / "seed1" / "baseline-mse-q2" / "config.json").read_text())["config"][
        "seed"] == 1
    assert not list(store.root.rglob("*.pth.tar"))  # no model in the store
    assert json.loads((store.root / "iwl_identity.json").read_text()) == {"seed0/iwl-mse-q1": True,
                                                                          "seed0/iwl-mse-q2": True}


def test_a_stored_run_is_never_redone_even_without_its_model(grid, monkeypatch):
    params, _ = grid
    shutil.rmtree(params["run_dir"] + "/models")  # a later session: the models are gone

    def no_training(*a, **k):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(train, "train_run", no_training)
    assert pipeline.train_all(params, progress=False)["stored"].all()


def test_tables_regenerate_from_the_store(grid):
    params, _ = grid
    rd = pipeline.evaluate_rd(params, progress=False)
    assert {"baseline", "iwl", "baseline-pretrained", "jpeg"} <= set(rd["method"])
    assert replicates.is_replicated(rd)
    bd = pipeline.bd_rate_tables(params)
    assert "n_seeds" in bd
    assert set(bd.loc[(bd["method"] == "baseline") & (bd["anchor"] == "baseline-pretrained"), "n_seeds"]) == {2}
    assert set(bd.loc[bd["method"] == "iwl", "n_seeds"]) == {1}
    head = bd[(bd["method"] == "iwl") & (bd["anchor"] == "baseline") & (bd["interpolation"] == "pchip")]
    assert (head["bd_rate"].dropna().abs() < 1e-9).all()  # IWL is its control
    floor = json.loads((pipeline.run_path(params, "results", "noise_floor.json")).read_text())
    assert floor["mse/psnr"]["seeds"] == [0, 1]
    per, summary = pipeline.bs_jnd_tables(params)
    assert "seed" in per and "n_seeds" in summary
    assert (pipeline.run_path(params, "figures", "table1_bd_rate_vs_finetuned.md")).is_file()
    pipeline.figure_rd(params)
    pipeline.plot_training_curves(params)
