import csv

import numpy as np
import pytest
from PIL import Image

from jndlc_helpers.data import embedded
from jndlc_helpers.data.convert import LABEL_COLUMNS
from jndlc_helpers.data.embedded import (
    ImageSpec,
    build_dataset,
    build_embedded,
    build_smoke,
    embedded_images,
    resolve_source,
)
from jndlc_helpers.files import load_rgb, read_json
from jndlc_helpers.data.labellers import jpeg_roundtrip
from jndlc_helpers.data.pairs import JNDPairDataset, find_pairs
from jndlc_helpers.data.split import check_split, source_of


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    return build_smoke(tmp_path_factory.mktemp("smoke") / "smoke")


def _rows(root):
    with open(root / "labels.csv") as f:
        return list(csv.DictReader(f))


def test_embedded_sources_ship_and_split_by_source():
    specs = embedded_images()
    for s in specs:
        assert resolve_source(s.source).is_file()  # shipped, never downloaded
    test = {s.name for s in specs if s.split == "test"}
    assert test == set(embedded.EMBEDDED_TEST) and len(specs) - len(test) >= 5
    train_src = {source_of(s.name) for s in specs if s.split == "train"}
    assert not train_src & {source_of(n) for n in test}
    with pytest.raises(FileNotFoundError, match="not shipped"):
        resolve_source("skimage:no_such_image.png")


def test_build_smoke_layout(smoke):
    for side in ("train", "test"):
        pairs = find_pairs(smoke / side)
        assert len(pairs) == 2
        for r, j in pairs:
            assert Image.open(r).size == Image.open(j).size == (256, 256)
    rows = _rows(smoke)
    assert list(rows[0]) == [*LABEL_COLUMNS, "status"] and {r["status"] for r in rows} == {"ok"}
    assert {r["labeller"] for r in rows} == {"namm"} and len(rows) == 4
    for r in rows:
        ref = load_rgb(smoke / r["split"] / "Ref" / f"{r['image']}.png")
        jnd = load_rgb(smoke / r["split"] / "JND1" / f"{r['image']}.png")
        assert np.array_equal(jnd, jpeg_roundtrip(ref, int(r["qf"]))[0])  # JND1 = JPEG at the label
        assert float(r["psnr"]) > 20 and 0 < float(r["ms_ssim"]) <= 1 and float(r["bpp"]) > 0
    man = read_json(smoke / "manifest.json")
    assert man["complete"] and man["kind"] == "smoke" and "proxy" in man["labels"]
    check_split(read_json(smoke / "split.json"))
    x_o, x_j = JNDPairDataset(smoke, "test", patch_size=192, random_crop=False)[0]
    assert x_o.shape == (3, 192, 192)


def test_smoke_cached_then_rebuilt_on_change(smoke, monkeypatch):
    calls = []
    real = embedded.label_image
    monkeypatch.setattr(embedded, "label_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    stamp = (smoke / "manifest.json").stat().st_mtime_ns
    build_smoke(smoke)  # same inputs and parameters: nothing to do
    assert calls == [] and (smoke / "manifest.json").stat().st_mtime_ns == stamp
    build_smoke(smoke, tau=2.0)  # a changed parameter rebuilds everything
    assert len(calls) == 4 and read_json(smoke / "manifest.json")["tau"] == 2.0


def test_force_rebuilds(tmp_path, tiny_specs, monkeypatch):
    root = build_dataset(tmp_path / "out", tiny_specs, "namm", progress=False, multiple=None)
    real = embedded.label_image
    calls = []
    monkeypatch.setattr(embedded, "label_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    build_dataset(root, tiny_specs, "namm", progress=False, multiple=None)
    assert calls == []
    build_dataset(root, tiny_specs, "namm", progress=False, multiple=None, force=True)
    assert len(calls) == 3


@pytest.fixture
def tiny_specs(tmp_path, make_rgb):
    specs = []
    for i, (name, side) in enumerate([("a_1", "train"), ("b_1", "train"), ("c_1", "test")]):
        p = tmp_path / "in" / f"{name}.png"
        p.parent.mkdir(exist_ok=True)
        Image.fromarray(make_rgb(40, 60, seed=i)).save(p)
        specs.append(ImageSpec(name, str(p), side))
    return specs


def test_interrupted_build_has_no_manifest_and_resumes(tmp_path, tiny_specs, monkeypatch):
    root = tmp_path / "out"
    real = embedded.label_image
    calls = []

    def flaky(rgb, *a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(rgb, *a, **k)

    monkeypatch.setattr(embedded, "label_image", flaky)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(root, tiny_specs, "namm", progress=False, multiple=None)
    assert not (root / "manifest.json").exists()
    build_dataset(root, tiny_specs, "namm", progress=False, multiple=None)
    assert len(calls) == 4  # the two finished images were reused
    assert read_json(root / "manifest.json")["complete"]


def test_changed_input_file_rebuilds(tmp_path, tiny_specs, make_rgb, monkeypatch):
    root = tmp_path / "out"
    build_dataset(root, tiny_specs, "namm", progress=False, multiple=None)
    before = read_json(root / "manifest.json")["params_digest"]
    real = embedded.label_image
    calls = []
    monkeypatch.setattr(embedded, "label_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    Image.fromarray(make_rgb(40, 60, seed=42)).save(tiny_specs[1].source)
    build_dataset(root, tiny_specs, "namm", progress=False, multiple=None)
    assert read_json(root / "manifest.json")["params_digest"] != before
    assert len(calls) == 1  # only the changed image is labelled again


def test_build_embedded_monkeypatched_tiny(tmp_path, make_rgb, monkeypatch):
    srcs = {}
    for i, name in enumerate(["big_one", "other", "third"]):
        p = tmp_path / f"{name}.png"
        Image.fromarray(make_rgb(50, 100, seed=i)).save(p)
        srcs[name] = str(p)
    monkeypatch.setattr(embedded, "EMBEDDED_SOURCES", srcs)
    monkeypatch.setattr(embedded, "EMBEDDED_TEST", ("third",))
    root = build_embedded(tmp_path / "emb", labeller="namm", progress=False, max_side=64, multiple=None)
    rows = {r["image"]: r for r in _rows(root)}
    assert rows["third"]["split"] == "test" and rows["big_one"]["split"] == "train"
    assert (int(rows["big_one"]["width"]), int(rows["big_one"]["height"])) == (64, 32)  # downscaled
    man = read_json(root / "manifest.json")
    assert man["kind"] == "embedded" and man["max_side"] == 64 and man["n_test"] == 1
    # a stale image from an earlier build is removed
    monkeypatch.setattr(embedded, "EMBEDDED_SOURCES", {k: v for k, v in srcs.items() if k != "other"})
    build_embedded(tmp_path / "emb", labeller="namm", progress=False, max_side=64, multiple=None)
    assert not (root / "train" / "Ref" / "other.png").exists()
    assert len(find_pairs(root / "train")) == 1


def test_build_dataset_bad_arguments(tmp_path, tiny_specs):
    with pytest.raises(ValueError, match="no images"):
        build_dataset(tmp_path / "x", [], "namm")
    with pytest.raises(ValueError, match="duplicate"):
        build_dataset(tmp_path / "x", tiny_specs + tiny_specs[:1], "namm")
    with pytest.raises(ValueError, match="split must be one of"):
        build_dataset(tmp_path / "x", [ImageSpec("a", tiny_specs[0].source, "val")], "namm")
    with pytest.raises(FileNotFoundError, match="image source not found"):
        build_dataset(tmp_path / "x", [ImageSpec("a", str(tmp_path / "none.png"), "train")], "namm")
    straddle = [ImageSpec("s_1", tiny_specs[0].source, "train"),
                ImageSpec("s_2", tiny_specs[1].source, "test")]
    with pytest.raises(ValueError, match="sources on both sides"):
        build_dataset(tmp_path / "x", straddle, "namm", progress=False)


def test_images_are_cropped_to_multiples_of_64_so_codecs_never_pad(tmp_path, make_rgb):
    from PIL import Image

    from jndlc_helpers.data.embedded import prepare_image

    path = tmp_path / "wide.png"
    Image.fromarray(make_rgb(341, 700, seed=1)).save(path)
    rgb = prepare_image(path, max_side=512)  # 700x341 -> 512x249 -> 512x192
    assert rgb.shape == (192, 512, 3)
    full = prepare_image(path, max_side=512, multiple=None)
    assert np.array_equal(rgb, full[28:220])  # the centre of the downscaled image
    with pytest.raises(ValueError, match="smaller than 64 px"):
        Image.fromarray(make_rgb(40, 90, seed=2)).save(tmp_path / "tiny.png")
        prepare_image(tmp_path / "tiny.png")
