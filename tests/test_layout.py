"""The package's layout: subpackages by concept, light to import, short functions."""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import jndlc_helpers

PACKAGE = Path(jndlc_helpers.__file__).parent
SUBPACKAGES = ("data", "codec", "evaluation", "report", "jpeg")
MAX_FUNCTION_LINES = 80


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "split these functions: " + "; ".join(long)


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_subpackage_exports_resolve(name):
    package = importlib.import_module(f"jndlc_helpers.{name}")
    assert package.__doc__ and package.__all__
    for export in package.__all__:
        value = getattr(package, export)
        assert getattr(value, "__module__", package.__name__).startswith(package.__name__), export
    with pytest.raises(AttributeError, match="no attribute"):
        getattr(package, "no_such_name")


def test_subpackages_import_without_torch():
    code = ("import sys, jndlc_helpers.data, jndlc_helpers.codec, jndlc_helpers.evaluation, "
            "jndlc_helpers.report; print(sorted(m for m in ('torch', 'compressai') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_flat_module_names_still_import():
    from jndlc_helpers import losses, widgets

    assert losses is importlib.import_module("jndlc_helpers.codec.losses")
    assert widgets is importlib.import_module("jndlc_helpers.report.widgets")
    with pytest.raises(ImportError):
        from jndlc_helpers import no_such_module  # noqa: F401
