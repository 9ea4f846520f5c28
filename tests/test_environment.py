"""requirements.lock, pyproject.toml and environment.yml agree (offline: files only).

pyproject.toml declares the dependencies; requirements.lock (``make lock``) pins the
whole resolved set, transitive packages included; ``make setup`` installs from it. These
tests fail when one is edited without the other: a dependency added, removed or
re-ranged in pyproject.toml with no ``make lock`` after it, or a lock edited by hand.
"""
from __future__ import annotations

import platform
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
PYPROJECT = ROOT / "pyproject.toml"
ENV_YML = ROOT / "environment.yml"
MAKEFILE = ROOT / "Makefile"
PROJECT = "jndlc"
FROM_PYPROJECT = f"{PROJECT} (pyproject.toml)"  # how the lock's annotations name a declared dependency
CONDA_ONLY = {"python", "pip", "ffmpeg"}  # what environment.yml takes from conda, not from the lock
RELOCK = "run `make lock` and commit requirements.lock"


@dataclass
class Pin:
    name: str  # canonical
    version: str
    via: set[str] = field(default_factory=set)  # canonical names, or FROM_PYPROJECT
    line: int = 0


def parse_lock(text: str) -> dict[str, Pin]:
    """`name==version` lines and their `# via` annotations (uv's and pip-compile's
    one-line and split styles). Anything else that isn't a comment is an error."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            body = line[1:].strip()
            if current is None:
                continue  # the header
            if body.startswith("via"):
                rest = body[3:].strip()
                in_via = not rest
                if rest:
                    current.via.add(_via_name(rest))
            elif in_via and body:
                current.via.add(_via_name(body))
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if not m:
            raise AssertionError(f"{LOCK.name}:{n}: not an exact `name==version` pin: {raw!r}")
        name = canonicalize_name(m[1])
        if name in pins:
            raise AssertionError(f"{LOCK.name}:{n}: {name} pinned twice (also line {pins[name].line})")
        current = pins[name] = Pin(name, m[2], line=n)
        in_via = False
    return pins


def _via_name(text: str) -> str:
    if text == FROM_PYPROJECT:
        return FROM_PYPROJECT
    if text.startswith(("-r ", "-c ")):
        return text  # a requirements or constraints file: reported by the tests below
    return canonicalize_name(text)


def declared() -> dict[str, Requirement]:
    """pyproject.toml's dependencies and its dev extra (what `make setup` installs)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]]
    return {canonicalize_name(r.name): r for r in reqs}


def lock_python() -> str:
    m = re.search(r"^LOCK_PYTHON\s*:?=\s*(\S+)", MAKEFILE.read_text(), re.M)
    assert m, "Makefile: no LOCK_PYTHON (the Python the lock is resolved for)"
    return m[1]


@pytest.fixture(scope="module")
def pins() -> dict[str, Pin]:
    assert LOCK.is_file(), f"{LOCK.name} missing: {RELOCK}"
    return parse_lock(LOCK.read_text())


def test_every_declared_dependency_is_locked_within_its_range(pins):
    problems = []
    for name, req in declared().items():
        if name not in pins:
            problems.append(f"{req} is declared in pyproject.toml but not in {LOCK.name}")
        elif not req.specifier.contains(pins[name].version, prereleases=True):
            problems.append(f"{req} is declared in pyproject.toml but {LOCK.name} pins {name}=={pins[name].version}")
        elif req.extras:
            problems.append(f"{req}: extras are not checked against the lock; list what they bring instead")
    assert not problems, "\n".join(problems) + f"\n{RELOCK}"


def test_the_lock_says_the_same_packages_come_from_pyproject(pins):
    """The lock's `via jndlc (pyproject.toml)` set is pyproject.toml's list: a dependency
    dropped from pyproject.toml (its pin left behind) or added to it fails here."""
    from_pyproject = {name for name, pin in pins.items() if FROM_PYPROJECT in pin.via}
    names = set(declared())
    assert from_pyproject == names, (
        f"declared in pyproject.toml, not so in {LOCK.name}: {sorted(names - from_pyproject)}; "
        f"in {LOCK.name} as from pyproject.toml, no longer declared: {sorted(from_pyproject - names)}. {RELOCK}")


def test_every_locked_package_is_needed_by_something_locked(pins):
    problems = []
    for pin in pins.values():
        if not pin.via:
            problems.append(f"{pin.name}=={pin.version} (line {pin.line}) has no `# via`: hand-edited?")
        for parent in pin.via - {FROM_PYPROJECT}:
            if parent not in pins:
                problems.append(f"{pin.name}=={pin.version} is there for {parent}, which is not locked")
    assert not problems, "\n".join(problems) + f"\n{RELOCK}"


def test_the_lock_pins_torch_to_what_pip_finds_on_the_project_machines(pins):
    # torch and torchvision must move together (compressai imports torchvision, and a
    # mismatched pair fails at import); these are the pair the published results used.
    assert (pins["torch"].version, pins["torchvision"].version) == ("2.14.1", "0.29.1")


def test_the_lock_names_no_machine_paths(pins):
    text = LOCK.read_text()
    assert not re.search(r"(^|\s)(/|[A-Za-z]:\\)\S", text), \
        f"{LOCK.name} names an absolute path: regenerate it with `make lock`"


def test_environment_yml_installs_the_lock():
    env = yaml.safe_load(ENV_YML.read_text())
    deps = env["dependencies"]
    conda = [d for d in deps if isinstance(d, str)]
    pip_lines = next((d["pip"] for d in deps if isinstance(d, dict) and "pip" in d), None)
    assert pip_lines is not None, "environment.yml has no pip section"
    assert f"-r {LOCK.name}" in pip_lines, f"environment.yml's pip section must install `-r {LOCK.name}`"
    python = [d for d in conda if re.match(r"python\s*[=<>]", d)]
    major_minor = ".".join(lock_python().split(".")[:2])
    assert python == [f"python={major_minor}"], \
        f"environment.yml asks for {python}, the lock is resolved for Python {lock_python()}"
    # Conda brings Python, pip and the ffmpeg program only: a Python package from conda as
    # well as from the lock would have two versions fighting. (PyPI's `ffmpeg`, in the lock
    # through cvvdp, is an unrelated Python package of the same name.)
    others = [d for d in conda if re.split(r"[=<>!\s]", d)[0] not in CONDA_ONLY]
    assert not others, f"environment.yml installs {others} from conda: Python packages come from {LOCK.name}"
    pins = parse_lock(LOCK.read_text())
    for line in pip_lines:
        if line.startswith("-"):
            continue
        assert canonicalize_name(Requirement(line).name) in pins, f"environment.yml pip: {line} is not locked"


ON_LOCKED_PLATFORM = (sys.platform == "linux" and platform.machine() == "x86_64"
                      and sys.version_info[:2] == tuple(int(p) for p in lock_python().split(".")[:2]))


@pytest.mark.skipif(not ON_LOCKED_PLATFORM, reason=f"the lock is for CPython {lock_python()} on Linux x86_64")
def test_the_running_environment_is_the_lock(pins):
    """The tests run on the versions the lock names (`make setup` installs them)."""
    problems = []
    for pin in pins.values():
        try:
            installed = metadata.version(pin.name)
        except metadata.PackageNotFoundError:
            problems.append(f"{pin.name}=={pin.version} is not installed")
            continue
        if Version(installed).public != Version(pin.version).public:
            problems.append(f"{pin.name} {installed} installed, {pin.version} locked")
    assert not problems, "\n".join(problems) + "\n`rm -r .venv && make setup` installs the lock"


# The parser itself, on the shapes it must read and reject.

SAMPLE = """\
# This file was autogenerated by uv via the following command:
#    make lock
compressai==1.2.8
    # via jndlc (pyproject.toml)
numpy==1.26.4
    # via
    #   jndlc (pyproject.toml)
    #   compressai
"""


def test_parse_lock_reads_both_annotation_styles():
    pins = parse_lock(SAMPLE)
    assert {n: (p.version, p.via) for n, p in pins.items()} == {
        "compressai": ("1.2.8", {FROM_PYPROJECT}),
        "numpy": ("1.26.4", {FROM_PYPROJECT, "compressai"}),
    }


@pytest.mark.parametrize("bad", ["numpy>=1.26\n", "-e .\n", "numpy==1.26.4\nNumPy==1.26.4\n",
                                 "torch @ https://example.org/torch.whl\n"])
def test_parse_lock_rejects_what_is_not_one_exact_pin(bad):
    with pytest.raises(AssertionError, match=r"requirements\.lock:\d+"):
        parse_lock(bad)
