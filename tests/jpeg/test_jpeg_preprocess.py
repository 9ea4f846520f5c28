"""The classical anchor and the network: what they hand to JPEG, and that any
baseline decoder reads the result."""
import io

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from PIL import Image

from jndlc_helpers.jpeg import bitstream as B
from jndlc_helpers.jpeg import classical as C
from jndlc_helpers.jpeg import evaluate as JE
from jndlc_helpers.jpeg import preprocess as PP
from jndlc_helpers.jpeg import simulator as S
from jndlc_helpers.jpeg.rate import RateProxy, default_proxy_path, rgb_tensor


@pytest.fixture(scope="module")
def proxy():
    return RateProxy.load(default_proxy_path())


def test_untrained_network_is_the_classical_anchor(make_rgb, proxy):
    rgb = make_rgb(64, 80, seed=1, high=255)
    a = C.classical_preprocess(rgb, 50, proxy)
    b = PP.preprocess_image(PP.Preprocessor(16), rgb, 50, proxy)
    assert np.array_equal(a, b)


def test_classical_saves_real_bytes(make_rgb, proxy):
    rgb = make_rgb(96, 96, seed=2, high=255)
    for q in (30, 70):
        plain, pre = JE.code_image(rgb, JE.plain_jpeg, q), JE.code_image(rgb, JE.classical_method(proxy), q)
        assert pre["bpp"] < plain["bpp"]


def test_bitstream_is_plain_baseline_jpeg(make_rgb, proxy):
    # standard compliance: our own entropy decoder, and imageio's reader, read the file
    rgb = make_rgb(48, 64, seed=3, high=255)
    r = JE.code_image(rgb, JE.classical_method(proxy), 60)
    coefs = B.read_coefficients(r["data"])
    assert (coefs.width, coefs.height) == (64, 48) and coefs.sampling == [(2, 2), (1, 1), (1, 1)]
    ours = S.synthesise(B.as_levels(coefs), 60, (48, 64), exact=True)  # decoded without libjpeg
    other = iio.imread(r["data"], extension=".jpg")
    assert other.shape == rgb.shape
    mse = np.mean((ours[0].permute(1, 2, 0).numpy() - other.astype(float)) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-9)) > 40


def test_relaxation_is_the_hard_decision_when_narrow(make_rgb, proxy):
    x = rgb_tensor(make_rgb(32, 32, seed=4, high=255))
    with torch.no_grad():
        u, scores = PP.decide(PP.Preprocessor(16), x, 40, torch.tensor([0.05]), proxy)
    means, probs = PP.relaxed_levels(u, scores, 1e-6)
    hard = C.choose_levels(u, scores)
    for m, h in zip(means, hard):
        assert torch.equal(m, h)
    assert float(PP.variance_sse(probs, 40)[0]) < 1e-3
    _, probs = PP.relaxed_levels(u, scores, 1e3)
    assert float(PP.variance_sse(probs, 40)[0]) > 0


def test_weights_round_trip_and_bad_files(tmp_path):
    model = PP.Preprocessor(8)
    path = PP.save_weights(tmp_path / "w.pt", model, {"multiplier": 0.5})
    loaded, meta = PP.load_weights(path)
    assert meta["multiplier"] == 0.5 and loaded.hidden == 8
    (tmp_path / "junk.pt").write_bytes(b"not torch")
    with pytest.raises(ValueError, match="junk.pt"):
        PP.load_weights(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        PP.load_weights(tmp_path / "missing.pt")


def test_ssim_weights_favour_flat_blocks():
    x = torch.full((1, 3, 16, 32), 120.0)
    x[..., 16:] += torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 30  # textured right half
    w = C.ssim_block_weights(x)
    assert w.shape == (1, 1, 2, 4) and float(w.mean()) == pytest.approx(1.0)
    assert float(w[..., :2].min()) > 5 * float(w[..., 2:].max())


def test_unit_block_weights_are_the_plain_rule(make_rgb, proxy):
    x = rgb_tensor(make_rgb(32, 48, seed=5, high=255))
    u = C.targets(x, 50)
    ones = S.Coefficients(torch.ones(1, 1, 1, 4, 6), torch.ones(1, 1, 1, 2, 3))
    lam = torch.tensor([0.03])
    for a, b in zip(C.rd_scores(u, 50, lam, proxy), C.rd_scores(u, 50, lam, proxy, ones)):
        assert torch.equal(a, b)


def test_ssim_weighted_anchor_is_its_own_method(make_rgb, proxy):
    rgb = make_rgb(64, 96, seed=6, high=255)
    assert C.jpeg_slope(rgb, 50, "ssim-weighted") > 0
    with pytest.raises(ValueError, match="slope metric"):
        C.jpeg_slope(rgb, 50, "ssim")
    plain, ssim = C.classical_preprocess(rgb, 50, proxy), C.classical_preprocess(rgb, 50, proxy, ssim_weighted=True)
    assert ssim.dtype == np.uint8 and ssim.shape == rgb.shape and not np.array_equal(plain, ssim)
    assert JE.MethodSpec(("ms-ssim",), "classical-ssim").build()(rgb, 50).shape == rgb.shape
