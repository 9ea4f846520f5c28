"""Train/test split by source, so frames and resolutions of one source never straddle.

A stem's source comes from a regular expression (first group, or the whole match).
The default takes the text before the first "_": VideoSet-style stems such as
``SRC005_1080p_f0001`` belong to source ``SRC005``. A split is written to JSON, and
re-reading that file gives the same split.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from ..files import read_json, write_json
from .pairs import JND_DIR, REF_DIR, SPLITS, PairError, find_pairs

DEFAULT_SOURCE_PATTERN = r"^([^_]+)"  # text before the first "_"
WHOLE_STEM_PATTERN = r"^(.+)$"  # every image is its own source (picture datasets)


def source_of(stem: str, pattern: str = DEFAULT_SOURCE_PATTERN) -> str:
    """The source a stem belongs to: the pattern's first group (or whole match)."""
    m = re.search(pattern, stem)
    if m is None:
        raise ValueError(f"stem {stem!r} does not match the source pattern {pattern!r}")
    return m.group(1) if m.groups() else m.group(0)


def split_by_source(stems: Iterable[str], test_fraction: float = 0.2, seed: int = 0,
                    pattern: str = DEFAULT_SOURCE_PATTERN) -> dict[str, Any]:
    """Assign whole sources to train or test; ``test_fraction`` counts sources, not stems.

    The number of test sources is round(test_fraction * n_sources), kept within
    [1, n_sources - 1] when there are at least two sources and 0 < test_fraction < 1.
    Returns a JSON-able dict: train/test stems, train/test sources and the settings.
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    stems = sorted(set(stems))
    if not stems:
        raise ValueError("split_by_source: no stems to split")
    by_source: dict[str, list[str]] = {}
    for s in stems:
        by_source.setdefault(source_of(s, pattern), []).append(s)
    sources = sorted(by_source)
    n_test = int(round(test_fraction * len(sources)))
    if len(sources) >= 2 and 0.0 < test_fraction < 1.0:
        n_test = min(max(n_test, 1), len(sources) - 1)
    order = np.random.default_rng(seed).permutation(len(sources))
    test_sources = sorted(sources[i] for i in order[:n_test])
    train_sources = sorted(set(sources) - set(test_sources))
    return {
        "train": sorted(s for src in train_sources for s in by_source[src]),
        "test": sorted(s for src in test_sources for s in by_source[src]),
        "sources": {"train": train_sources, "test": test_sources},
        "test_fraction": test_fraction,
        "seed": seed,
        "pattern": pattern,
    }


def check_split(split: dict[str, Any], where: str = "split") -> dict[str, Any]:
    """Raise ``ValueError`` if a stem or a source is on both sides."""
    for key in ("train", "test"):
        if key not in split:
            raise ValueError(f"{where}: missing key {key!r}")
    both = set(split["train"]) & set(split["test"])
    if both:
        raise ValueError(f"{where}: stems on both sides: {sorted(both)[:5]}")
    pattern = split.get("pattern", DEFAULT_SOURCE_PATTERN)
    src_train = {source_of(s, pattern) for s in split["train"]}
    src_test = {source_of(s, pattern) for s in split["test"]}
    straddle = src_train & src_test
    if straddle:
        raise ValueError(f"{where}: sources on both sides: {sorted(straddle)[:5]}")
    return split


def save_split(path: str | os.PathLike, split: dict[str, Any]) -> Path:
    """Write a split as JSON (atomically)."""
    return write_json(path, check_split(split, str(path)))


def load_split(path: str | os.PathLike) -> dict[str, Any]:
    """Read a split written by :func:`save_split`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file not found: {path}")
    return check_split(read_json(path), str(path))


def load_or_make_split(path: str | os.PathLike, stems: Iterable[str], test_fraction: float = 0.2,
                       seed: int = 0, pattern: str = DEFAULT_SOURCE_PATTERN) -> dict[str, Any]:
    """Reuse the split at ``path`` if it covers ``stems``, else make one and write it there."""
    stems = sorted(set(stems))
    path = Path(path)
    if path.is_file():
        split = load_split(path)
        missing = sorted(set(stems) - set(split["train"]) - set(split["test"]))
        if missing:
            raise ValueError(f"{path}: split does not cover {len(missing)} stem(s), e.g. "
                             f"{missing[:3]}; delete it to make a new split")
        return split
    split = split_by_source(stems, test_fraction, seed, pattern)
    save_split(path, split)
    return split


def _place(src: Path, dst: Path, mode: str) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists():
        dst.unlink()
    if mode == "hardlink":
        try:
            os.link(src, dst)
            return
        except OSError:  # other file system, or links not allowed: fall back to a copy
            pass
    shutil.copy2(src, dst)


def layout_pairs(src: str | os.PathLike, out_root: str | os.PathLike, split: dict[str, Any],
                 mode: str = "copy") -> Path:
    """Lay out a flat pair folder ``src/{Ref,JND1}`` as ``out_root/{train,test}/{Ref,JND1}``.

    ``mode`` is "copy" or "hardlink" (falls back to a copy across file systems).
    Every pair must be in the split, and every stem of the split must have a pair.
    """
    if mode not in ("copy", "hardlink"):
        raise ValueError(f"mode must be 'copy' or 'hardlink', got {mode!r}")
    check_split(split)
    pairs = {r.stem: (r, j) for r, j in find_pairs(src)}
    side = {s: k for k in SPLITS for s in split[k]}
    unassigned = sorted(set(pairs) - set(side))
    if unassigned:
        raise PairError(f"{pairs[unassigned[0]][0]}: not in the split "
                        f"({len(unassigned)} pair(s) unassigned)")
    absent = sorted(set(side) - set(pairs))
    if absent:
        raise PairError(f"{src}: split names {len(absent)} stem(s) with no pair here, e.g. {absent[:3]}")
    out_root = Path(out_root)
    for stem, (ref, jnd) in sorted(pairs.items()):
        base = out_root / side[stem]
        _place(ref, base / REF_DIR / ref.name, mode)
        _place(jnd, base / JND_DIR / jnd.name, mode)
    return out_root


def split_folder(src: str | os.PathLike, out_root: str | os.PathLike, test_fraction: float = 0.2,
                 seed: int = 0, pattern: str = DEFAULT_SOURCE_PATTERN, mode: str = "copy") -> Path:
    """Split a flat pair folder by source and lay it out; the split goes to out_root/split.json.

    An existing out_root/split.json is reused, so re-running gives the same split.
    """
    stems = [r.stem for r, _ in find_pairs(src)]
    split = load_or_make_split(Path(out_root) / "split.json", stems, test_fraction, seed, pattern)
    return layout_pairs(src, out_root, split, mode)
