import json
import os

import pytest

from jndlc_helpers.data.pairs import PairError, find_pairs
from jndlc_helpers.data.split import (
    WHOLE_STEM_PATTERN,
    check_split,
    layout_pairs,
    load_or_make_split,
    load_split,
    save_split,
    source_of,
    split_by_source,
    split_folder,
)

STEMS = [f"SRC{s:03d}_{r}_f{f:04d}" for s in range(10) for r in ("1080p", "720p") for f in (1, 30, 60)]


def test_source_of_default_and_custom():
    assert source_of("SRC005_1080p_f0001") == "SRC005"
    assert source_of("plain") == "plain"
    assert source_of("img-12-q40", r"^img-(\d+)") == "12"
    assert source_of("a_b", WHOLE_STEM_PATTERN) == "a_b"
    with pytest.raises(ValueError, match="does not match the source pattern"):
        source_of("xyz", r"^SRC\d+")


def test_split_never_straddles_sources():
    sp = split_by_source(STEMS, test_fraction=0.2, seed=0)
    src = {k: {source_of(s) for s in sp[k]} for k in ("train", "test")}
    assert not src["train"] & src["test"]
    assert sorted(sp["train"] + sp["test"]) == sorted(STEMS)
    assert len(src["test"]) == 2 and sp["sources"]["test"] == sorted(src["test"])
    # every frame and resolution of a test source is in test
    for s in sp["sources"]["test"]:
        assert {x for x in STEMS if x.startswith(s + "_")} <= set(sp["test"])


def test_split_seeded_and_edge_cases():
    assert split_by_source(STEMS, seed=4) == split_by_source(reversed(STEMS), seed=4)
    tests = {tuple(split_by_source(STEMS, seed=s)["sources"]["test"]) for s in range(8)}
    assert len(tests) > 1
    two = split_by_source(["A_1", "B_1"], test_fraction=0.2)
    assert len(two["sources"]["test"]) == 1 and len(two["sources"]["train"]) == 1
    assert split_by_source(["A_1", "B_1"], test_fraction=0.0)["test"] == []
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_source(STEMS, test_fraction=1.5)
    with pytest.raises(ValueError, match="no stems"):
        split_by_source([])


def test_split_file_roundtrip_and_reuse(tmp_path):
    path = tmp_path / "split.json"
    sp = split_by_source(STEMS, seed=1)
    save_split(path, sp)
    assert load_split(path) == sp
    # an existing file wins over new arguments: the split is reproducible from the file
    again = load_or_make_split(path, STEMS, seed=99)
    assert again == sp
    with pytest.raises(ValueError, match="does not cover"):
        load_or_make_split(path, STEMS + ["NEW_1"])
    fresh = load_or_make_split(tmp_path / "new.json", STEMS, seed=2)
    assert json.loads((tmp_path / "new.json").read_text())["test"] == fresh["test"]


def test_check_split_rejects_straddling(tmp_path):
    bad = {"train": ["SRC001_1080p_f0001"], "test": ["SRC001_720p_f0001"]}
    with pytest.raises(ValueError, match="sources on both sides.*SRC001"):
        check_split(bad)
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="bad.json"):
        load_split(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError):
        load_split(tmp_path / "none.json")


def _flat(make_pairs, tmp_path):
    stems = ["SRC001_1080p_f0001", "SRC001_720p_f0001", "SRC002_1080p_f0001", "SRC003_1080p_f0001",
             "SRC004_1080p_f0001", "SRC005_540p_f0001"]
    # make_pairs writes <root>/<split>/...; use split "" for a flat folder
    root = make_pairs(stems, split="", size=(8, 8), root=tmp_path / "flat")
    return root, stems


@pytest.mark.parametrize("mode", ["copy", "hardlink"])
def test_layout_pairs(tmp_path, make_pairs, mode):
    flat, stems = _flat(make_pairs, tmp_path)
    sp = split_by_source(stems, seed=0)
    out = layout_pairs(flat, tmp_path / "out", sp, mode=mode)
    got = {k: [r.stem for r, _ in find_pairs(out / k)] for k in ("train", "test")}
    assert got == {"train": sp["train"], "test": sp["test"]}
    ref = out / "train" / "Ref" / f"{sp['train'][0]}.png"
    same_inode = os.stat(ref).st_ino == os.stat(flat / "Ref" / ref.name).st_ino
    assert same_inode == (mode == "hardlink")


def test_layout_pairs_errors(tmp_path, make_pairs):
    flat, stems = _flat(make_pairs, tmp_path)
    partial = {"train": stems[:2], "test": stems[2:4]}
    with pytest.raises(PairError, match="not in the split"):
        layout_pairs(flat, tmp_path / "out", partial)
    extra = {"train": stems, "test": ["SRC999_1080p_f0001"]}
    with pytest.raises(PairError, match="no pair here"):
        layout_pairs(flat, tmp_path / "out", extra)
    with pytest.raises(ValueError, match="mode"):
        layout_pairs(flat, tmp_path / "out", split_by_source(stems), mode="move")


def test_split_folder_reproducible(tmp_path, make_pairs):
    flat, stems = _flat(make_pairs, tmp_path)
    out = split_folder(flat, tmp_path / "out", seed=3)
    first = load_split(out / "split.json")
    split_folder(flat, out, seed=4)  # reuses split.json
    assert load_split(out / "split.json") == first
    assert sorted(p.stem for p in (out / "test" / "Ref").iterdir()) == first["test"]
