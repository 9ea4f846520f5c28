"""Run the numbered notebooks in order with papermill: the whole reproduction.

A run lives in one folder (``runs/<profile>`` by default) holding ``params.json`` (the
resolved knobs, the single source of truth every notebook reads), the executed
notebooks and their HTML, results, figures and ``manifest.json`` (profile, parameters,
git commit, package versions, time per notebook). A run stopped midway resumes at the
first unfinished notebook; ``force=True`` redoes everything.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from . import config, vocab
from .files import PACKAGE_PARENT, read_json, write_json, write_text
from .provenance import git_commit, versions

NOTEBOOKS = (
    "01_prepare_data.ipynb",
    "02_train.ipynb",
    "03_rd_evaluation.ipynb",
    "04_bd_rate.ipynb",
    "05_bs_jnd.ipynb",
    "06_visual_comparison.ipynb",
    "07_jpeg_preprocessing.ipynb",
    "08_at_jnd.ipynb",
)


def select_notebooks(numbers: list[str] | None) -> tuple[str, ...]:
    """The chain's notebooks named by number ("03") or name; all of them for None.
    The standard profile rebuilds its tables from the committed store with 01 03 04 05,
    without training."""
    if not numbers:
        return NOTEBOOKS
    picked = []
    for n in numbers:
        match = [nb for nb in NOTEBOOKS if nb.split("_")[0] == n.zfill(2) or nb.removesuffix(".ipynb") == n
                 or nb == n]
        if not match:
            raise ParameterError(f"--only {n!r}: no such notebook; choose among "
                                 f"{', '.join(nb.split('_')[0] for nb in NOTEBOOKS)}")
        picked.append(match[0])
    return tuple(nb for nb in NOTEBOOKS if nb in picked)


# Knobs that name files or folders: made absolute before any notebook sees them.
PATH_KNOBS = ("data_root", "unlabelled_root", "kodak_root", "pretrained")


# Knobs that say how the chain runs, not what it computes: a run folder made before one
# existed, or with another value, is the same run.
RUN_KNOBS = ("cell_timeout",)


class ChainError(RuntimeError):
    """A notebook of the chain failed; the message names the notebook and cell."""


class ParameterError(ValueError):
    """A knob no notebook can use; raised before anything runs, naming the knob."""


def project_root() -> Path:
    """The checkout holding ``notebooks/`` (JNDLC_ROOT overrides)."""
    if os.environ.get("JNDLC_ROOT"):
        return Path(os.environ["JNDLC_ROOT"]).resolve()
    here = PACKAGE_PARENT
    if (here / "notebooks").is_dir():
        return here
    return Path.cwd().resolve()


def resolve_path(value: Any, root: Path | None = None) -> Any:
    """Absolute path for a relative one (relative to the project root); other values pass."""
    if not isinstance(value, str) or value in ("", "zoo", "scratch"):
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (root or project_root()) / p)


def resolve_params(profile: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Profile defaults + overrides, with every path knob absolute. Unknown keys raise."""
    params = config.profile(profile, **(overrides or {}))
    check_pretrained(params)
    for key in PATH_KNOBS:
        params[key] = resolve_path(params[key])
    check_pretrained(params)
    return params


def check_pretrained(params: dict[str, Any]) -> None:
    """Refuse a ``pretrained`` that 02 cannot use: it must be "zoo" (for an architecture
    of CompressAI's zoo), "scratch", an existing folder of base models or checkpoint
    file, or a new folder that the profile fills with base models (``pretrain_steps`` set)."""
    value, arch = params.get("pretrained"), params.get("architecture")
    if value == "zoo" and arch not in vocab.ZOO_ARCHITECTURES:
        raise ParameterError(f"pretrained='zoo': CompressAI's zoo has no weights for architecture={arch!r}; "
                             "use -p pretrained=scratch or a folder of its base models")
    if value in ("zoo", "scratch"):
        return
    usable = isinstance(value, str) and value.strip().lower() not in ("", "none", "null", "false", "true")
    if usable and (Path(resolve_path(value)).exists() or params.get("pretrain_steps")):
        return
    recipe = config.pretrain_recipe_of(value) if usable else None
    if recipe:
        raise ParameterError(f"pretrained={display_path(value)}: no {arch} base models there yet; train them with "
                             f"`python -m jndlc_helpers pretrain --profile {recipe}` (config.PRETRAIN[{recipe!r}]), "
                             "or pass -p pretrained=... (a folder of base models, or scratch)")
    why = ("" if not usable else f"; {value} does not exist, and profile {params.get('profile')!r} trains no "
           "base models into a new folder (pretrain_steps is None)")
    raise ParameterError(f"pretrained={value!r}: use 'zoo' (CompressAI's weights), 'scratch' (random "
                         f"initialisation) or an existing folder of base models or checkpoint file{why}")


def portable(params: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """``params`` as written to params.json and manifest.json: path knobs relative to
    the run folder (no machine's absolute path in a run's files), without run_dir."""
    out = {k: v for k, v in params.items() if k != "run_dir"}
    for key in PATH_KNOBS:
        v = out.get(key)
        if isinstance(v, str) and v not in ("", "zoo", "scratch") and Path(v).is_absolute():
            out[key] = os.path.relpath(v, run_dir)
    return out


def localise(params: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """The inverse of ``portable``: path knobs absolute again, run_dir set."""
    out = dict(params)
    for key in PATH_KNOBS:
        out[key] = resolve_path(out.get(key), run_dir)
        if isinstance(out[key], str) and out[key] not in ("", "zoo", "scratch"):
            out[key] = os.path.normpath(out[key])
    out["run_dir"] = str(run_dir)
    return out


def run_provenance(params: dict[str, Any]) -> dict[str, Any]:
    """The provenance of a run's tables and figures (``config.provenance``, without machine
    paths), naming the JOD display model when JOD is computed."""
    shown = {k: display_path(params.get(k), params.get("run_dir")) if params.get(k) else params.get(k)
             for k in ("data_root", "unlabelled_root", "pretrained")}
    out = config.provenance({**params, **shown})
    if params.get("jod"):
        from .evaluation.bsjnd import jod_threshold
        from .evaluation.evaluate import JOD_DISPLAY

        out["jod_display"] = JOD_DISPLAY
        out["jod_threshold"] = jod_threshold(params["jnd_tau"])
    return out


def display_path(path: Any, run_dir: str | os.PathLike | None = None) -> str:
    """A path as tables and captions show it: relative to the project root when inside
    it, else relative to the run folder."""
    if not isinstance(path, str) or not Path(path).is_absolute():
        return str(path)
    p = Path(path)
    try:
        return str(p.relative_to(project_root()))
    except ValueError:
        return os.path.relpath(p, run_dir) if run_dir else p.name


def default_run_dir(profile: str, architecture: str | None = None) -> Path:
    return project_root() / "runs" / config.default_folder_name(profile, architecture)


def load_run_params(profile: str, run_dir: str | os.PathLike | None, **knobs: Any) -> dict[str, Any]:
    """What a notebook works with: the run's ``params.json`` (or the profile's
    defaults when the notebook runs on its own), then the notebook's non-None knobs.

    Writes ``params.json`` when the run has none yet, so later notebooks agree. A
    notebook run by hand with changed knobs also rewrites it and marks every
    notebook of the chain stale in ``manifest.json``, so that a later ``reproduce``
    redoes them instead of trusting results made with other knobs.
    """
    run_dir = (Path(run_dir) if run_dir else default_run_dir(profile)).resolve()
    path = run_dir / "params.json"
    params = localise(read_json(path), run_dir) if path.exists() else resolve_params(profile)
    if params["profile"] != profile:
        raise ValueError(f"{path} belongs to profile {params['profile']!r}, not {profile!r}")
    overrides = {k: v for k, v in knobs.items() if v is not None}
    unknown = sorted(set(overrides) - set(params))
    if unknown:
        raise KeyError(f"unknown parameter(s) {unknown}; known: {sorted(params)}")
    changed = {k: resolve_path(v) if k in PATH_KNOBS else v for k, v in overrides.items()}
    changed = {k: v for k, v in changed.items() if params[k] != v}
    params.update(changed)
    check_pretrained(params)
    params["run_dir"] = str(run_dir)
    if changed or not path.exists():  # later notebooks (and provenance labels) see the same knobs
        write_json(path, portable(params, run_dir))
    if changed:
        mark_stale(run_dir, sorted(changed))
    return params


def mark_stale(run_dir: Path, knobs: list[str]) -> None:
    """Mark every finished notebook of the run stale: its results predate ``knobs``."""
    path = run_dir / "manifest.json"
    if not path.exists():
        return
    manifest = read_json(path)
    for entry in manifest.get("notebooks", {}).values():
        if entry.get("status") == "done":
            entry["status"] = "stale"
    manifest["changed_by_hand"] = sorted(set(manifest.get("changed_by_hand", [])) | set(knobs))
    write_json(path, manifest)


def environment() -> dict[str, Any]:
    """Commit, package versions and machine: what a manifest records."""
    device = "cpu"
    try:
        import torch

        if torch.cuda.is_available():
            device = f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    except ImportError:
        pass
    return {
        "git_commit": git_commit(project_root()),
        "packages": versions(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
        "device": device,
    }


def _export_html(notebook: Path) -> Path | None:
    """The executed notebook as HTML beside it (None if nbconvert is missing)."""
    try:
        import nbformat
        from nbconvert import HTMLExporter
    except ImportError:
        return None
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text(notebook.with_suffix(".html"), body)


def _cell_of(executed: Path, source: Path, exec_count: int | None) -> str:
    """The failing cell as the user sees it: its number (from 1) in the source
    notebook and its first line."""
    try:
        import nbformat

        failed = next(c for c in nbformat.read(executed, as_version=4).cells
                      if c.cell_type == "code" and (c.get("execution_count") == exec_count or any(
                          o.get("output_type") == "error" for o in c.get("outputs", []))))
        cells = nbformat.read(source, as_version=4).cells
        number = next(i for i, c in enumerate(cells, 1) if c.source == failed.source)
        first = failed.source.strip().splitlines()[0] if failed.source.strip() else ""
        return f"cell {number} of {len(cells)} (In [{exec_count}]: {first[:60]})"
    except (StopIteration, OSError, ValueError):  # still say what we know
        return f"cell In [{exec_count}]"


def reproduce(
    profile: str = "quick",
    run_dir: str | os.PathLike | None = None,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    cell_timeout: int | None | str = "profile",
    progress: bool = True,
    html: bool = True,
    figures_dir: str | os.PathLike | None = "default",
    notebooks: tuple[str, ...] = NOTEBOOKS,
) -> Path:
    """Execute ``notebooks`` in order for ``profile``; returns the run folder.

    ``figures_dir="default"`` copies the run's figures and tables to ``figures/<profile>/``
    (``<profile>-<architecture>`` for another architecture, as the run folder); ``None``: nowhere.
    ``cell_timeout``: seconds per cell, None for no limit, "profile" for the profile's
    ``cell_timeout`` knob.
    A failing cell (an exception, a timeout, a dead kernel) stops the chain with a
    ``ChainError`` of one line naming notebook and cell, also kept in ``manifest.json``.
    """
    params = resolve_params(profile, overrides)  # unknown knobs fail before anything runs
    if cell_timeout == "profile":
        cell_timeout = params["cell_timeout"]
    run_dir = Path(run_dir).resolve() if run_dir else default_run_dir(profile, params["architecture"])
    root = project_root()
    params["run_dir"] = str(run_dir)
    manifest_path = run_dir / "manifest.json"
    manifest = _start_manifest(manifest_path, profile, portable(params, run_dir), force)

    _kernel_environment()
    out_dir = run_dir / "notebooks"
    for i, name in enumerate(notebooks, 1):
        entry = manifest["notebooks"].get(name, {})
        if entry.get("status") == "done":
            print(f"[{i}/{len(notebooks)}] {name}: done already ({entry['seconds']:.0f} s), skipped")
            continue
        print(f"[{i}/{len(notebooks)}] {name} ...", flush=True)
        out = out_dir / name
        out.parent.mkdir(parents=True, exist_ok=True)
        start = time.time()
        source = root / "notebooks" / name
        parameters = {"profile": profile, "run_dir": str(run_dir), "progress": progress}
        error = _execute(source, out, parameters, cell_timeout, progress)
        if error is not None:
            _fail(manifest, manifest_path, name, start, f"{name} {error}" if error != "the kernel died" else
                  dead_kernel_message(name, manifest, profile, run_dir, _running_cell(out, source)))
        seconds = time.time() - start
        if html:
            _export_html(out)
        manifest["notebooks"][name] = {"status": "done", "seconds": round(seconds, 1)}
        write_json(manifest_path, manifest)
        print(f"[{i}/{len(notebooks)}] {name}: {seconds:.0f} s", flush=True)

    manifest["total_seconds"] = round(sum(v["seconds"] for v in manifest["notebooks"].values()), 1)
    write_json(manifest_path, manifest)
    if figures_dir == "default":
        figures_dir = root / "figures" / config.default_folder_name(profile, params["architecture"])
    if figures_dir is not None:
        publish_figures(run_dir / "figures", Path(figures_dir))
    return run_dir


def _kernel_environment() -> None:
    """The notebooks' kernel must be this interpreter (the venv's), whatever PATH says,
    and draw without a display."""
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault("MPLBACKEND", "Agg")


def _execute(source: Path, out: Path, parameters: dict[str, Any], cell_timeout: int | None,
             progress: bool) -> str | None:
    """Run one notebook with papermill; None, or why it failed ("failed in cell ...",
    "timed out in cell ...", "the kernel died"), naming the cell."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    declared = pm.inspect_notebook(str(source))
    try:
        pm.execute_notebook(
            str(source), str(out), parameters={k: v for k, v in parameters.items() if k in declared},
            kernel_name="python3", cwd=str(source.parent), execution_timeout=cell_timeout, progress_bar=False,
            # the notebooks' printed lines (one per finished training run) reach the terminal
            stdout_file=sys.stdout if progress else None,
        )
    except DeadKernelError:
        return "the kernel died"
    except CellTimeoutError:
        return (f"timed out in {_running_cell(out, source)} after {cell_timeout} s (--cell-timeout); "
                "finished training runs and evaluated rows are kept, rerun to resume")
    except pm.PapermillExecutionError as e:
        return (f"failed in {_cell_of(out, source, e.exec_count)}: {e.ename}: {_one_line(e.evalue)}"
                f" (executed notebook: {out})")
    except Exception as e:  # the kernel would not start, the notebook would not save, ...
        return f"stopped in {_running_cell(out, source)}: {type(e).__name__}: {_one_line(e)}"
    return None


def _fail(manifest: dict[str, Any], path: Path, name: str, start: float, message: str) -> None:
    """Record a failed notebook and its one-line reason in the manifest, then raise it."""
    manifest["notebooks"][name] = {"status": "failed", "seconds": round(time.time() - start, 1), "error": message}
    write_json(path, manifest)
    raise ChainError(message) from None


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _running_cell(executed: Path, source: Path) -> str:
    """The cell papermill was running when execution stopped (the last one it started):
    "cell k of n (first line)", numbered in the source notebook."""
    try:
        import nbformat

        running = [c for c in nbformat.read(executed, as_version=4).cells if c.cell_type == "code"
                   and c.get("metadata", {}).get("papermill", {}).get("start_time")][-1]
        cells = nbformat.read(source, as_version=4).cells
        number = next(i for i, c in enumerate(cells, 1) if c.source == running.source)
        first = running.source.strip().splitlines()[0] if running.source.strip() else ""
        return f"cell {number} of {len(cells)} ({first[:60]})"
    except (StopIteration, IndexError, OSError, ValueError):
        return "an unknown cell"


def _start_manifest(path: Path, profile: str, stored: dict[str, Any], force: bool) -> dict[str, Any]:
    """The run folder's manifest, kept when it holds a run with the same parameters
    (its finished notebooks are skipped), started afresh with ``force``."""
    run_dir = path.parent
    manifest = read_json(path) if path.exists() and not force else {}
    changed = sorted(k for k in set(stored) | set(manifest.get("params", {}))
                     if k not in RUN_KNOBS and manifest["params"].get(k) != stored.get(k)) if manifest else []
    if changed:
        raise ChainError(f"{run_dir} holds a run with other parameters; use another --run-dir or --force "
                         f"(changed: {changed})")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "params.json", stored)
    manifest = {**manifest, "params": stored} if manifest else {"profile": profile, "params": stored, "notebooks": {}}
    manifest.pop("changed_by_hand", None)  # stale notebooks are redone below
    manifest["environment"] = environment()
    write_json(path, manifest)
    return manifest


def dead_kernel_message(name: str, manifest: dict[str, Any], profile: str, run_dir: Path,
                        cell: str = "an unknown cell") -> str:
    """One line for a kernel killed mid-notebook: which, where, what was kept, how to resume."""
    done = [n for n, e in manifest["notebooks"].items() if e.get("status") == "done"]
    kept = ", ".join(done) if done else "no finished notebook"
    return (f"{name}: the kernel died in {cell} (killed, or out of memory). Kept: {kept}; finished training runs and "
            f"evaluated rows in {run_dir.name}/ resume where they stopped. Resume with: python -m jndlc_helpers "
            f"reproduce --profile {profile} --run-dir {display_path(str(run_dir))}")


def publish_figures(src: Path, dest: Path) -> list[Path]:
    """Copy a run's figures and tables to ``dest`` (replacing older copies)."""
    if not src.is_dir():
        raise ChainError(f"the run wrote no figures: {src} is missing")
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for f in sorted(src.iterdir()):
        if f.is_file():
            copied.append(Path(shutil.copy2(f, dest / f.name)))
    return copied
