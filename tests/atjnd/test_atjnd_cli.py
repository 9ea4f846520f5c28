"""jndlc compress / decompress: round trips, and one line for each bad input with nothing
left behind."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jndlc_helpers.__main__ import main
from jndlc_helpers.files import load_rgb


@pytest.fixture
def image(tmp_path, make_rgb):
    path = tmp_path / "in.png"
    Image.fromarray(make_rgb(45, 70, seed=6)).save(path)
    return path


def _fails(argv, match, leaves):
    with pytest.raises(SystemExit) as e:
        main(argv)
    msg = str(e.value.code)
    assert "\n" not in msg and msg.startswith(f"jndlc {argv[0]}:"), msg
    assert any(m in msg for m in match), msg
    assert not leaves.exists() and not list(leaves.parent.glob(f".{leaves.name}.*"))


def test_learned_and_jpeg_round_trips(image, tmp_path, smoke_models, capsys):
    main(["compress", str(image), "-o", str(tmp_path / "a.jndc"), "--model", str(smoke_models / "baseline-mse-q4")])
    main(["decompress", str(tmp_path / "a.jndc"), "-o", str(tmp_path / "a.png")])
    main(["compress", str(image), "-o", str(tmp_path / "b.jndc"), "--model", str(smoke_models), "--quality", "3.5"])
    main(["decompress", str(tmp_path / "b.jndc"), "-o", str(tmp_path / "b.png"), "--model", str(smoke_models)])
    main(["compress", str(image), "-o", str(tmp_path / "c.jpg"), "--codec", "jpeg", "--quality", "60"])
    main(["decompress", str(tmp_path / "c.jpg"), "-o", str(tmp_path / "c.png")])
    for name in "abc":
        assert load_rgb(tmp_path / f"{name}.png").shape == (45, 70, 3)
    assert "learned q4 step 1" in capsys.readouterr().out
    with Image.open(tmp_path / "c.jpg") as im:  # a plain baseline JPEG any decoder reads
        assert im.format == "JPEG" and np.array_equal(np.asarray(im.convert("RGB")), load_rgb(tmp_path / "c.png"))


def test_grey_input_is_coded_as_rgb(tmp_path, make_rgb):
    grey = tmp_path / "grey.png"
    Image.fromarray(make_rgb(33, 40)[..., 0]).save(grey)
    main(["compress", str(grey), "-o", str(tmp_path / "g.jpg"), "--codec", "jpeg", "--quality", "80"])
    assert load_rgb(tmp_path / "g.jpg").shape == (33, 40, 3)


def test_bad_inputs_are_one_line_each(image, tmp_path, smoke_models, make_rgb):
    out = tmp_path / "out" / "x.jndc"
    _fails(["compress", str(tmp_path / "missing.png"), "-o", str(out), "--codec", "jpeg", "--quality", "50"],
           ["missing.png: no such image"], out)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.dstack([make_rgb(20, 20), np.full((20, 20), 255, np.uint8)])).save(rgba)
    _fails(["compress", str(rgba), "-o", str(out), "--codec", "jpeg", "--quality", "50"], ["rgba.png", "alpha"], out)
    broken = tmp_path / "broken.png"
    broken.write_bytes(image.read_bytes()[:200])
    _fails(["compress", str(broken), "-o", str(out), "--codec", "jpeg", "--quality", "50"], ["broken.png"], out)
    _fails(["compress", str(image), "-o", str(out), "--codec", "jpeg", "--quality", "101"], ["--quality 101"], out)
    _fails(["compress", str(image), "-o", str(out), "--model", str(tmp_path / "nomodel")], ["nomodel: not found"], out)
    _fails(["compress", str(image), "-o", str(out), "--codec", "jpeg", "--quality", "50", "--preprocessor", "nope"],
           ["--preprocessor nope"], out)


def test_bad_files_are_one_line_each(image, tmp_path, smoke_models):
    good = tmp_path / "good.jndc"
    main(["compress", str(image), "-o", str(good), "--model", str(smoke_models / "baseline-mse-q2")])
    data = good.read_bytes()
    out = tmp_path / "out.png"
    (tmp_path / "short.jndc").write_bytes(data[:len(data) // 2])
    (tmp_path / "flip.jndc").write_bytes(data[:30] + bytes([data[30] ^ 1]) + data[31:])
    (tmp_path / "other.bin").write_bytes(b"hello world")
    (tmp_path / "short.jpg").write_bytes(_jpeg(image, tmp_path)[:300])
    for name, match in [("missing.jndc", "no such file"), ("short.jndc", "truncated"), ("flip.jndc", "corrupt"),
                        ("other.bin", "neither a jndlc file nor a JPEG"), ("short.jpg", "short.jpg")]:
        _fails(["decompress", str(tmp_path / name), "-o", str(out)], [match], out)
    _fails(["decompress", str(good), "-o", str(out), "--model", str(smoke_models / "baseline-mse-q4")],
           ["good.jndc", "refusing to decode with another model"], out)


def _jpeg(image, tmp_path):
    main(["compress", str(image), "-o", str(tmp_path / "full.jpg"), "--codec", "jpeg", "--quality", "90"])
    return (tmp_path / "full.jpg").read_bytes()


def test_the_installed_command_prints_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "jndlc_helpers", "decompress", str(tmp_path / "none.jndc"), "-o",
                        str(tmp_path / "x.png")], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("jndlc decompress:")
