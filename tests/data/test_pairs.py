import numpy as np
import pytest
import torch
from PIL import Image

from jndlc_helpers.data.pairs import (
    JNDPairDataset,
    PairError,
    UnlabelledDataset,
    find_pairs,
    load_pair,
    mixed_dataset,
)


def _save(path, arr, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, **kw)
    return path


def test_pairs_matched_by_stem_not_sorted_order(tmp_path, make_rgb):
    # "a-b.png" sorts before "a.png" but stem "a" before "a-b": pairs follow the stems,
    # and partners may differ in extension.
    split = tmp_path / "train"
    ref_a, ref_ab = make_rgb(seed=1), make_rgb(seed=2)
    _save(split / "Ref" / "a.png", ref_a)
    _save(split / "Ref" / "a-b.png", ref_ab)
    _save(split / "JND1" / "a.bmp", ref_a + 1)
    _save(split / "JND1" / "a-b.tif", ref_ab + 2)
    pairs = find_pairs(split)
    assert [(r.name, j.name) for r, j in pairs] == [("a.png", "a.bmp"), ("a-b.png", "a-b.tif")]
    for (r, j), off in zip(pairs, (1, 2)):
        x_o, x_j = load_pair(r, j)
        assert np.array_equal(x_j.astype(int) - x_o, np.full_like(x_o, off, dtype=int))


def test_sorted_order_would_mismatch(tmp_path, make_pairs):
    # A JND1 file whose name sorts before every other would shift sorted-order pairing;
    # stem matching reports it instead.
    root = make_pairs(["b", "c"])
    _save(root / "train" / "JND1" / "a.png", np.zeros((64, 48, 3), np.uint8))
    with pytest.raises(PairError, match=r"JND1/a\.png: no Ref partner"):
        find_pairs(root / "train")


def test_missing_jnd_partner_named(tmp_path, make_pairs):
    root = make_pairs(["s1", "s2"])
    (root / "train" / "JND1" / "s2.png").unlink()
    with pytest.raises(PairError, match=r"Ref/s2\.png: no JND1 partner"):
        find_pairs(root / "train")
    with pytest.raises(PairError, match="s2.png"):
        JNDPairDataset(root, "train", patch_size=16)


def test_duplicate_stem_and_empty_and_missing_folders(tmp_path, make_pairs):
    root = make_pairs(["s1"])
    _save(root / "train" / "Ref" / "s1.bmp", np.zeros((64, 48, 3), np.uint8))
    with pytest.raises(PairError, match="same stem"):
        find_pairs(root / "train")
    empty = tmp_path / "empty"
    (empty / "Ref").mkdir(parents=True)
    (empty / "JND1").mkdir()
    with pytest.raises(PairError, match="no images"):
        find_pairs(empty)
    with pytest.raises(PairError, match="folder not found"):
        find_pairs(tmp_path / "nowhere")


def test_size_mismatch(tmp_path, make_pairs, make_rgb):
    root = make_pairs(["s1"])
    _save(root / "train" / "JND1" / "s1.png", make_rgb(64, 40))
    with pytest.raises(PairError, match=r"s1\.png: size 40x64 differs"):
        JNDPairDataset(root, "train", patch_size=16)
    with pytest.raises(PairError, match="differs from its Ref"):
        load_pair(root / "train" / "Ref" / "s1.png", root / "train" / "JND1" / "s1.png")


def test_truncated_file_named(tmp_path, make_pairs):
    root = make_pairs(["s1"])
    jnd = root / "train" / "JND1" / "s1.png"
    jnd.write_bytes(jnd.read_bytes()[:200])
    ds = JNDPairDataset(root, "train", patch_size=16)  # header still readable
    with pytest.raises(PairError, match=r"JND1/s1\.png: unreadable or truncated"):
        ds[0]


def test_image_smaller_than_patch(make_pairs):
    root = make_pairs(["s1"], size=(32, 48))
    with pytest.raises(PairError, match=r"32 is smaller than patch_size=40"):
        JNDPairDataset(root, "train", patch_size=40)


def test_gray_palette_16bit_converted_alike_rgba_refused(tmp_path, make_rgb):
    gray = make_rgb(32, 32)[..., 0]
    ref = _save(tmp_path / "Ref" / "g.png", gray)  # mode L
    jnd = tmp_path / "JND1" / "g.png"
    jnd.parent.mkdir(parents=True)
    Image.fromarray(gray.astype(np.uint16) * 257).save(jnd)  # 16-bit, same picture
    assert Image.open(jnd).mode.startswith("I")
    x_o, x_j = load_pair(ref, jnd)
    assert x_o.shape == x_j.shape == (32, 32, 3) and x_o.dtype == x_j.dtype == np.uint8
    assert np.array_equal(x_o, x_j)
    pal = Image.fromarray(make_rgb(32, 32)).quantize(16)  # palette image (mode P)
    pal.save(tmp_path / "Ref" / "p.png")
    _save(tmp_path / "JND1" / "p.png", np.asarray(pal.convert("RGB")))
    x_o, x_j = load_pair(tmp_path / "Ref" / "p.png", tmp_path / "JND1" / "p.png")
    assert x_o.shape == (32, 32, 3) and np.array_equal(x_o, x_j)
    rgba = _save(tmp_path / "JND1" / "a.png", np.dstack([make_rgb(32, 32), np.full((32, 32), 255, np.uint8)]))
    with pytest.raises(PairError, match=r"a\.png: has an alpha channel"):
        load_pair(ref, rgba)


def test_synchronised_random_crops_and_flips(make_pairs):
    root = make_pairs(["s1", "s2"], size=(64, 48), offset=20)
    ds = JNDPairDataset(root, "train", patch_size=16, seed=3)
    assert ds.stems == ["s1", "s2"] and len(ds) == 2
    corners = set()
    for _ in range(12):
        x_o, x_j = ds[0]
        assert x_o.shape == x_j.shape == (3, 16, 16) and x_o.dtype == torch.float32
        assert 0.0 <= float(x_o.min()) and float(x_j.max()) <= 1.0
        # Same crop, same flip on both partners: the difference is the constant offset.
        assert torch.allclose(x_j - x_o, torch.full_like(x_o, 20 / 255), atol=1e-6)
        corners.add(tuple(x_o[:, 0, 0].tolist()))
    assert len(corners) > 1  # crops do move


def test_flip_applied_to_both(make_pairs):
    root = make_pairs(["s1"], size=(16, 16))
    ds = JNDPairDataset(root, "train", patch_size=16, seed=0, flip=True)
    full = torch.from_numpy(np.array(Image.open(root / "train" / "Ref" / "s1.png"))).permute(2, 0, 1) / 255
    flipped = 0
    for _ in range(16):
        x_o, x_j = ds[0]
        if torch.allclose(x_o, full.flip(-1)):
            flipped += 1
            assert torch.allclose(x_j - x_o, torch.full_like(x_o, 20 / 255), atol=1e-6)
        else:
            assert torch.allclose(x_o, full)
    assert 0 < flipped < 16


def test_seeded_crops_reproducible(make_pairs):
    root = make_pairs(["s1"], size=(64, 64))
    a = JNDPairDataset(root, patch_size=16, seed=7)
    b = JNDPairDataset(root, patch_size=16, seed=7)
    for _ in range(3):
        assert torch.equal(a[0][0], b[0][0])


def test_centre_crop_and_whole_image(make_pairs):
    root = make_pairs(["s1"], split="test", size=(40, 30))
    full = np.asarray(Image.open(root / "test" / "Ref" / "s1.png"))
    centre = JNDPairDataset(root, "test", patch_size=20, random_crop=False)
    x_o, x_j = centre[0]
    expect = torch.from_numpy(full[10:30, 5:25].transpose(2, 0, 1).copy()).float() / 255
    assert torch.allclose(x_o, expect)
    assert torch.allclose(x_j - x_o, torch.full_like(x_o, 20 / 255), atol=1e-6)
    whole = JNDPairDataset(root, "test", patch_size=None, random_crop=False)
    assert whole[0][0].shape == (3, 40, 30)
    with pytest.raises(ValueError, match="split must be one of"):
        JNDPairDataset(root, "val")


def test_unlabelled_dataset(tmp_path, make_rgb):
    folder = tmp_path / "jpegai"
    for i in range(3):
        _save(folder / f"u{i}.png", make_rgb(40, 40, seed=i))
    ds = UnlabelledDataset(folder, patch_size=16)
    x, x_j = ds[1]
    assert x.shape == (3, 16, 16) and torch.equal(x, x_j)
    assert ds.stems == ["u0", "u1", "u2"]
    (tmp_path / "none").mkdir()
    with pytest.raises(PairError, match="no images"):
        UnlabelledDataset(tmp_path / "none", patch_size=16)
    with pytest.raises(PairError, match="smaller than patch_size"):
        UnlabelledDataset(folder, patch_size=64)


def _unlabelled(tmp_path, make_rgb, n):
    folder = tmp_path / f"u{n}"
    for i in range(n):
        _save(folder / f"u{i:02d}.png", make_rgb(24, 24, seed=i))
    return UnlabelledDataset(folder, patch_size=16)


def test_mixed_dataset_equal_counts_seeded(tmp_path, make_pairs, make_rgb):
    labelled = JNDPairDataset(make_pairs(["a", "b", "c"], size=(24, 24)), patch_size=16)
    unlabelled = _unlabelled(tmp_path, make_rgb, 7)
    mix = mixed_dataset(labelled, unlabelled, seed=0)
    assert (mix.n_labelled, mix.n_unlabelled, len(mix)) == (3, 3, 6)
    assert mix.indices["labelled"] == [0, 1, 2]  # every labelled image kept
    assert mix.indices == mixed_dataset(labelled, unlabelled, seed=0).indices
    others = {tuple(mixed_dataset(labelled, unlabelled, seed=s).indices["unlabelled"]) for s in range(6)}
    assert len(others) > 1  # the unlabelled subset is random
    x, x_j = mix[4]  # an unlabelled item: JND image = original
    assert torch.equal(x, x_j)
    x_o, x_j = mix[0]
    assert not torch.equal(x_o, x_j)
    small = mixed_dataset(labelled, _unlabelled(tmp_path, make_rgb, 2), seed=1)
    assert (small.n_labelled, small.n_unlabelled) == (2, 2)


def test_image_cache_decodes_once_and_keeps_to_its_budget(tmp_path, make_pairs, monkeypatch):
    from jndlc_helpers.data import pairs as pairs_mod

    root = make_pairs(["a", "b"], size=(64, 64))
    calls = []
    real = pairs_mod._load
    monkeypatch.setattr(pairs_mod, "_load", lambda p: calls.append(p) or real(p))
    ds = JNDPairDataset(root, "train", patch_size=32, seed=0)
    for _ in range(3):
        for i in range(len(ds)):
            ds[i]
    assert len(calls) == 4  # 2 pairs x 2 partners, decoded once each
    cached = ds.cache.load(ds.pairs[0][0])
    assert not cached.flags.writeable  # crops are views: the cache cannot be written through them

    calls.clear()
    small = JNDPairDataset(root, "train", patch_size=32, seed=0, cache_bytes=64 * 64 * 3)  # room for one image
    for _ in range(2):
        small[0]
    assert len(calls) == 3 and small.cache.used == 64 * 64 * 3  # Ref cached, JND1 decoded each time


def test_decode_cache_decodes_each_image_once_across_processes_and_reads_crops_mapped(tmp_path, make_pairs,
                                                                                        monkeypatch):
    from jndlc_helpers.data import pairs as pairs_mod

    root = make_pairs(["a", "b"], size=(96, 80))
    plain = JNDPairDataset(root, "train", patch_size=32, seed=3)
    want = [plain[i] for i in (0, 1, 0)]
    calls = []
    real = pairs_mod._load
    monkeypatch.setattr(pairs_mod, "_load", lambda p: calls.append(p) or real(p))
    for _ in range(2):  # two datasets: two worker processes, or two runs of a grid
        ds = JNDPairDataset(root, "train", patch_size=32, seed=3, cache_bytes=0, decode_cache=tmp_path / "dec")
        got = [ds[i] for i in (0, 1, 0)]
        assert all(torch.equal(a, b) for w, g in zip(want, got) for a, b in zip(w, g))
    assert len(calls) == 4  # each Ref and JND1 decoded once, by the first dataset
    assert isinstance(ds.cache.load(ds.pairs[0][0]), np.memmap) and len(list((tmp_path / "dec").glob("*.npy"))) == 4
