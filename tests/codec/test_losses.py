"""Losses: values on hand-computed inputs, gradients, baseline == CompressAI, IWL == baseline in gradient."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from jndlc_helpers.codec import losses
from jndlc_helpers.codec.losses import make_loss

LMBDA = 0.0067


def const(value: float, n: int = 1, size: int = 8, dtype=torch.float64) -> torch.Tensor:
    return torch.full((n, 3, size, size), value, dtype=dtype)


def half_likelihoods(n: int = 1, dtype=torch.float64) -> dict[str, torch.Tensor]:
    # 4*2*2 + 2*1*1 = 18 symbols of probability 1/2 per image: 18 bits per image
    return {"y": torch.full((n, 4, 2, 2), 0.5, dtype=dtype), "z": torch.full((n, 2, 1, 1), 0.5, dtype=dtype)}


def out_net(x_hat: torch.Tensor, likelihoods: dict[str, torch.Tensor] | None = None) -> dict:
    return {"x_hat": x_hat, "likelihoods": likelihoods or half_likelihoods(x_hat.shape[0], x_hat.dtype)}


# ----------------------------------------------------------------------------- values, MSE


@pytest.mark.parametrize("name, expected_d", [
    ("baseline", 0.01),            # MSE(0.5, 0.6)
    ("pwl", 0.0025),               # MSE(0.55, 0.6)
    ("iwl", 0.01 - 0.0025),        # MSE(x_o, x_hat) - MSE(x_o, x_j)
    ("iwl-hinge", 0.01 - 0.0025),  # positive here: same as IWL
])
def test_mse_losses_on_constant_images(name, expected_d):
    x_o, x_j, x_hat = const(0.5), const(0.55), const(0.6)
    out = make_loss(name, "mse", LMBDA)(out_net(x_hat), x_o, x_j)
    bpp = 18 / 64  # 18 bits over one 8x8 image
    assert out["bpp_loss"].item() == pytest.approx(bpp, rel=1e-12)
    assert out["mse_loss"].item() == pytest.approx(0.01, rel=1e-9)
    assert out["distortion"].item() == pytest.approx(255**2 * expected_d, rel=1e-9)
    assert out["loss"].item() == pytest.approx(LMBDA * 255**2 * expected_d + bpp, rel=1e-9)


def test_iwl_hinge_is_a_per_image_hinge():
    x_o, x_j = const(0.5, n=2), const(0.55, n=2)  # d(x_o, x_j) = 0.0025 for both images
    x_hat = torch.cat([const(0.6), const(0.52)])  # MSE 0.01 (worse than JND), 0.0004 (better)
    hinge = make_loss("iwl-hinge", "mse", LMBDA)(out_net(x_hat), x_o, x_j)
    iwl = make_loss("iwl", "mse", LMBDA)(out_net(x_hat), x_o, x_j)
    assert hinge["distortion"].item() == pytest.approx(255**2 * (0.0075 + 0.0) / 2, rel=1e-9)
    assert iwl["distortion"].item() == pytest.approx(255**2 * (0.0075 - 0.0021) / 2, rel=1e-9)
    assert hinge["jnd_distortion"].item() == pytest.approx(0.0025, rel=1e-9)


def test_fwl_weights_pixel_and_feature_terms():
    x_o, x_j, x_hat = const(0.5), const(0.55), const(0.6)
    fwl = make_loss("fwl", "mse", LMBDA, features=nn.Identity(), fwl_weight=0.9)
    out = fwl(out_net(x_hat), x_o, x_j)
    # pixel term carries 255**2, the feature term (here F = identity: MSE(x_hat, x_j)) does not
    d = 0.9 * 255**2 * 0.01 + 0.1 * 0.0025
    assert out["feature_loss"].item() == pytest.approx(0.0025, rel=1e-9)
    assert out["distortion"].item() == pytest.approx(d, rel=1e-9)
    assert out["loss"].item() == pytest.approx(LMBDA * d + 18 / 64, rel=1e-9)


def test_fwl_feature_scale_and_the_share_it_reports():
    x_o, x_j, x_hat = const(0.5), const(0.55), const(0.6)
    fwl = make_loss("fwl", "mse", LMBDA, features=nn.Identity(), fwl_weight=0.5, feature_scale=4000.0)
    out = fwl(out_net(x_hat), x_o, x_j)
    pixel, feature = 0.5 * 255**2 * 0.01, 0.5 * 4000.0 * 0.0025
    assert out["distortion"].item() == pytest.approx(pixel + feature, rel=1e-9)
    assert out["feature_share"].item() == pytest.approx(feature / (pixel + feature), rel=1e-9)
    assert out["feature_loss"].item() == pytest.approx(0.0025, rel=1e-9)  # F's MSE itself, unscaled
    with pytest.raises(ValueError, match="feature_scale"):
        make_loss("fwl", "mse", LMBDA, features=nn.Identity(), feature_scale=0.0)


# ----------------------------------------------------------------------------- values, MS-SSIM


def msssim_of_constants(a: float, b: float) -> float:
    """MS-SSIM of two constant images: every cs is 1, only the coarsest luminance term is left.

    (pytorch-msssim's float32 Gaussian window sums to 1 only to ~1e-7, which leaves a
    variance of ~1e-8 against C2 = 9e-4: the computed value is within ~1e-5 of this.)
    """
    c1 = (0.01 * 1.0) ** 2
    return ((2 * a * b + c1) / (a * a + b * b + c1)) ** 0.1333


@pytest.mark.parametrize("name", ["baseline", "pwl", "iwl", "iwl-hinge"])
def test_msssim_losses_on_constant_images(name):
    size = 176  # 5 scales of pytorch-msssim need > 160 px; 176 halves evenly 4 times
    x_o, x_j, x_hat = const(0.5, size=size), const(0.4, size=size), const(0.3, size=size)
    out = make_loss(name, "ms-ssim", 8.73)(out_net(x_hat), x_o, x_j)
    d_o, d_j, d_oj = (1 - msssim_of_constants(0.5, 0.3), 1 - msssim_of_constants(0.4, 0.3),
                      1 - msssim_of_constants(0.5, 0.4))
    expected = {"baseline": d_o, "pwl": d_j, "iwl": d_o - d_oj, "iwl-hinge": max(0.0, d_o - d_oj)}[name]
    assert out["ms_ssim_loss"].item() == pytest.approx(1 - d_o, abs=1e-5)
    assert out["distortion"].item() == pytest.approx(expected, abs=1e-5)
    assert out["loss"].item() == pytest.approx(8.73 * expected + 18 / size**2, abs=1e-4)


# ----------------------------------------------------------------------------- CompressAI


@pytest.mark.parametrize("metric, size", [("mse", 32), ("ms-ssim", 176)])
def test_baseline_equals_compressai(metric, size):
    from compressai.losses import RateDistortionLoss

    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, size, size, generator=g)
    x_hat = (x + 0.05 * torch.randn(x.shape, generator=g)).requires_grad_()
    lik = {"y": torch.rand(1, 8, size // 16, size // 16, generator=g) * 0.9 + 0.05,
           "z": torch.rand(1, 4, size // 64 or 1, size // 64 or 1, generator=g) * 0.9 + 0.05}
    lmbda = 0.013 if metric == "mse" else 16.64
    ours = make_loss("baseline", metric, lmbda)(out_net(x_hat, lik), x, x)
    theirs = RateDistortionLoss(lmbda=lmbda, metric=metric)({"x_hat": x_hat, "likelihoods": lik}, x)
    key = "mse_loss" if metric == "mse" else "ms_ssim_loss"
    for k in ("loss", "bpp_loss", key):
        assert torch.equal(ours[k], theirs[k]), k
    g_ours, = torch.autograd.grad(ours["loss"], x_hat)
    g_theirs, = torch.autograd.grad(theirs["loss"], x_hat)
    assert torch.equal(g_ours, g_theirs)


# ----------------------------------------------------------------------------- gradients


def small_inputs(n: int = 2, size: int = 8):
    g = torch.Generator().manual_seed(1)
    x_o = torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)
    x_j = (x_o + 0.05 * torch.randn(x_o.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    # distortion well above the JND level, so the hinge is away from its kink
    x_hat = (x_o + 0.3 * torch.randn(x_o.shape, generator=g, dtype=torch.float64)).requires_grad_()
    y = (torch.rand(n, 4, 2, 2, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    return x_o, x_j, x_hat, y


@pytest.mark.parametrize("name", ["baseline", "pwl", "iwl", "iwl-hinge", "fwl"])
def test_mse_loss_gradients_gradcheck(name):
    x_o, x_j, x_hat, y = small_inputs(n=2, size=4)
    loss = make_loss(name, "mse", LMBDA, features=nn.AvgPool2d(2) if name == "fwl" else None)

    def f(x_hat, y):
        return loss({"x_hat": x_hat, "likelihoods": {"y": y}}, x_o, x_j)["loss"]

    assert torch.autograd.gradcheck(f, (x_hat, y))


def test_baseline_mse_gradient_analytic():
    x_o, x_j, x_hat, y = small_inputs()
    out = make_loss("baseline", "mse", LMBDA)({"x_hat": x_hat, "likelihoods": {"y": y}}, x_o, x_j)
    g_x, g_y = torch.autograd.grad(out["loss"], (x_hat, y))
    n, _, h, w = x_o.shape
    assert torch.allclose(g_x, LMBDA * 255**2 * 2 * (x_hat - x_o) / x_o.numel())
    assert torch.allclose(g_y, -1 / (math.log(2) * n * h * w) / y)


def directional_check(fn, x: torch.Tensor, eps: float = 1e-6) -> None:
    """Central finite difference along a random direction == autograd's directional derivative."""
    g = torch.Generator().manual_seed(2)
    v = torch.randn(x.shape, generator=g, dtype=x.dtype)
    grad, = torch.autograd.grad(fn(x), x)
    with torch.no_grad():
        fd = (fn(x + eps * v) - fn(x - eps * v)) / (2 * eps)
    assert (grad * v).sum().item() == pytest.approx(fd.item(), rel=1e-4, abs=1e-8)


@pytest.mark.parametrize("name", ["baseline", "pwl", "iwl", "iwl-hinge"])
def test_msssim_loss_gradients_finite_difference(name):
    g = torch.Generator().manual_seed(3)
    x_o = torch.rand(1, 1, 176, 176, generator=g, dtype=torch.float64)  # one channel: 3x cheaper
    x_j = (x_o + 0.02 * torch.randn(x_o.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    x_hat = (x_o + 0.2 * torch.randn(x_o.shape, generator=g, dtype=torch.float64)).clamp(0, 1).requires_grad_()
    loss = make_loss(name, "ms-ssim", 8.73)
    lik = {"y": torch.full((1, 4, 11, 11), 0.3, dtype=torch.float64)}
    directional_check(lambda xh: loss({"x_hat": xh, "likelihoods": lik}, x_o, x_j)["loss"], x_hat)


def test_fwl_nlpd_gradient_finite_difference():
    from jndlc_helpers.codec.features import get_features

    x_o, x_j, _, y = small_inputs(n=1, size=32)
    x_hat = (x_o + 0.1).detach().requires_grad_()
    loss = make_loss("fwl", "mse", LMBDA, features=get_features("nlpd").double())
    directional_check(lambda xh: loss({"x_hat": xh, "likelihoods": {"y": y.detach()}}, x_o, x_j)["loss"], x_hat)


# ----------------------------------------------------------------------------- the IWL identity


@pytest.mark.parametrize("metric, size", [("mse", 64), ("ms-ssim", 192)])
def test_iwl_gradients_equal_baseline(metric, size):
    """Eq. 7 subtracts a constant: same model, same input -> same parameter gradients."""
    from compressai.models import ScaleHyperprior

    torch.manual_seed(0)
    model = ScaleHyperprior(8, 12)
    x_o = torch.rand(1, 3, size, size)
    x_j = (x_o + 0.03 * torch.randn_like(x_o)).clamp(0, 1)
    out = model(x_o)
    lmbda = 0.0067 if metric == "mse" else 8.73
    params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    base = make_loss("baseline", metric, lmbda)(out, x_o, x_j)["loss"]
    iwl = make_loss("iwl", metric, lmbda)(out, x_o, x_j)["loss"]
    g_base = torch.autograd.grad(base, params, retain_graph=True, allow_unused=True)
    g_iwl = torch.autograd.grad(iwl, params, retain_graph=True, allow_unused=True)
    assert not torch.isclose(base, iwl)  # the values differ by lmbda * s * d(x_o, x_j) ...
    for a, b in zip(g_base, g_iwl):  # ... the gradients do not
        assert (a is None and b is None) or torch.allclose(a, b, rtol=1e-5, atol=1e-7)


def test_iwl_hinge_gradient_differs_when_better_than_jnd():
    x_o, x_j = const(0.5, n=2), const(0.55, n=2)
    x_hat = torch.cat([const(0.6), const(0.52)]).requires_grad_()
    lik = half_likelihoods(2)
    g_hinge, = torch.autograd.grad(make_loss("iwl-hinge", "mse", LMBDA)(out_net(x_hat, lik), x_o, x_j)["loss"], x_hat)
    g_base, = torch.autograd.grad(make_loss("baseline", "mse", LMBDA)(out_net(x_hat, lik), x_o, x_j)["loss"], x_hat)
    assert torch.all(g_hinge[1] == 0)  # better than its JND image: no distortion gradient
    assert torch.allclose(g_hinge[0], g_base[0])  # equal-size images: mean of per-image MSEs == batch MSE
    assert not torch.allclose(g_hinge, g_base)


# ----------------------------------------------------------------------------- factory


def test_make_loss_errors_name_the_parameter():
    with pytest.raises(ValueError, match="unknown loss 'foo'"):
        make_loss("foo", "mse", 0.01)
    with pytest.raises(ValueError, match="distortion"):
        make_loss("baseline", "psnr", 0.01)
    with pytest.raises(ValueError, match="features"):
        make_loss("fwl", "mse", 0.01)
    with pytest.raises(ValueError, match="fwl_weight"):
        make_loss("fwl", "mse", 0.01, features=nn.Identity(), fwl_weight=1.5)
    assert set(losses.LOSS_NAMES) == {"baseline", "pwl", "iwl", "iwl-hinge", "fwl"}


@pytest.mark.parametrize("name", ["baseline", "pwl", "iwl", "iwl-hinge", "fwl"])
def test_each_loss_takes_msssim_of_the_reconstruction_once(name, monkeypatch):
    # The fidelity to the original is both reported and (for most losses) the distortion:
    # computed twice it would cost a tenth of a CPU step at 192 px.
    calls = []

    def counting(a, b, **kw):
        calls.append(a is x_hat)
        return losses_ms_ssim(a, b, **kw)

    losses_ms_ssim = losses.ms_ssim
    monkeypatch.setattr(losses, "ms_ssim", counting)
    x_o, x_j = const(0.5, n=2, size=176), const(0.4, n=2, size=176)
    x_hat = const(0.3, n=2, size=176).requires_grad_()
    loss = make_loss(name, "ms-ssim", 8.73, features=nn.Conv2d(3, 2, 3).double() if name == "fwl" else None)
    out = loss(out_net(x_hat), x_o, x_j)
    out["loss"].backward()
    assert calls.count(True) == (2 if name == "pwl" else 1)  # pwl: d(x_j, x_hat), and the report
    assert x_hat.grad is not None and "ms_ssim_loss" in out
