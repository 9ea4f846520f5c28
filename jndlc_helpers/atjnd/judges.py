"""Two judges of "within the JND".

(a) The labels' criterion: ColorVideoVDP JOD >= 10 - tau on the labeller's display, and,
    as BS_JND reads it, PSNR >= the PSNR of the image's JND image.
(b) An independent one: butteraugli's max-norm <= 1.0 (its own "just noticeable" unit;
    Debian's ``butteraugli_main`` from ``libjxl-devtools``), or where that program is
    missing SSIMULACRA2 >= 80 (the ``ssimulacra2`` package; its authors' scale: 80 is
    "impossible to distinguish from the original side by side at 1:1").
"""
from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

BUTTERAUGLI = "butteraugli_main"
THRESHOLDS = {"butteraugli": 1.0, "ssimulacra2": 80.0}
LOWER_IS_BETTER = {"butteraugli": True, "ssimulacra2": False}


def second_judge() -> str:
    """"butteraugli" where Debian's program is installed, else "ssimulacra2"."""
    return "butteraugli" if shutil.which(BUTTERAUGLI) else "ssimulacra2"


def _pngs(tmp: str, ref: np.ndarray, test: np.ndarray) -> tuple[Path, Path]:
    from PIL import Image

    paths = Path(tmp) / "ref.png", Path(tmp) / "test.png"
    for path, rgb in zip(paths, (ref, test)):
        Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(path, compress_level=1)
    return paths


def butteraugli(ref: np.ndarray, test: np.ndarray) -> float:
    """Butteraugli's max-norm distance (``butteraugli_main``'s first number)."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = _pngs(tmp, ref, test)
        out = subprocess.run([BUTTERAUGLI, str(a), str(b)], capture_output=True, text=True, check=True).stdout
    m = re.match(r"\s*([0-9.eE+-]+)", out)
    if not m:
        raise RuntimeError(f"{BUTTERAUGLI}: unexpected output {out[:80]!r}")
    return float(m[1])


def ssimulacra2(ref: np.ndarray, test: np.ndarray) -> float:
    """SSIMULACRA2 score (100: identical)."""
    from ssimulacra2 import compute_ssimulacra2

    with tempfile.TemporaryDirectory() as tmp:
        a, b = _pngs(tmp, ref, test)
        return float(compute_ssimulacra2(str(a), str(b)))


def second_score(judge: str, ref: np.ndarray, test: np.ndarray) -> float:
    return {"butteraugli": butteraugli, "ssimulacra2": ssimulacra2}[judge](ref, test)


def second_within(judge: str, score: float) -> bool:
    """Whether ``score`` is within the JND by the second judge."""
    limit = THRESHOLDS[judge]
    return bool(score <= limit if LOWER_IS_BETTER[judge] else score >= limit)
