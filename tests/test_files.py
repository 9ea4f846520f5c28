import numpy as np
import pytest
from PIL import Image

from jndlc_helpers import files


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "a.json"
    files.write_json(target, {"v": 1})

    def broken(p):
        p.write_text("half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        files.atomic_write(target, broken)
    assert files.read_json(target) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left behind


def test_load_rgb_converts_modes_and_names_bad_files(tmp_path):
    gray = tmp_path / "g.png"
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(gray)
    assert files.load_rgb(gray).shape == (4, 4, 3)
    deep = tmp_path / "d.png"
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(deep)
    assert (files.load_rgb(deep) == 255).all()
    rgba = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 4, 4), np.uint8)).save(rgba)
    with pytest.raises(files.ImageError, match="a.png.*alpha"):
        files.load_rgb(rgba)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(files.ImageError, match="bad.png"):
        files.load_rgb(bad)


def test_params_digest_is_order_independent():
    assert files.params_digest({"a": 1, "b": [1, 2]}) == files.params_digest({"b": [1, 2], "a": 1})
    assert files.params_digest({"a": 1}) != files.params_digest({"a": 2})


def test_portable_path_names_no_machine_folder(tmp_path):
    from jndlc_helpers.files import PACKAGE_PARENT, portable_path

    assert portable_path(PACKAGE_PARENT / "data" / "corpus") == "data/corpus"  # inside the repository
    run = tmp_path / "runs" / "one"
    assert portable_path(tmp_path / "data", start=run) == "../../data"  # elsewhere: from the run folder
    assert portable_path("data/corpus") == "data/corpus" and portable_path("scratch") == "scratch"
    assert portable_path(None) is None
