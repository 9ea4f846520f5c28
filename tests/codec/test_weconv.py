"""The WeConv codec (``codec/weconv.py``): blocks, factory, bitstreams, checkpoints, training."""
from __future__ import annotations

import importlib
import json

import pytest
import torch
from test_train import TINY, smooth_pairs

from jndlc_helpers.codec import models, train, weconv
from jndlc_helpers.codec.checkpoint import WeightsUnavailableError, save_checkpoint
from jndlc_helpers.codec.runconfig import RunConfig
from jndlc_helpers.evaluation.evaluate import code_image
from jndlc_helpers.vocab import WECONV


def tiny(quality: int = 3, metric: str = "mse") -> weconv.WeConvMeanScaleHyperprior:
    torch.manual_seed(0)
    return models.build_model(WECONV, quality, metric, N=8, M=12, pretrained="scratch")


def test_blocks_keep_or_change_the_resolution_as_the_layers_they_replace():
    x = torch.randn(2, 8, 16, 12)
    assert weconv.WaveletStage(8)(x).shape == x.shape
    assert weconv.WeConvBlock(8, 12)(x).shape == (2, 12, 8, 6)
    assert weconv.WeConvBlock(8, 12, stride=1, kernel_size=3)(x).shape == (2, 12, 16, 12)
    assert weconv.WeConvUpBlock(8, 12)(x).shape == (2, 12, 32, 24)
    assert isinstance(weconv.WeConvBlock(8, 8, stride=1).skip, torch.nn.Identity)


def test_every_weight_of_a_block_learns():
    torch.manual_seed(0)
    for block in (weconv.WeConvBlock(4, 6), weconv.WeConvUpBlock(4, 6)):
        block(torch.randn(2, 4, 8, 8)).square().mean().backward()
        for name, p in block.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_the_model_has_weconv_blocks_where_the_issue_puts_them():
    model = tiny()
    kinds = {name: [type(m).__name__ for m in getattr(model, name)] for name in ("g_a", "g_s", "h_a", "h_s")}
    assert kinds["g_a"] == ["Conv2d", "GDN", "WeConvBlock", "WeConvBlock", "Conv2d"]
    assert kinds["g_s"] == ["ConvTranspose2d", "GDN", "WeConvUpBlock", "WeConvUpBlock", "ConvTranspose2d"]
    assert kinds["h_a"][0] == "WeConvBlock" and model.h_a[0].conv.stride == (1, 1)
    assert kinds["h_s"][0] == "WeConvUpBlock"
    out = model(torch.rand(1, 3, 64, 128))
    assert out["x_hat"].shape == (1, 3, 64, 128)
    assert out["likelihoods"]["y"].shape == (1, 12, 4, 8) and out["likelihoods"]["z"].shape == (1, 8, 1, 2)


@pytest.mark.parametrize("metric", ["mse", "ms-ssim"])
def test_the_factory_builds_it_at_every_quality(metric):
    for quality in range(1, 9):
        model, info = models.build_model_with_info(WECONV, quality, metric, N=8, M=12, pretrained="scratch")
        assert isinstance(model, weconv.WeConvMeanScaleHyperprior) and model.training
        assert (info["N"], info["M"], info["quality"], info["init"]) == (8, 12, quality, "scratch")
    default = models.build_model(WECONV, 5, metric, pretrained="scratch")
    assert (default.N, default.M) == models.DEFAULT_SMALL  # as mean-scale-hyperprior
    with pytest.raises(WeightsUnavailableError, match="scratch"):
        models.build_model(WECONV, 5, metric, pretrained="zoo")


def test_the_class_is_ours_and_the_meta_says_so():
    assert models.model_class(WECONV) is weconv.WeConvMeanScaleHyperprior
    meta = models.class_meta(WECONV)
    assert meta["compressai_arch"] is None
    module, _, name = meta["model_class"].rpartition(".")
    assert getattr(importlib.import_module(module), name) is weconv.WeConvMeanScaleHyperprior
    assert models.class_meta("mean-scale-hyperprior") == {"compressai_arch": "mbt2018-mean"}


def test_from_state_dict_rebuilds_the_same_model():
    model = tiny().eval()
    again = weconv.WeConvMeanScaleHyperprior.from_state_dict(model.state_dict()).eval()
    assert (again.N, again.M) == (8, 12)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x)["x_hat"], again(x)["x_hat"])


def test_bitstreams_round_trip():
    """``compress`` writes real bytes; the decoder's latents are the encoder's
    (``code_image`` checks y_hat and z_hat) and the image decodes at its size."""
    model = tiny().eval()
    model.update(force=True)
    x = torch.rand(1, 3, 80, 100)  # padded to 128 x 128 inside
    out = code_image(model, x)
    assert out["x_hat"].shape == x.shape and out["n_bytes"] > 0
    enc = model.compress(x[..., :64, :64])
    assert all(isinstance(s, bytes) for strings in enc["strings"] for s in strings)
    assert model.decompress(enc["strings"], enc["shape"])["x_hat"].shape == (1, 3, 64, 64)


def test_checkpoints_save_and_load(tmp_path):
    model = tiny(quality=2)
    run = tmp_path / "base" / "baseline-mse-q2"
    meta = {"architecture": WECONV, "metric": "mse", "quality": 2, **models.class_meta(WECONV)}
    save_checkpoint(run / "checkpoint.pth.tar", model, meta=meta)
    (run / "done.json").write_text("{}")
    loaded, got = models.load_checkpoint(run / "checkpoint.pth.tar")
    assert isinstance(loaded, weconv.WeConvMeanScaleHyperprior) and not loaded.training
    assert got["compressai_arch"] is None
    weights = dict(loaded.named_parameters())
    for key, value in model.named_parameters():
        assert torch.equal(weights[key], value), key
    assert code_image(loaded, torch.rand(1, 3, 64, 64))["bpp"] > 0
    again, info = models.build_model_with_info(WECONV, 2, "mse", pretrained=tmp_path / "base")
    assert info["init"] == "file" and torch.equal(again.g_a[2].wavelet.high[0].weight,
                                                  model.g_a[2].wavelet.high[0].weight)
    with pytest.raises(ValueError, match="not mean-scale-hyperprior"):
        models.build_model("mean-scale-hyperprior", 2, "mse", pretrained=tmp_path / "base")


def test_amp_keeps_latents_and_rates_in_float32():
    model = models.amp_in_fp32(tiny().eval())
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y = model.g_a(torch.rand(1, 3, 64, 64))
        out = model(torch.rand(1, 3, 64, 64))
    assert y.dtype == torch.float32
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in out["likelihoods"].values())


def test_a_training_run_writes_a_loadable_checkpoint_whose_meta_names_the_class(tmp_path):
    run = tmp_path / "baseline-mse-q3"
    ckpt = train.train_run(run, RunConfig(quality=3, architecture=WECONV, max_steps=2, **TINY),
                           dataset=smooth_pairs(n=4))
    model, meta = models.load_checkpoint(ckpt)
    assert isinstance(model, weconv.WeConvMeanScaleHyperprior)
    assert meta["architecture"] == WECONV and meta["compressai_arch"] is None
    assert meta["model_class"] == "jndlc_helpers.codec.weconv.WeConvMeanScaleHyperprior"
    assert json.loads((run / "done.json").read_text())["steps"] == 2


def test_channels_last_gives_the_same_reconstruction():
    model, x = tiny().eval(), torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)["x_hat"]
        model = model.to(memory_format=torch.channels_last)
        out = model(x.to(memory_format=torch.channels_last))["x_hat"]
    assert torch.allclose(out, ref, atol=1e-5)
