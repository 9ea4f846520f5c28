import math

import numpy as np
import pytest
import torch
from PIL import Image
from pytorch_msssim import ms_ssim as ref_ms_ssim

from jndlc_helpers.evaluation import metrics as M


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 60 * np.sin(xx / 9 + c) + 40 * np.cos(yy / 7 - c) for c in range(3)], -1)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def noisy(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).round().astype(np.uint8)


def test_psnr_matches_definition():
    a = smooth_image(32, 40)
    b = noisy(a, 5)
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    assert M.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-9)
    assert M.psnr(a, a) == math.inf


def test_float_inputs_are_rounded_to_8bit():
    a = smooth_image(16, 16)
    x = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    # a perturbation below half a code value disappears after rounding to 8 bits
    assert M.psnr(x, x + 0.4 / 255) == math.inf
    # out-of-range values are clamped first
    assert torch.equal(M.to_8bit(x * 0 + 1.7), torch.full_like(x, 255.0))
    assert np.array_equal(M.to_uint8_array(x), a)


def test_ms_ssim_is_pytorch_msssim_on_8bit_values_and_db():
    a = smooth_image(192, 180)
    b = noisy(a, 8)
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].float()
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].float()
    expect = ref_ms_ssim(ta, tb, data_range=255).item()
    got = M.ms_ssim(a, b)
    assert got == pytest.approx(expect, abs=1e-7)
    assert M.ms_ssim_db(got) == pytest.approx(-10 * math.log10(1 - expect), abs=1e-5)


def test_ms_ssim_small_images_give_nan_not_an_error():
    a = smooth_image(160, 200)
    assert math.isnan(M.ms_ssim(a, noisy(a, 3)))
    m = M.image_metrics(a, noisy(a, 3))
    assert math.isnan(m["ms_ssim"]) and math.isnan(m["ms_ssim_db"]) and math.isnan(m["jod"])
    assert np.isfinite(m["psnr"])


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="shapes differ"):
        M.psnr(smooth_image(16, 16), smooth_image(16, 17))


def test_jnd_quality_table(tmp_path):
    pairs = []
    for i, (h, w) in enumerate([(64, 64), (180, 176)]):
        ref = smooth_image(h, w, seed=i)
        jnd = noisy(ref, 6, seed=i + 10)
        rp, jp = tmp_path / f"img{i}.png", tmp_path / f"img{i}_jnd.png"
        Image.fromarray(ref).save(rp)
        Image.fromarray(jnd).save(jp)
        pairs.append((rp, jp))
    t = M.jnd_quality_table(pairs)
    assert list(t.columns) == ["image", "psnr", "ms_ssim", "ms_ssim_db"]
    assert list(t["image"]) == ["img0", "img1"]
    ref1, jnd1 = np.asarray(Image.open(pairs[1][0])), np.asarray(Image.open(pairs[1][1]))
    assert t.loc[1, "psnr"] == pytest.approx(M.psnr(ref1, jnd1))
    assert math.isnan(t.loc[0, "ms_ssim"]) and 0 < t.loc[1, "ms_ssim"] < 1
    assert t.loc[1, "ms_ssim_db"] == pytest.approx(M.ms_ssim_db(t.loc[1, "ms_ssim"]))


def test_jnd_quality_table_names_mismatched_file(tmp_path):
    Image.fromarray(smooth_image(20, 20)).save(tmp_path / "a.png")
    Image.fromarray(smooth_image(20, 24)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="b.png"):
        M.jnd_quality_table([(tmp_path / "a.png", tmp_path / "b.png")])


def test_jod_with_colorvideovdp():
    a = smooth_image(64, 64)
    same = M.jod_score(a, a)
    worse = M.jod_score(a, noisy(a, 25))
    assert same == pytest.approx(10.0, abs=0.05)
    assert worse < same
    assert M.jod_metric() is M.jod_metric()  # created once, cached
    m = M.image_metrics(a, noisy(a, 25), jod=True)
    assert m["jod"] == pytest.approx(worse, abs=1e-4)
