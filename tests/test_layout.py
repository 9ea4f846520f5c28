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
SUBPACKAGES = ("data", "codec", "evaluation", "report", "jpeg", "atjnd")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = {"codec/train.py": 350, "pipeline.py": 250}


def _modules() -> dict[str, Path]:
    """{dotted name: file} of every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Which of the package's modules each module imports, at any depth (imports inside
    functions count: a lazy import is still a dependency)."""
    modules, graph = _modules(), {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else node.module or ""
                for alias in node.names:
                    target = f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    edges.add(target)
            elif isinstance(node, ast.Import):
                edges.update(alias.name for alias in node.names)
        graph[name] = {e for e in edges if e in modules and e != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, found = {}, {}, [], []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    assert "jndlc_helpers.codec.runconfig" in graph["jndlc_helpers.codec.train"]  # the graph sees relative imports
    assert "jndlc_helpers.codec.train" in graph["jndlc_helpers.codec.grid"]
    assert not cycles(graph), cycles(graph)


def test_no_function_is_longer_than_60_lines_and_none_copies_its_locals():
    long, copies = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({lines} lines)")
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "locals":
                copies.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert not long, "split these functions: " + "; ".join(long)
    assert not copies, "pass a typed configuration, not locals(): " + "; ".join(copies)


@pytest.mark.parametrize("module, limit", sorted(MAX_MODULE_LINES.items()))
def test_the_training_loop_and_the_pipeline_stay_short(module, limit):
    assert len((PACKAGE / module).read_text().splitlines()) < limit


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
