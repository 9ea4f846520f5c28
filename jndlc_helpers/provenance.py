"""Where a result came from: the checkout's commit and the package versions."""
from __future__ import annotations

import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "torchvision", "compressai", "pytorch-msssim", "bjontegaard", "cvvdp", "numpy", "pandas",
            "Pillow", "scikit-image", "papermill", "matplotlib", "jndlc")


def git_commit(root: Path | None = None) -> str | None:
    """The checkout's commit (with '+dirty' when it has changes), or None outside git."""
    cwd = root or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True,
                               check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return sha + ("+dirty" if dirty else "")


def versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Python's and each package's version (None when not installed)."""
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
