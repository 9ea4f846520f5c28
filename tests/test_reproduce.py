"""The smoke chain end to end through papermill, and the runner's contract:
resume, unknown parameters, a failing cell named."""
import json
import math
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from jndlc_helpers import reproduce as R

FIGURES = ["fig2_rd_curves.png", "fig2_rd_curves.pdf", "fig3_visual_mse.png", "fig4_visual_ms-ssim.png",
           "fig5_bs_jnd_example.png", "static_comparison_mse.png", "training_curves.png"]
TABLES = ["table1_bd_rate", "table1_bd_rate_vs_finetuned", "table2_bs_jnd", "table2_bs_jnd_vs_finetuned"]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke")
    run_dir = R.reproduce("smoke", run_dir=tmp / "run", overrides={"data_root": str(tmp / "data")},
                          progress=False, figures_dir=tmp / "published")
    return run_dir, tmp / "published"


def test_chain_writes_every_figure_and_table(smoke_run):
    run_dir, published = smoke_run
    for name in FIGURES:
        for where in (run_dir / "figures", published):
            assert (where / name).stat().st_size > 1000, f"{where / name} missing or empty"
    for name in TABLES:
        for ext in ("csv", "md", "tex"):
            assert (published / f"{name}.{ext}").stat().st_size > 100
        md = (published / f"{name}.md").read_text()
        assert "profile=smoke" in md and "proxy JND labels (namm)" in md and "NOT the paper's protocol" in md
    t1 = pd.read_csv(published / "table1_bd_rate.csv", comment="#")
    assert set(t1["paper"].dropna()) >= {-5.40, -8.30, -10.00}
    t2 = pd.read_csv(published / "table2_bs_jnd.csv", comment="#")
    assert set(t2["paper"].dropna()) == {-9.22, -9.25, -13.94, -10.77}
    assert ((t2["n_used"] + t2["n_out_of_range"]) <= t2["n_images"]).all()


def test_chain_compresses_at_the_jnd(smoke_run):
    run_dir, published = smoke_run
    assert (published / "atjnd_bpp_per_image.png").stat().st_size > 1000
    md = (published / "atjnd_bits.md").read_text()
    assert "Bits to look unchanged" in md and "proxy JND labels (namm)" in md
    assert "encode_s" not in md  # wall time would make the published table differ run to run
    assert "encode_s" in (run_dir / "notebooks" / "08_at_jnd.ipynb").read_text()  # the notebook shows it
    at_jnd = json.loads((run_dir / "atjnd" / "at_jnd.json").read_text())
    assert {"preprocessed_vs_plain_jpeg_bpp", "learned_vs_plain_jpeg_bpp", "jxl_d1_vs_learned_bpp",
            "predictor_qf_mae", "predictor_within_jnd"} <= set(at_jnd)
    assert {m["method"] for m in at_jnd["methods"]} >= {"jpeg-closed-loop", "learned-closed-loop", "jpegxl-d1"}
    assert any(m["encode_s"] > 0 for m in at_jnd["methods"])  # the times live here instead


def test_chain_results_are_finite_where_they_must_be(smoke_run):
    run_dir, _ = smoke_run
    rd = pd.read_csv(run_dir / "results" / "rd.csv")
    models = pd.read_csv(run_dir / "models" / "models.csv")
    assert len(models) == 2 * 4 * 4  # metrics x qualities x (pretrained control + 3 losses)
    assert set(rd["method"]) == {"baseline-pretrained", "baseline", "iwl", "fwl", "jpeg"}
    for col in ("bpp", "psnr", "ms_ssim", "ms_ssim_db", "enc_s", "dec_s"):
        assert rd[col].map(math.isfinite).all(), col
    learned = rd[rd.family != "anchor"]
    assert learned["bpp_est"].map(math.isfinite).all() and (learned["bpp"] > 0).all()
    jq = pd.read_csv(run_dir / "results" / "jnd_quality.csv")
    assert len(jq) == 2 and jq["psnr"].map(math.isfinite).all()
    summary = json.loads((run_dir / "results" / "json" / "iwl-mse.json").read_text())
    assert len(summary["results"]["bpp"]) == 4


def test_no_absolute_path_in_the_run_outputs(smoke_run):
    run_dir, published = smoke_run
    tmp = str(run_dir.parent)
    # executed notebooks hold papermill's injected run_dir: a record of the run, not an output
    files = [p for p in run_dir.rglob("*") if p.is_file() and "notebooks" not in p.relative_to(run_dir).parts]
    files += [p for p in published.iterdir() if p.is_file()]
    texts = [p for p in files if p.suffix in (".csv", ".md", ".tex", ".json", ".jsonl", ".txt")]
    assert any(p.name == "manifest.json" for p in texts) and any(p.name == "models.csv" for p in texts)
    holding = [str(p.relative_to(run_dir.parent)) for p in texts if tmp in p.read_text(errors="replace")]
    assert holding == []
    params = json.loads((run_dir / "params.json").read_text())
    assert params["data_root"] == "../data" and "run_dir" not in params
    assert R.load_run_params("smoke", run_dir)["data_root"] == str(run_dir.parent / "data")


def test_manifest_and_executed_notebooks(smoke_run):
    run_dir, _ = smoke_run
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["profile"] == "smoke"
    assert [manifest["notebooks"][n]["status"] for n in R.NOTEBOOKS] == ["done"] * len(R.NOTEBOOKS)
    assert manifest["environment"]["packages"]["compressai"] == "1.2.8"
    for name in R.NOTEBOOKS:
        nb = nbformat.read(run_dir / "notebooks" / name, as_version=4)
        assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)
        assert (run_dir / "notebooks" / name.replace(".ipynb", ".html")).stat().st_size > 1000


def test_finished_chain_is_not_redone(smoke_run, capsys):
    run_dir, published = smoke_run
    before = (run_dir / "manifest.json").read_text()
    R.reproduce("smoke", run_dir=run_dir, overrides={"data_root": str(run_dir.parent / "data")},
                progress=False, figures_dir=published)
    assert capsys.readouterr().out.count("done already") == len(R.NOTEBOOKS)
    after = json.loads((run_dir / "manifest.json").read_text())
    assert after["notebooks"] == json.loads(before)["notebooks"]


def test_other_parameters_in_the_same_run_folder_are_refused(smoke_run):
    run_dir, _ = smoke_run
    with pytest.raises(R.ChainError, match="max_steps"):
        R.reproduce("smoke", run_dir=run_dir, overrides={"data_root": str(run_dir.parent / "data"),
                                                         "max_steps": 99}, figures_dir=None)


def test_unknown_parameter_fails_before_anything_runs(tmp_path):
    with pytest.raises(KeyError, match="max_stepz"):
        R.reproduce("smoke", run_dir=tmp_path / "run", overrides={"max_stepz": 3})
    assert not (tmp_path / "run").exists()
    cli = subprocess.run([sys.executable, "-m", "jndlc_helpers", "reproduce", "--profile", "smoke",
                          "--run-dir", str(tmp_path / "run"), "-p", "max_stepz=3"],
                         capture_output=True, text=True)
    assert cli.returncode != 0 and "max_stepz" in cli.stderr
    assert not (tmp_path / "run").exists()


def test_cli_publishes_where_asked(tmp_path, monkeypatch):
    from jndlc_helpers import __main__ as cli

    calls = []
    monkeypatch.setattr(R, "reproduce", lambda *a, **kw: calls.append(kw) or tmp_path)
    cli.main(["reproduce", "--profile", "smoke", "--figures-dir", str(tmp_path / "mine"), "-p", "max_steps=9"])
    cli.main(["reproduce", "--profile", "smoke"])
    cli.main(["reproduce", "--profile", "smoke", "--no-publish"])
    assert [c["figures_dir"] for c in calls] == [str(tmp_path / "mine"), "default", None]


def _notebook(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    cells[0].metadata["tags"] = ["parameters"]
    nb.cells = cells
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_failing_cell_stops_the_chain_naming_notebook_and_cell(tmp_path, monkeypatch):
    root = tmp_path / "project"
    _notebook(root / "notebooks" / "01_ok.ipynb", ['profile = "smoke"\nrun_dir = ""', "x = 1"])
    _notebook(root / "notebooks" / "02_bad.ipynb",
              ['profile = "smoke"\nrun_dir = ""', "y = 2", "raise ValueError('broken on purpose')"])
    _notebook(root / "notebooks" / "03_never.ipynb", ['profile = "smoke"\nrun_dir = ""', "z = 3"])
    monkeypatch.setenv("JNDLC_ROOT", str(root))
    names = ("01_ok.ipynb", "02_bad.ipynb", "03_never.ipynb")
    with pytest.raises(R.ChainError, match=r"02_bad\.ipynb failed in cell 3.*ValueError.*broken on purpose"):
        R.reproduce("smoke", run_dir=tmp_path / "run", notebooks=names, progress=False, html=False,
                    figures_dir=None)
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["notebooks"]["01_ok.ipynb"]["status"] == "done"
    assert manifest["notebooks"]["02_bad.ipynb"]["status"] == "failed"
    assert "03_never.ipynb" not in manifest["notebooks"]


def test_a_dead_kernel_is_one_line_naming_notebook_kept_work_and_resume(tmp_path, monkeypatch):
    root = tmp_path / "project"
    _notebook(root / "notebooks" / "01_ok.ipynb", ['profile = "smoke"\nrun_dir = ""', "x = 1"])
    _notebook(root / "notebooks" / "02_dies.ipynb", ['profile = "smoke"\nrun_dir = ""', "import os\nos._exit(9)"])
    monkeypatch.setenv("JNDLC_ROOT", str(root))
    with pytest.raises(R.ChainError) as e:
        R.reproduce("smoke", run_dir=root / "runs" / "smoke", notebooks=("01_ok.ipynb", "02_dies.ipynb"),
                    progress=False, html=False, figures_dir=None)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("02_dies.ipynb: the kernel died in cell 2 of 2 (import os)")
    manifest = json.loads((root / "runs" / "smoke" / "manifest.json").read_text())
    assert manifest["notebooks"]["02_dies.ipynb"]["error"] == msg
    assert "Kept: 01_ok.ipynb" in msg
    assert msg.endswith("reproduce --profile smoke --run-dir runs/smoke")


def test_changing_knobs_by_hand_marks_the_chain_stale(tmp_path):
    run_dir = tmp_path / "run"
    params = R.load_run_params("smoke", run_dir)
    manifest = {"profile": "smoke", "params": R.portable(params, run_dir),
                "notebooks": {n: {"status": "done", "seconds": 1.0} for n in R.NOTEBOOKS}}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    R.load_run_params("smoke", run_dir)  # no change: nothing marked
    assert json.loads((run_dir / "manifest.json").read_text())["notebooks"] == manifest["notebooks"]
    R.load_run_params("smoke", run_dir, bootstrap=7)
    after = json.loads((run_dir / "manifest.json").read_text())
    assert {e["status"] for e in after["notebooks"].values()} == {"stale"}
    assert after["changed_by_hand"] == ["bootstrap"]


@pytest.mark.parametrize("value", ["none", None, "no/such/folder"])
def test_an_unusable_pretrained_is_refused_before_anything_runs(tmp_path, value, capsys):
    from jndlc_helpers import __main__ as cli

    with pytest.raises(ValueError, match="pretrained="):
        R.reproduce("paper", run_dir=tmp_path / "run", overrides={"pretrained": value, "data_root": str(tmp_path)})
    with pytest.raises(SystemExit, match="pretrained=.*'zoo'.*'scratch'"):
        cli.main(["reproduce", "--profile", "paper", "--run-dir", str(tmp_path / "run"), "-p", f"pretrained={value}"])
    assert not (tmp_path / "run").exists()


def test_usable_pretrained_values_pass(tmp_path):
    (tmp_path / "base").mkdir()
    for profile, value in (("paper", "zoo"), ("paper", "scratch"), ("paper", str(tmp_path / "base")),
                           ("quick", str(tmp_path / "to-train"))):  # quick trains base models into a new folder
        assert R.resolve_params(profile, {"pretrained": value})["pretrained"] == value


def test_a_cell_timeout_is_one_line_naming_notebook_and_cell_and_kept_in_the_manifest(tmp_path, monkeypatch):
    root = tmp_path / "project"
    _notebook(root / "notebooks" / "01_slow.ipynb",
              ['profile = "smoke"\nrun_dir = ""', "x = 1", "import time\ntime.sleep(60)", "y = 2"])
    monkeypatch.setenv("JNDLC_ROOT", str(root))
    with pytest.raises(R.ChainError) as e:
        R.reproduce("smoke", run_dir=tmp_path / "run", notebooks=("01_slow.ipynb",), progress=False, html=False,
                    figures_dir=None, cell_timeout=3)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("01_slow.ipynb timed out in cell 3 of 4 (import time)")
    entry = json.loads((tmp_path / "run" / "manifest.json").read_text())["notebooks"]["01_slow.ipynb"]
    assert entry["status"] == "failed" and entry["error"] == msg


def test_the_paper_profile_has_no_cell_timeout(tmp_path, monkeypatch):
    import papermill as pm

    from jndlc_helpers import __main__ as cli

    root = tmp_path / "project"
    _notebook(root / "notebooks" / "01_ok.ipynb", ['profile = "smoke"\nrun_dir = ""', "x = 1"])
    monkeypatch.setenv("JNDLC_ROOT", str(root))
    seen = []
    monkeypatch.setattr(pm, "execute_notebook", lambda *a, execution_timeout, **kw: seen.append(execution_timeout))
    for profile in ("paper", "smoke"):
        R.reproduce(profile, run_dir=tmp_path / profile, notebooks=("01_ok.ipynb",), progress=False, html=False,
                    figures_dir=None)
    assert seen == [None, 3600]
    calls = []
    monkeypatch.setattr(R, "reproduce", lambda *a, **kw: calls.append(kw["cell_timeout"]) or tmp_path)
    cli.main(["reproduce", "--profile", "paper"])
    cli.main(["reproduce", "--profile", "paper", "--cell-timeout", "0"])
    cli.main(["reproduce", "--profile", "quick", "--cell-timeout", "60"])
    assert calls == ["profile", None, 60]


def test_a_run_folder_from_before_a_run_knob_existed_is_the_same_run(tmp_path):
    from jndlc_helpers.reproduce import RUN_KNOBS, ChainError, _start_manifest

    stored = {"profile": "quick", "max_steps": 70, "cell_timeout": 3600}
    older = {k: v for k, v in stored.items() if k not in RUN_KNOBS}
    path = tmp_path / "run" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"profile": "quick", "params": older, "notebooks": {"01.ipynb": {"status": "done"}}}))
    manifest = _start_manifest(path, "quick", stored, force=False)
    assert manifest["notebooks"] and manifest["params"] == stored  # kept, now recording the knob
    with pytest.raises(ChainError, match=r"changed: \['max_steps'\]"):
        _start_manifest(path, "quick", {**stored, "max_steps": 140}, force=False)


def test_the_smoke_chain_trains_and_evaluates_the_weconv_architecture(smoke_run):
    """``-p architecture=weconv-mean-scale-hyperprior``: a base model trained on the fly,
    fine-tuned, evaluated through real bitstreams (the evaluator checks the round trip).
    The notebooks that touch a model (02, 03), on a grid of one quality, with the data of
    the smoke run; the rest of the chain reads tables the same whatever the architecture."""
    from jndlc_helpers.vocab import WECONV

    tmp = smoke_run[0].parent
    overrides = {"data_root": str(tmp / "data"), "architecture": WECONV, "pretrained": str(tmp / "weconv-base"),
                 "pretrain_steps": 5, "metrics": ["mse"], "qualities": [4], "losses": ["baseline"]}
    run_dir = R.reproduce("smoke", run_dir=tmp / "weconv", overrides=overrides, progress=False, html=False,
                          figures_dir=None, notebooks=R.NOTEBOOKS[1:3])
    meta = json.loads((run_dir / "models" / "baseline-mse-q4" / "config.json").read_text())
    assert meta["config"]["architecture"] == WECONV
    assert meta["init"]["source"].endswith("baseline-mse-q4/checkpoint.pth.tar")
    assert json.loads((tmp / "weconv-base" / "baseline-mse-q4" / "done.json").read_text())["steps"] == 5
    rd = pd.read_csv(run_dir / "results" / "rd.csv")
    learned = rd[rd.family == "mse"]
    assert set(learned["method"]) == {"baseline-pretrained", "baseline"} and set(learned["quality"]) == {4}
    assert (learned["bpp"] > 0).all() and learned["psnr"].map(math.isfinite).all()


def test_an_architecture_starts_from_its_own_base_models(tmp_path, monkeypatch):
    from jndlc_helpers.vocab import WECONV

    monkeypatch.setenv("JNDLC_ROOT", str(tmp_path))  # a checkout without WeConv base models
    smoke = R.resolve_params("smoke", {"architecture": WECONV})
    assert R.display_path(smoke["pretrained"]) == "data/pretrained/smoke-weconv" and smoke["pretrain_steps"] == 50
    with pytest.raises(R.ParameterError, match=r"quick-corpus-weconv: no weconv-mean-scale-hyperprior base models.*"
                                               r"pretrain --profile quick-weconv"):
        R.reproduce("quick", run_dir=tmp_path / "run", overrides={"architecture": WECONV})
    with pytest.raises(R.ParameterError, match="zoo has no weights for architecture='weconv"):
        R.resolve_params("paper", {"architecture": WECONV})
    assert R.resolve_params("paper", {"architecture": WECONV, "pretrained": "scratch"})["pretrained"] == "scratch"
    (tmp_path / "mine").mkdir()
    mine = R.resolve_params("standard", {"architecture": WECONV, "pretrained": str(tmp_path / "mine")})
    assert mine["pretrained"] == str(tmp_path / "mine") and mine["pretrain_steps"] == 1500
    assert not (tmp_path / "run").exists()
    assert R.default_run_dir("smoke", WECONV) == tmp_path / "runs" / f"smoke-{WECONV}"
    assert R.default_run_dir("smoke", "scale-hyperprior") == R.default_run_dir("smoke") == tmp_path / "runs" / "smoke"


def test_only_some_notebooks_by_number_in_chain_order():
    assert R.select_notebooks(None) == R.NOTEBOOKS
    assert R.select_notebooks(["05", "3", "04_bd_rate", "01_prepare_data.ipynb"]) == (
        "01_prepare_data.ipynb", "03_rd_evaluation.ipynb", "04_bd_rate.ipynb", "05_bs_jnd.ipynb")
    with pytest.raises(R.ParameterError, match="--only '09': no such notebook"):
        R.select_notebooks(["09"])
