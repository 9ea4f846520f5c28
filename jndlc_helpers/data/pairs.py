"""Paired JND datasets: original images (``Ref``) and their first-JND images (``JND1``).

Layout (the authors'): ``root/{train,test}/{Ref,JND1}/<stem>.<ext>``. Unlike the
authors' loader, which pairs files by sorted order, pairs are matched by file stem,
so a missing or renamed file is an error instead of a silent shift of every pair.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image
from torch.utils.data import ConcatDataset, Dataset, Subset

from ..files import ImageError, atomic_write, list_images, load_rgb, params_digest

REF_DIR = "Ref"
JND_DIR = "JND1"
SPLITS = ("train", "test")
CACHE_BYTES = 2 << 30  # decoded images a dataset keeps in memory (per process)


class PairError(ValueError):
    """A bad paired-dataset input; the message names the file or folder."""


def find_pairs(split_dir: str | os.PathLike) -> list[tuple[Path, Path]]:
    """(Ref, JND1) paths under ``split_dir/{Ref,JND1}``, matched by stem and sorted by stem."""
    split_dir = Path(split_dir)
    ref_dir, jnd_dir = split_dir / REF_DIR, split_dir / JND_DIR
    for d in (ref_dir, jnd_dir):
        if not d.is_dir():
            raise PairError(f"{d}: folder not found (expected {split_dir}/{{{REF_DIR},{JND_DIR}}})")
    refs, jnds = _by_stem(ref_dir), _by_stem(jnd_dir)
    if not refs and not jnds:
        raise PairError(f"{split_dir}: no images in {REF_DIR}/ or {JND_DIR}/")
    _check_partners(refs, jnds, jnd_dir, JND_DIR)
    _check_partners(jnds, refs, ref_dir, REF_DIR)
    return [(refs[s], jnds[s]) for s in sorted(refs)]


def _check_partners(have: dict[str, Path], other: dict[str, Path], other_dir: Path, name: str) -> None:
    lonely = sorted(have.keys() - other.keys())
    if lonely:
        more = f" ({len(lonely) - 1} more without a partner)" if len(lonely) > 1 else ""
        raise PairError(f"{have[lonely[0]]}: no {name} partner (expected "
                        f"{other_dir}/{lonely[0]}.<ext>){more}")


def _by_stem(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in list_images(folder):
        if p.stem in out:
            raise PairError(f"{p}: same stem as {out[p.stem].name}; stems must be unique per folder")
        out[p.stem] = p
    return out


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, SyntaxError) as e:
        raise PairError(f"{path}: unreadable image ({e})") from e


def check_pair_sizes(ref: Path, jnd: Path, patch_size: int | None = None) -> tuple[int, int]:
    """Raise ``PairError`` if the partners differ in size or are smaller than the patch."""
    size_r, size_j = image_size(ref), image_size(jnd)
    if size_r != size_j:
        raise PairError(f"{jnd}: size {size_j[0]}x{size_j[1]} differs from its Ref {ref} "
                        f"({size_r[0]}x{size_r[1]})")
    _check_patch(ref, size_r, patch_size)
    return size_r


def _check_patch(path: Path, size: tuple[int, int], patch_size: int | None) -> None:
    if patch_size is not None and min(size) < patch_size:
        raise PairError(f"{path}: image {size[0]}x{size[1]} is smaller than patch_size={patch_size}")


def _load(path: Path) -> np.ndarray:
    try:
        return load_rgb(path)
    except ImageError as e:  # already names the file
        raise PairError(str(e)) from e


def load_pair(ref_path: str | os.PathLike, jnd_path: str | os.PathLike,
              load: Callable[[Path], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Both partners as (H, W, 3) uint8 RGB, converted the same way; sizes must match.
    ``load`` reads one file (default: decode it; datasets pass their ``ImageCache.load``)."""
    ref_path, jnd_path = Path(ref_path), Path(jnd_path)
    load = load or _load
    ref, jnd = load(ref_path), load(jnd_path)
    if ref.shape != jnd.shape:
        raise PairError(f"{jnd_path}: size {jnd.shape[1]}x{jnd.shape[0]} differs from its Ref "
                        f"{ref_path} ({ref.shape[1]}x{ref.shape[0]})")
    return ref, jnd


class ImageCache:
    """Decoded images kept in memory up to ``max_bytes``: a small training set is
    decoded once, not at every step (PNG decoding of a large image costs more than a
    training step of a small model). Past the budget, images are decoded each time;
    with ``disk`` (a folder), they are decoded once into it as ``.npy`` and read back
    memory-mapped, so a 256 px crop of a 1080p frame reads its rows, not the whole PNG."""

    def __init__(self, max_bytes: int = CACHE_BYTES, disk: str | os.PathLike | None = None):
        self.max_bytes, self.used = max_bytes, 0
        self.disk = None if disk is None else Path(disk)
        self.images: dict[Path, np.ndarray] = {}

    def load(self, path: Path) -> np.ndarray:
        rgb = self.images.get(path)
        if rgb is None:
            rgb = self._decode(path)
            if self.used + rgb.nbytes <= self.max_bytes:
                rgb = np.array(rgb) if isinstance(rgb, np.memmap) else rgb  # in memory, not mapped
                rgb.setflags(write=False)  # crops are views: nobody may write into the cache
                self.images[path] = rgb
                self.used += rgb.nbytes
        return rgb

    def _decode(self, path: Path) -> np.ndarray:
        """The image, decoded now or (``disk``) once: a read-only memory map of its .npy."""
        if self.disk is None:
            return _load(path)
        st = Path(path).stat()
        key = params_digest([str(Path(path).resolve()), st.st_size, st.st_mtime_ns])
        npy = self.disk / f"{Path(path).stem}-{key}.npy"
        if not npy.is_file():
            rgb = _load(path)
            atomic_write(npy, lambda p: _save_npy(p, rgb))
        return np.load(npy, mmap_mode="r")


def _save_npy(path: Path, rgb: np.ndarray) -> None:
    with open(path, "wb") as f:  # a file object: np.save would add ".npy" to the name
        np.save(f, rgb)


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> float32 [3, H, W] in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float().div_(255.0)


class _Cropper:
    """Crop positions and flips, drawn once per item and applied to every partner."""

    def __init__(self, patch_size: int | None, random_crop: bool, flip: bool, seed: int | None):
        self.patch_size = patch_size
        self.random_crop = random_crop
        self.flip = flip
        # No seed: torch's global RNG, which DataLoader re-seeds per worker.
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (1,), generator=self.generator))

    def __call__(self, *images: np.ndarray) -> list[np.ndarray]:
        h, w = images[0].shape[:2]
        p = self.patch_size
        if p is not None:
            if self.random_crop:
                top, left = self._randint(h - p + 1), self._randint(w - p + 1)
            else:
                top, left = (h - p) // 2, (w - p) // 2
            images = tuple(im[top:top + p, left:left + p] for im in images)
        if self.random_crop and self.flip and self._randint(2):
            images = tuple(im[:, ::-1] for im in images)
        return list(images)


class JNDPairDataset(Dataset):
    """Items are ``(x_o, x_j)``: float32 tensors [3, H, W] in [0, 1], RGB.

    Training (``random_crop=True``): the same random ``patch_size`` crop and the same
    horizontal flip on both partners. Testing (``random_crop=False``): a centre crop of
    ``patch_size``, or the whole image when ``patch_size`` is None. Sizes are checked
    from file headers at construction, so a bad pair fails before training starts.
    ``seed`` fixes the crop sequence (one process); with None, torch's global RNG is
    used, which DataLoader seeds differently in every worker. ``decode_cache``: a
    folder where images are decoded once and read back memory-mapped (``ImageCache``).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", patch_size: int | None = 256,
                 random_crop: bool = True, flip: bool = True, seed: int | None = None,
                 cache_bytes: int = CACHE_BYTES, decode_cache: str | os.PathLike | None = None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.split = split
        self.pairs = find_pairs(self.root / split)
        self.stems = [r.stem for r, _ in self.pairs]
        self.sizes = [check_pair_sizes(r, j, patch_size) for r, j in self.pairs]
        self.crop = _Cropper(patch_size, random_crop and patch_size is not None, flip, seed)
        self.cache = ImageCache(cache_bytes, decode_cache)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        ref, jnd = load_pair(*self.pairs[index], load=self.cache.load)
        _check_patch(self.pairs[index][0], (ref.shape[1], ref.shape[0]), self.crop.patch_size)
        x_o, x_j = self.crop(ref, jnd)
        return to_tensor(x_o), to_tensor(x_j)


class UnlabelledDataset(Dataset):
    """Images without JND labels (the paper's JPEG-AI role): items are ``(x, x)``.

    The JND image of an unlabelled image is the original itself (paper, Sec. 2.4).
    """

    def __init__(self, folder: str | os.PathLike, patch_size: int | None = 256,
                 random_crop: bool = True, flip: bool = True, seed: int | None = None,
                 cache_bytes: int = CACHE_BYTES, decode_cache: str | os.PathLike | None = None):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise PairError(f"{self.folder}: folder not found")
        self.paths = list_images(self.folder)
        if not self.paths:
            raise PairError(f"{self.folder}: no images")
        self.stems = [p.stem for p in self.paths]
        for p in self.paths:
            _check_patch(p, image_size(p), patch_size)
        self.crop = _Cropper(patch_size, random_crop and patch_size is not None, flip, seed)
        self.cache = ImageCache(cache_bytes, decode_cache)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        (x,) = self.crop(self.cache.load(self.paths[index]))
        t = to_tensor(x)
        return t, t.clone()


class MixedDataset(ConcatDataset):
    """A labelled and an unlabelled subset of equal size; ``indices`` records which."""

    def __init__(self, labelled: Subset, unlabelled: Subset, seed: int):
        super().__init__([labelled, unlabelled])
        self.seed = seed
        self.n_labelled = len(labelled)
        self.n_unlabelled = len(unlabelled)
        self.indices = {"labelled": list(labelled.indices), "unlabelled": list(unlabelled.indices)}


def mixed_dataset(labelled: Dataset, unlabelled: Dataset, seed: int = 0) -> MixedDataset:
    """Equal numbers from ``labelled`` and ``unlabelled`` (paper, Sec. 2.4).

    The paper keeps every VideoSet frame and adds as many randomly chosen JPEG-AI
    images; when the unlabelled set is the smaller one, a random subset of the
    labelled set of the same size is kept instead. Seeded: same seed, same subsets.
    """
    n_l, n_u = len(labelled), len(unlabelled)
    if n_l == 0 or n_u == 0:
        raise PairError(f"mixed_dataset: empty input (labelled={n_l}, unlabelled={n_u})")
    n = min(n_l, n_u)
    rng = np.random.default_rng(seed)
    pick_l = _pick(rng, n_l, n)
    pick_u = _pick(rng, n_u, n)
    return MixedDataset(Subset(labelled, pick_l), Subset(unlabelled, pick_u), seed)


def _pick(rng: np.random.Generator, total: int, n: int) -> Sequence[int]:
    if n == total:
        return list(range(total))
    return sorted(int(i) for i in rng.choice(total, size=n, replace=False))
