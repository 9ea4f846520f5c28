"""Write one benchmark result file as described in DESIGN.md ("Conventions")."""
from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from jndlc_helpers.files import write_json  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    """A short description of where the benchmark ran."""
    cpu = platform.processor() or platform.machine()
    try:
        import torch

        if torch.cuda.is_available():
            return f"{torch.cuda.get_device_name(0)}; {os.cpu_count()} CPU cores"
    except ImportError:
        pass
    return f"{cpu}, {os.cpu_count()} CPU cores, {platform.system()}"


def no_nan(obj):
    """NaN or infinity (a BD-rate that cannot be computed) as null: results stay plain JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [no_nan(v) for v in obj]
    return obj


def write_result(
    name: str,
    metric: str,
    unit: str,
    value: float | None,
    baseline: str,
    baseline_value: float,
    higher_is_better: bool,
    command: str,
    **extra,
) -> Path:
    """Write benchmarks/results/<name>.json; ratio = value / baseline_value."""
    result = {
        "name": name,
        "metric": metric,
        "unit": unit,
        "value": value,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": value / baseline_value if value is not None and baseline_value else None,
        "higher_is_better": higher_is_better,
        "machine": machine(),
        "date": _dt.date.today().isoformat(),
        "command": command,
        **extra,
    }
    return write_json(RESULTS / f"{name}.json", result)
