"""The anchors and the judges; each external encoder or judge skips with its reason."""
import shutil

import numpy as np
import pytest

from jndlc_helpers.atjnd import anchors as A
from jndlc_helpers.atjnd import judges as J


def test_fixed_qf_keeps_the_coverage_of_training_labels():
    assert A.fixed_qf([18, 30, 79, 23, 24, 24, 27, 30, 36, 27, 34, 30, 25], 0.9) == 36
    assert A.fixed_qf([10, 20], 1.0) == 20


def test_ssim_search_is_the_lowest_qf_reaching_the_target(make_rgb):
    rgb = make_rgb(48, 48, seed=2)
    target = A.ssim(rgb, A.C.code_jpeg(rgb, 70).rgb)
    out = A.ssim_search(rgb, target)
    assert out.setting["quality"] <= 70 and A.ssim(rgb, out.rgb) >= target
    assert A.ssim(rgb, A.C.code_jpeg(rgb, out.setting["quality"] - 1).rgb) < target


def test_jpeg_xl_at_distance_one(make_rgb):
    pytest.importorskip("imagecodecs", reason="JPEG XL needs imagecodecs")
    rgb = make_rgb(40, 48)
    out = A.jxl(rgb)
    assert out.rgb.shape == rgb.shape and out.data[:2] in (b"\xff\x0a", b"\x00\x00")


@pytest.mark.skipif(shutil.which(A.GUETZLI) is None, reason="Debian's guetzli is not installed")
def test_guetzli(make_rgb):
    rgb = make_rgb(32, 32)
    out = A.guetzli(rgb)
    assert out.data[:2] == b"\xff\xd8" and out.rgb.shape == rgb.shape


def test_a_missing_guetzli_is_said(monkeypatch, make_rgb):
    monkeypatch.setattr(A, "GUETZLI", "no-such-guetzli")
    with pytest.raises(A.Unavailable, match="apt-get install guetzli"):
        A.guetzli(make_rgb(16, 16))


@pytest.mark.skipif(shutil.which(J.BUTTERAUGLI) is None, reason="Debian's butteraugli_main is not installed")
def test_butteraugli(make_rgb):
    rgb = make_rgb(40, 40)
    assert J.butteraugli(rgb, rgb) == pytest.approx(0.0, abs=1e-6)
    assert J.butteraugli(rgb, A.C.code_jpeg(rgb, 20).rgb) > 1.0


def test_ssimulacra2_and_verdicts(make_rgb):
    pytest.importorskip("ssimulacra2", reason="pip install ssimulacra2")
    rgb = make_rgb(40, 40)
    assert J.ssimulacra2(rgb, rgb) == pytest.approx(100.0, abs=0.5)
    assert J.second_within("butteraugli", 0.9) and not J.second_within("butteraugli", 1.1)
    assert J.second_within("ssimulacra2", 85.0) and not J.second_within("ssimulacra2", 70.0)
    assert J.second_judge() in ("butteraugli", "ssimulacra2")
