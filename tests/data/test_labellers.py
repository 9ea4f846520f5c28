import io
import math

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from jndlc_helpers.data import labellers
from jndlc_helpers.data.labellers import (
    jpeg_encode,
    jpeg_roundtrip,
    label_image,
    ms_ssim,
    namm_profile,
    namm_visible_fraction,
    psnr,
    search_lowest_qf,
)


def test_jpeg_setting_recorded_and_applied(make_rgb):
    rgb = make_rgb(32, 48)
    data = jpeg_encode(rgb, 40)
    im = Image.open(io.BytesIO(data))
    assert JpegImagePlugin.get_sampling(im) == 2  # 4:2:0
    assert "progressive" not in im.info and "progression" not in im.info
    dec, n = jpeg_roundtrip(rgb, 40)
    assert n == len(data) and dec.shape == rgb.shape and dec.dtype == np.uint8
    assert jpeg_encode(rgb, 40) == data  # deterministic
    with pytest.raises(ValueError, match="1..100"):
        jpeg_encode(rgb, 0)


def test_quality_metrics(make_rgb):
    a = make_rgb(200, 200)
    b = np.clip(a.astype(int) + 4, 0, 255).astype(np.uint8)
    assert math.isinf(psnr(a, a))
    assert psnr(a, b) == pytest.approx(10 * np.log10(255**2 / 16), abs=0.05)
    assert 0.9 < ms_ssim(a, b) <= 1.0
    assert math.isnan(ms_ssim(a[:160], b[:160]))  # 5 scales need > 160 px


def test_search_checks_every_higher_quality():
    # Passes everywhere except at QF 60: the answer must stay above 60, although 30 passes.
    tried = []
    qf, found, order = search_lowest_qf(lambda q: tried.append(q) or q != 60)
    assert (qf, found) == (61, True)
    assert order[:5] == [100, 90, 80, 70, 60] and 30 not in order


def test_search_monotone_threshold_and_cost():
    for jnd in (1, 7, 37, 64, 99, 100):
        qf, found, order = search_lowest_qf(lambda q: q >= jnd)
        assert (qf, found) == (jnd, True)
        assert order[: (100 - max(jnd, 10)) // 10 + 1] == list(range(100, max(jnd, 10) - 1, -10))
        assert len(order) <= (100 - jnd) // 10 + 7
    qf, found, _ = search_lowest_qf(lambda q: False)
    assert (qf, found) == (100, False)
    assert search_lowest_qf(lambda q: q >= 37, grid=range(100, 0, -5), refine_steps=(1,))[0] == 37
    with pytest.raises(ValueError, match="1..100"):
        search_lowest_qf(lambda q: True, grid=[0, 50])


def test_namm_luminance_adaptation():
    t = lambda v: namm_profile(np.full((16, 16, 3), v, np.uint8))[8, 8]  # noqa: E731
    assert t(127) == pytest.approx(3.0)  # flat: no masking, T = T_l
    assert t(0) == pytest.approx(20.0)
    assert t(255) == pytest.approx(6.0)
    assert t(64) == pytest.approx(17 * (1 - np.sqrt(64 / 127)) + 3)


def test_namm_contrast_masking(make_rgb):
    rng = np.random.default_rng(0)
    flat = np.full((48, 48, 3), 127, np.uint8)
    texture = np.clip(127 + rng.normal(0, 30, (48, 48, 1)), 0, 255).astype(np.uint8).repeat(3, 2)
    assert namm_profile(texture)[16:32, 16:32].mean() > namm_profile(flat).mean() + 1
    rgb = make_rgb(64, 64)
    assert namm_visible_fraction(rgb, rgb) == 0.0
    noisy = np.clip(rgb.astype(int) + rng.integers(-40, 41, rgb.shape), 0, 255).astype(np.uint8)
    assert namm_visible_fraction(rgb, noisy) > 0.2


def test_label_image_namm(make_rgb):
    rgb = make_rgb(96, 80)
    out = label_image(rgb, "namm")
    assert set(out) >= {"qf", "jod", "psnr", "ms_ssim", "bpp", "jnd_rgb", "labeller", "params"}
    assert 1 <= out["qf"] <= 100 and out["labeller"] == "namm"
    assert np.array_equal(out["jnd_rgb"], jpeg_roundtrip(rgb, out["qf"])[0])
    assert math.isnan(out["jod"]) and math.isnan(out["ms_ssim"])  # 96 px < 161
    assert out["bpp"] == pytest.approx(jpeg_roundtrip(rgb, out["qf"])[1] * 8 / (96 * 80))
    assert out["psnr"] == pytest.approx(psnr(rgb, out["jnd_rgb"]))
    assert out["scores"][out["qf"]] <= out["params"]["max_visible"]
    loose = label_image(rgb, "namm", max_visible=0.3)
    assert loose["qf"] <= out["qf"]


def test_label_image_bad_arguments(make_rgb):
    rgb = make_rgb(16, 16)
    with pytest.raises(ValueError, match="unknown labeller 'vmaf'"):
        label_image(rgb, "vmaf")
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        label_image(rgb.astype(np.float32), "namm")
    with pytest.raises(ValueError, match="tau"):
        label_image(rgb, "cvvdp", tau=0)


def test_label_image_cvvdp_tiny(make_rgb):
    pytest.importorskip("pycvvdp")
    rgb = make_rgb(64, 64)
    grid = (100, 70, 40, 10)
    strict = label_image(rgb, "cvvdp", tau=0.5, qf_grid=grid, refine_steps=())
    loose = label_image(rgb, "cvvdp", tau=2.0, qf_grid=grid, refine_steps=())
    for out, tau in ((strict, 0.5), (loose, 2.0)):
        assert out["jod"] >= 10 - tau and out["jod"] <= 10.01
        # every higher tested QF passes too
        assert all(s >= 10 - tau for q, s in out["scores"].items() if q >= out["qf"])
    assert loose["qf"] <= strict["qf"]
    assert strict["params"]["display"] == labellers.DEFAULT_DISPLAY


def test_failed_search_is_not_a_silent_qf_100(make_rgb, tmp_path):
    rgb = make_rgb(64, 64)
    ok = label_image(rgb, "namm", max_visible=0.5)
    assert ok["status"] == "ok"
    failed = label_image(rgb, "namm", max_visible=0.0, qf_grid=(90, 80))
    assert failed["qf"] == 90 and failed["params"]["found"] is False
    assert failed["status"].startswith("no JND found: even QF 90 fails (visible fraction")
    csv = tmp_path / "labels.csv"
    csv.write_text(f"image,qf,status\na,40,ok\nb,90,{failed['status']}\n")
    with pytest.raises(ValueError, match=r"labels.csv: 1 image\(s\) have no JND label \(b: no JND found"):
        labellers.check_labels(csv)
    csv.write_text("image,qf\na,40\n")
    labellers.check_labels(csv)  # older files without the column pass
