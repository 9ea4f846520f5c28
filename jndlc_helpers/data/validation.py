"""The validation set: where learning rates, budgets and recipes are chosen, never on the test images.

Photographs from the packages the corpus and the embedded set already draw on, used nowhere
else: no source is shared with the embedded set's train or test images, nor with the base
models' corpus (a test checks it). Each of the four photographs gives three images: the whole
photograph downscaled to 512 px (as the embedded set) and two adjacent 512x512 crops of its
1024-px downscale (finer detail): 12 images of 4 sources, labelled by the embedded set's
proxy labeller (ColorVideoVDP). The images lie in ``<root>/test/{Ref,JND1}``, so that
everything that reads a JND set's test images reads them.

Built from the package registries on first use (``python -m jndlc_helpers build-data
--validation``) and not committed, like the base models' corpus.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..files import save_png
from .corpus import _KDE, _PLASMA, Photo, _decode, downscale, fetch_package, read_members

VALIDATION_DIR = "data/validation"
_L16, _L20 = "deb:lomiri-wallpapers-16.04", "deb:lomiri-wallpapers-20.04"
_PLASMA_DEB = "deb:plasma-workspace-wallpapers"
VALIDATION_PHOTOS: tuple[Photo, ...] = (
    Photo("coldripple", _PLASMA_DEB, _PLASMA.format("ColdRipple", "2560x1600.jpg"), "GPL-2+", _KDE),
    Photo("grey", _PLASMA_DEB, _PLASMA.format("Grey", "2560x1600.jpg"), "GPL-2+", _KDE),
    Photo("analogpattern", _L16, "usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0",
          "2018 Peter Nerlich"),
    Photo("infinitesea", _L20, "usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg", "CC-BY-SA-3.0", "2019 Aury88"),
)
WHOLE_SIDE, DETAIL_SIDE, CROP = 512, 1024, 512


def views(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The three images of one photograph: "whole" (512 px on its longest side) and "a", "b",
    two adjacent 512x512 crops at the middle of its 1024-px downscale (side by side along
    its longest side)."""
    detail = downscale(rgb, DETAIL_SIDE)
    h, w = detail.shape[:2]
    if min(h, w) < CROP or max(h, w) < 2 * CROP:
        raise ValueError(f"a validation photograph needs {2 * CROP}x{CROP} px at {DETAIL_SIDE} px, got {w}x{h}")
    if w >= h:
        top, mid = (h - CROP) // 2, w // 2
        a, b = detail[top:top + CROP, mid - CROP:mid], detail[top:top + CROP, mid:mid + CROP]
    else:
        left, mid = (w - CROP) // 2, h // 2
        a, b = detail[mid - CROP:mid, left:left + CROP], detail[mid:mid + CROP, left:left + CROP]
    return {"whole": downscale(rgb, WHOLE_SIDE), "a": np.ascontiguousarray(a), "b": np.ascontiguousarray(b)}


def write_sources(dest: Path, cache: Path) -> list[Path]:
    """The 12 source images, as PNG under ``dest`` (``<photo>_<view>.png``)."""
    out = []
    for package in dict.fromkeys(p.package for p in VALIDATION_PHOTOS):
        chosen = [p for p in VALIDATION_PHOTOS if p.package == package]
        archive = fetch_package(package, cache)
        data = read_members(archive, [p.member for p in chosen])
        for photo in chosen:
            for view, rgb in views(_decode(data[photo.member], f"{archive.name}:{photo.member}")).items():
                path = dest / f"{photo.name}_{view}.png"
                if not path.is_file():
                    save_png(path, rgb)
                out.append(path)
    return out


def build_validation(root: str | os.PathLike = VALIDATION_DIR, cache: str | os.PathLike = "data/cache/packages",
                     labeller: str = "cvvdp", tau: float = 1.0, force: bool = False, progress: bool = True) -> Path:
    """Build (or reuse) the validation set under ``root`` (see the module docstring)."""
    from .embedded import ImageSpec, build_dataset

    root = Path(root)
    sources = write_sources(root / "sources", Path(cache))
    specs = [ImageSpec(p.stem, str(p), "test") for p in sources]
    return build_dataset(root, specs, labeller, tau, force, progress, max_side=None, kind="validation")


def validation_pairs(root: str | os.PathLike = VALIDATION_DIR, progress: bool = False) -> list[tuple[Path, Path]]:
    """The validation set's (Ref, JND1) pairs, built first when missing."""
    from .pairs import find_pairs

    return find_pairs(build_validation(root, progress=progress) / "test")
