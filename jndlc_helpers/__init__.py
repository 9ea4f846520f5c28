"""jndlc: JND-based perceptual learned image compression, reproduced.

The flow of the paper, one subpackage per stage: ``data`` (JND pairs, splits, the
embedded set) -> ``codec`` (models, losses, training) -> ``evaluation`` (metrics, RD
points, BD-rate, BS_JND) -> ``report`` (figures, tables, widgets); ``jpeg`` takes the
JND losses to standard JPEG (a preprocessor before an unchanged encoder). ``config`` holds
the profiles, ``pipeline`` the steps the notebooks call, ``replicated`` the standard
profile's grid of seeds and its results store, ``reproduce`` runs the notebook chain,
``files`` the small file helpers.
"""
from __future__ import annotations

import importlib
from types import ModuleType

# The modules' homes; ``from jndlc_helpers import losses`` (the flat layout of 0.1) still works.
_MOVED = {
    **dict.fromkeys(("pairs", "split", "convert", "embedded", "labellers", "kodak", "corpus"), "data"),
    **dict.fromkeys(("models", "losses", "features", "checkpoint", "train", "grid"), "codec"),
    **dict.fromkeys(("metrics", "evaluate", "bdrate", "bsjnd", "basecheck"), "evaluation"),
    **dict.fromkeys(("figures", "tables", "widgets"), "report"),
}


def __getattr__(name: str) -> ModuleType:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(f"{__name__}.{_MOVED[name]}.{name}")
