"""The notebooks: one parameters cell each, knobs the profiles know, no outputs in git,
and .ipynb and py:percent copies in step."""
import json
from pathlib import Path

import papermill as pm
import pytest

from jndlc_helpers import config
from jndlc_helpers.reproduce import NOTEBOOKS

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
VIEW_KNOBS = {"profile", "run_dir", "progress", "example_image", "target_bpp", "methods", "crop_box", "widget"}


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_one_parameters_cell_and_no_outputs(name):
    nb = json.loads((NB_DIR / name).read_text())
    tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{name}: {len(tagged)} cells tagged 'parameters'"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, f"{name} has outputs committed"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_knobs_are_profile_knobs(name):
    declared = pm.inspect_notebook(str(NB_DIR / name))
    knobs = set(declared) - VIEW_KNOBS
    assert knobs <= set(config.PROFILES["quick"]), f"{name}: unknown knobs {knobs - set(config.PROFILES['quick'])}"
    assert {"profile", "run_dir"} <= set(declared)
    for knob in knobs:  # None means "the profile's value"
        assert declared[knob]["default"] == "None", f"{name}: {knob} should default to None"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_paired_script_matches_notebook(name):
    import jupytext

    nb = jupytext.read(NB_DIR / name)
    py = jupytext.read(NB_DIR / name.replace(".ipynb", ".py"))
    assert [c.source for c in nb.cells] == [c.source for c in py.cells], f"{name} and its .py differ: jupytext --sync"
