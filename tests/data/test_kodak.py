import io
from urllib.error import URLError

import numpy as np
import pytest
from PIL import Image

from jndlc_helpers.data import kodak
from jndlc_helpers.data.kodak import KODAK_NAMES, DownloadError, fetch_kodak, kodak_paths


def _png_bytes(value):
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 6, 3), value, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class _Resp(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_fetch_kodak_downloads_missing_only(tmp_path, monkeypatch):
    dest = tmp_path / "kodak"
    dest.mkdir()
    (dest / "kodim01.png").write_bytes(_png_bytes(1))  # already there: kept
    asked = []

    def fake_urlopen(url, timeout):
        asked.append(url)
        return _Resp(_png_bytes(int(url[-6:-4])))

    monkeypatch.setattr(kodak, "urlopen", fake_urlopen)
    assert fetch_kodak(dest, progress=False) == dest
    assert len(asked) == 23 and asked[0].endswith("/kodim02.png")
    assert asked[-1] == "https://r0k.us/graphics/kodak/kodak/kodim24.png"
    paths = kodak_paths(dest)
    assert [p.name for p in paths] == list(KODAK_NAMES)
    assert np.asarray(Image.open(dest / "kodim07.png"))[0, 0, 0] == 7
    assert not list(dest.glob(".*"))  # no temporary files left
    asked.clear()
    fetch_kodak(dest, progress=False)
    assert asked == []  # all present: no request at all


def test_fetch_kodak_offline_says_what_to_do(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(kodak, "urlopen", offline)
    dest = tmp_path / "kodak"
    with pytest.raises(DownloadError, match=r"by hand into .*kodak") as e:
        fetch_kodak(dest, progress=False)
    assert "kodim01.png" in str(e.value)
    assert not list(dest.glob("*.png"))
    with pytest.raises(FileNotFoundError, match=r"24 Kodak image\(s\) missing"):
        kodak_paths(dest)


def test_fetch_kodak_rejects_non_png(tmp_path, monkeypatch):
    monkeypatch.setattr(kodak, "urlopen", lambda url, timeout: _Resp(b"<html>captive portal</html>"))
    with pytest.raises(DownloadError, match="did not return a PNG"):
        fetch_kodak(tmp_path / "k", progress=False)
    assert not (tmp_path / "k" / "kodim01.png").exists()
