"""The embedded default data set: photographs that ship inside installed packages,
with proxy JND labels (no download, no human labels).

Images: the colour photographs in scikit-image's ``skimage/data`` folder that are
installed with the wheel (no pooch download), matplotlib's ``grace_hopper.jpg`` and
16 photographs from Debian wallpaper packages, committed downscaled under
``data/photos/`` with their licences (``corpus.JND_PHOTOS``).
Images larger than ``MAX_SIDE`` = 512 on their longest side are downscaled (Lanczos)
to keep the quick profile fast (ColorVideoVDP labelling, training, Cheng2020 decoding
on a CPU): astronaut, chelsea and ihc keep their size, the others shrink (e.g. retina
1411x1411 -> 512x512, coffee 600x400 -> 512x341). JND1 = the proxy first-JND JPEG
encode (labellers.py).

Output: ``root/{train,test}/{Ref,JND1}/<name>.png``, ``labels.csv``, ``split.json``
and, written last, ``manifest.json`` with a digest of every input and parameter. A
second build with the same inputs does nothing; an interrupted build resumes from the
images it finished (per-image records under ``root/.cache``).
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
from tqdm.auto import tqdm

from .convert import write_labels
from .corpus import JND_PHOTOS, JND_PHOTOS_DIR, downscale
from ..files import (PACKAGE_PARENT, file_digest, load_rgb, params_digest, read_json, save_png,
                     write_json)
from .labellers import DEFAULT_DISPLAY, JPEG_SETTING, label_image
from .pairs import JND_DIR, REF_DIR, SPLITS
from .split import DEFAULT_SOURCE_PATTERN, check_split, save_split, source_of

BUILD_VERSION = 2  # bump when the build itself changes, to invalidate old caches
MAX_SIDE = 512
# Sides are cropped to a multiple of 64 (the codecs' total stride): no codec ever sees
# padding. Zero padding (compressai's eval_model) costs small base models up to 1.5 dB
# and 20% of the rate at the borders of a 512x341 image; cropping keeps the evaluation
# identical to eval_model's without that artefact.
MULTIPLE = 64


@dataclass(frozen=True)
class ImageSpec:
    """One input image: ``source`` is "skimage:<file>", "matplotlib:<file>" or a path."""

    name: str
    source: str
    split: str
    crop: int | None = None  # centre crop (square side) after downscaling


# 25 sources, 26 photographs: every colour photograph shipped in skimage/data
# (scikit-image 0.2x wheels; grey ones such as camera, brick, grass are left out: the
# study is about colour images), Grace Hopper from matplotlib, and 16 photographs from
# Debian wallpaper packages committed under data/photos (corpus.JND_PHOTOS: licences
# and authors in data/photos/sources.csv). None of them is in the base models' corpus.
# The text before the first "_" of a name is its source (split.source_of).
EMBEDDED_SOURCES: dict[str, str] = {
    "astronaut": "skimage:astronaut.png",  # 512x512 portrait
    "chelsea": "skimage:chelsea.png",  # 451x300 cat, fur texture
    "coffee": "skimage:coffee.png",  # 600x400 indoor still life
    "grace_hopper": "matplotlib:grace_hopper.jpg",  # 512x600 portrait
    "hubble_deep_field": "skimage:hubble_deep_field.jpg",  # 1000x872, downscaled
    "ihc": "skimage:ihc.png",  # 512x512 microscopy
    "motorcycle_left": "skimage:motorcycle_left.png",  # 741x500 stereo pair ...
    "motorcycle_right": "skimage:motorcycle_right.png",  # ... same source, same side
    "retina": "skimage:retina.jpg",  # 1411x1411 fundus photo, downscaled
    "rocket": "skimage:rocket.jpg",  # 640x427 outdoor scene
    **{p.name: f"photos:{p.name}_512.png" for p in JND_PHOTOS},
}
# Fixed split by source, 13 test sources of varied content (fur, indoor, sky, water,
# foliage, macro, animals, architecture). The scikit-image / matplotlib images that
# trained the first, weak base models (astronaut ... retina) stay in train.
EMBEDDED_TEST = ("chelsea", "coffee", "rocket", "bridge", "dragonfly", "fig", "wine", "dogs", "clock",
                 "picos", "dandelions", "nuthatch", "storm")
# Smoke set: 256x256 centre crops, two per side, so BD-rate has two test images.
SMOKE_IMAGES: dict[str, str] = {"astronaut": "train", "motorcycle_left": "train",
                                "chelsea": "test", "coffee": "test"}
SMOKE_CROP = 256


def resolve_source(source: str) -> Path:
    """The file behind an image source string; never downloads."""
    kind, _, name = source.partition(":")
    if kind == "skimage" and name:
        import skimage.data

        path = Path(skimage.data.__file__).parent / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not shipped with this scikit-image; reinstall "
                                    "scikit-image or pick another image")
        return path
    if kind == "photos" and name:
        path = PACKAGE_PARENT / JND_PHOTOS_DIR / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; it is part of the repository (git checkout "
                                    f"{JND_PHOTOS_DIR}), or remake it with corpus.build_jnd_photos()")
        return path
    if kind == "matplotlib" and name:
        from matplotlib import cbook

        path = Path(cbook.get_sample_data(name, asfileobj=False))
        if not path.is_file():
            raise FileNotFoundError(f"{path}: matplotlib sample data not found")
        return path
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"image source not found: {source}")
    return path


def embedded_images() -> list[ImageSpec]:
    """The embedded default's images and their fixed split."""
    return [ImageSpec(n, s, "test" if n in EMBEDDED_TEST else "train") for n, s in EMBEDDED_SOURCES.items()]


def smoke_images() -> list[ImageSpec]:
    """The smoke set: 256x256 crops of four embedded photographs."""
    return [ImageSpec(n, EMBEDDED_SOURCES[n], sp, SMOKE_CROP) for n, sp in SMOKE_IMAGES.items()]


def prepare_image(path: Path, max_side: int | None = MAX_SIDE, crop: int | None = None,
                  multiple: int | None = MULTIPLE) -> np.ndarray:
    """Load as 8-bit RGB, downscale to ``max_side`` (Lanczos), centre-crop to ``crop``
    (a square) and then to sides that are multiples of ``multiple``."""
    rgb = load_rgb(path)
    if max_side:
        rgb = downscale(rgb, max_side)
    h, w = rgb.shape[:2]
    if crop:
        if min(h, w) < crop:
            raise ValueError(f"{path}: {w}x{h} is smaller than the crop {crop}")
        top, left = (h - crop) // 2, (w - crop) // 2
        rgb = rgb[top:top + crop, left:left + crop]
        h, w = crop, crop
    if multiple:
        ch, cw = h - h % multiple, w - w % multiple
        if not ch or not cw:
            raise ValueError(f"{path}: {w}x{h} is smaller than {multiple} px, the codecs' stride")
        top, left = (h - ch) // 2, (w - cw) // 2
        rgb = rgb[top:top + ch, left:left + cw]
    return np.ascontiguousarray(rgb)


def _versions(labeller: str) -> dict[str, str]:
    out = {"pillow": JPEG_SETTING["pillow_version"]}
    if labeller == "cvvdp":
        from importlib.metadata import PackageNotFoundError, version

        try:
            out["cvvdp"] = version("cvvdp")
        except PackageNotFoundError:
            out["cvvdp"] = "unknown"
    return out


def _manifest_ok(root: Path, digest: str, specs: Iterable[ImageSpec]) -> bool:
    path = root / "manifest.json"
    if not path.is_file():
        return False
    try:
        m = read_json(path)
    except ValueError:
        return False
    if not m.get("complete") or m.get("params_digest") != digest:
        return False
    needed = [root / "labels.csv", root / "split.json"]
    needed += [root / s.split / d / f"{s.name}.png" for s in specs for d in (REF_DIR, JND_DIR)]
    return all(p.is_file() for p in needed)


def build_dataset(root: str | os.PathLike, images: Iterable[ImageSpec], labeller: str = "cvvdp",
                  tau: float = 1.0, force: bool = False, progress: bool = True,
                  max_side: int | None = MAX_SIDE, kind: str = "custom", multiple: int | None = MULTIPLE,
                  **labeller_kwargs: Any) -> Path:
    """Label ``images`` with a proxy JND labeller into ``root`` (see module docstring).

    Rebuilt only when an input file's digest or a parameter changed (or ``force``).
    """
    root = Path(root)
    specs = list(images)
    if not specs:
        raise ValueError("build_dataset: no images")
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"build_dataset: duplicate image names in {names}")
    bad = [s for s in specs if s.split not in SPLITS]
    if bad:
        raise ValueError(f"image {bad[0].name!r}: split must be one of {SPLITS}, got {bad[0].split!r}")
    paths = {s.name: resolve_source(s.source) for s in specs}
    # threads change speed, not labels: left out of the cache key
    result_kwargs = {k: v for k, v in labeller_kwargs.items() if k != "threads"}
    if labeller == "cvvdp":
        result_kwargs = {"display": DEFAULT_DISPLAY, **result_kwargs}
    settings = {"version": BUILD_VERSION, "kind": kind, "labeller": labeller, "tau": float(tau),
                "labeller_kwargs": result_kwargs, "max_side": max_side, "multiple": multiple,
                "versions": _versions(labeller)}
    inputs = {s.name: {"source": s.source, "sha256": file_digest(paths[s.name]), "split": s.split,
                       "crop": s.crop} for s in specs}
    digest = params_digest({"settings": settings, "inputs": inputs})
    if not force and _manifest_ok(root, digest, specs):
        return root

    start = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").unlink(missing_ok=True)  # no stale claim of completeness
    _remove_stale(root, specs)
    cache = root / ".cache"
    if force:
        shutil.rmtree(cache, ignore_errors=True)
    split = {"train": sorted(s.name for s in specs if s.split == "train"),
             "test": sorted(s.name for s in specs if s.split == "test"),
             "pattern": DEFAULT_SOURCE_PATTERN, "note": f"fixed split by image ({kind})"}
    split["sources"] = {k: sorted({source_of(n) for n in split[k]}) for k in SPLITS}
    check_split(split, f"{kind} split")
    rows = []
    for spec in tqdm(specs, desc=f"{kind} ({labeller})", unit="img", disable=not progress):
        rows.append(_build_one(root, spec, paths[spec.name], settings, inputs[spec.name], cache,
                               labeller, tau, max_side, labeller_kwargs))
    save_split(root / "split.json", split)
    write_labels(root / "labels.csv", rows, extra=("status",))  # a failed search is kept, and refused later
    write_json(root / "manifest.json", {
        "kind": kind, "complete": True, "params_digest": digest, **settings,
        "labels": "proxy JND labels, not human JND data" + (
            f" (ColorVideoVDP, JOD >= 10 - {tau})" if labeller == "cvvdp" else " (NAMM JND profile)"),
        "jpeg": JPEG_SETTING, "inputs": inputs, "n_train": len(split["train"]), "n_test": len(split["test"]),
        "build_seconds": round(time.perf_counter() - start, 2),
        "built": _dt.datetime.now().isoformat(timespec="seconds"),
    })
    return root


def _remove_stale(root: Path, specs: list[ImageSpec]) -> None:
    keep = {(s.split, s.name) for s in specs}
    for sp in SPLITS:
        for d in (REF_DIR, JND_DIR):
            folder = root / sp / d
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.is_file() and (sp, p.stem) not in keep:
                        p.unlink()


def _build_one(root: Path, spec: ImageSpec, path: Path, settings: dict, inp: dict, cache: Path,
               labeller: str, tau: float, max_side: int | None, labeller_kwargs: dict) -> dict[str, Any]:
    key = params_digest({"settings": settings, "input": inp})
    record = cache / f"{spec.name}.json"
    ref_png = root / spec.split / REF_DIR / f"{spec.name}.png"
    jnd_png = root / spec.split / JND_DIR / f"{spec.name}.png"
    if record.is_file() and ref_png.is_file() and jnd_png.is_file():
        try:
            done = read_json(record)
            if done.get("key") == key:
                return done["row"]
        except ValueError:
            pass
    rgb = prepare_image(path, max_side, spec.crop, settings["multiple"])
    lab = label_image(rgb, labeller, tau, **labeller_kwargs)
    save_png(ref_png, rgb)
    save_png(jnd_png, lab["jnd_rgb"])
    row = {"image": spec.name, "split": spec.split, "source": source_of(spec.name), "labeller": labeller,
           "qf": lab["qf"], "jod": lab["jod"], "psnr": lab["psnr"], "ms_ssim": lab["ms_ssim"],
           "bpp": lab["bpp"], "width": rgb.shape[1], "height": rgb.shape[0], "params": lab["params"],
           "status": lab["status"]}
    write_json(record, {"key": key, "row": _plain(row)})
    return row


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    # JSON has no NaN in strict readers; store None and turn it back in labels.csv.
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}


def build_embedded(root: str | os.PathLike = "data/embedded", labeller: str = "cvvdp", tau: float = 1.0,
                   force: bool = False, progress: bool = True, **kwargs: Any) -> Path:
    """Build (or reuse) the embedded default: 26 photographs of 25 sources, 13 train / 13 test."""
    return build_dataset(root, embedded_images(), labeller, tau, force, progress, kind="embedded", **kwargs)


def build_smoke(root: str | os.PathLike = "data/smoke", labeller: str = "namm", tau: float = 1.0,
                force: bool = False, progress: bool = False, **kwargs: Any) -> Path:
    """Build (or reuse) the smoke set: 4 centre crops of 256x256, 2 train / 2 test, NAMM labels."""
    return build_dataset(root, smoke_images(), labeller, tau, force, progress, kind="smoke", **kwargs)
