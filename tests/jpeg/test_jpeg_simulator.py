"""The simulator against Pillow's libjpeg: tables, decoded images and coefficients."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from jndlc_helpers.jpeg import bitstream as B
from jndlc_helpers.jpeg import simulator as S
from jndlc_helpers.jpeg.rate import rgb_tensor


def pillow_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255**2 / np.mean((np.asarray(a, float) - b) ** 2))


@pytest.mark.parametrize("quality", [10, 50, 90])
def test_tables_are_pillows(quality, make_rgb):
    with Image.open(io.BytesIO(pillow_jpeg(make_rgb(16, 16), quality))) as im:
        tables = im.quantization
    luma, chroma = S.quant_tables(quality)
    assert list(luma.int()) == list(tables[0]) and list(chroma.int()) == list(tables[1])


def test_reconstruction_matches_pillow(make_rgb):
    # far closer to Pillow's decode than the codec is to the original, at every QF
    for seed, (h, w) in enumerate([(64, 48), (72, 90)]):  # the second needs libjpeg's edge padding
        rgb = make_rgb(h, w, seed=seed, high=255)
        for q in range(10, 91, 20):
            dec = decode(pillow_jpeg(rgb, q))
            sim = S.simulate(rgb_tensor(rgb), q)[0].permute(1, 2, 0).numpy()
            assert psnr(sim, dec) > 44, (seed, q, psnr(sim, dec))
            assert psnr(sim, dec) > psnr(rgb, dec) + 8


@pytest.mark.parametrize("quality", [25, 50, 75])
def test_coefficients_equal_libjpegs_on_made_up_blocks(quality):
    # grey blocks made of chosen levels: libjpeg must code exactly those levels
    rng = np.random.default_rng(quality)
    levels = np.zeros((1, 1, 64, 2, 4))
    for i in rng.integers(0, 20, 12):
        levels[0, 0, S.ZIGZAG[i], rng.integers(0, 2), rng.integers(0, 4)] = rng.integers(-3, 4)
    levels[0, 0, 0] = rng.integers(-4, 5, (2, 4))
    ql, _ = S.quant_tables(quality)
    y = S.block_idct(torch.tensor(levels, dtype=torch.float32) * ql.view(1, 1, 64, 1, 1)) + 128
    grey = np.repeat(np.clip(np.round(y[0, 0].numpy()), 0, 255).astype(np.uint8)[..., None], 3, 2)
    coefs = B.read_coefficients(pillow_jpeg(grey, quality))
    got = coefs.components[0][:2, :4].transpose(2, 0, 1)
    assert (got == levels[0, 0]).all()
    assert not coefs.components[1].any() and not coefs.components[2].any()  # grey: chroma is flat


def test_coefficients_of_noise_agree_with_libjpeg():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (32, 48, 3)).astype(np.uint8)
    for q in (10, 50, 90):
        coefs = B.read_coefficients(pillow_jpeg(rgb, q))
        sim = S.quantise(S.analyse(rgb_tensor(rgb), q, exact=True))
        mine = [sim.luma[0, 0], sim.chroma[0, 0], sim.chroma[0, 1]]
        for theirs, ours in zip(coefs.components, mine):
            diff = np.abs(theirs - ours.permute(1, 2, 0).numpy())
            assert diff.max() <= 1 and (diff == 0).mean() > 0.98  # ties of libjpeg's integer DCT


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="quality"):
        S.quant_tables(0)
    with pytest.raises(ValueError, match="x must be a float tensor"):
        S.analyse(torch.zeros(1, 1, 16, 16), 50)


def test_reader_refuses_what_is_not_baseline(make_rgb):
    buf = io.BytesIO()
    Image.fromarray(make_rgb(32, 32)).save(buf, format="JPEG", quality=50, progressive=True)
    with pytest.raises(B.JPEGFormatError, match="SOF2"):
        B.read_coefficients(buf.getvalue())
    with pytest.raises(B.JPEGFormatError, match="not a JPEG"):
        B.read_coefficients(b"\x89PNG\r\n")
