"""Model factory: scratch / zoo cache / base-model directory / file, offline errors, loading checkpoints."""
from __future__ import annotations

import os

import pytest
import torch

from jndlc_helpers.codec import models
from jndlc_helpers.codec.checkpoint import WeightsUnavailableError, save_checkpoint



def test_compressai_arch_names_match_the_zoo():
    from compressai.models import Cheng2020Attention, MeanScaleHyperprior, ScaleHyperprior
    from compressai.utils.eval_model.__main__ import architectures

    assert models.COMPRESSAI_ARCH == {"cheng2020-attn": "cheng2020-attn", "scale-hyperprior": "bmshj2018-hyperprior",
                                      "mean-scale-hyperprior": "mbt2018-mean"}
    assert architectures["cheng2020-attn"] is Cheng2020Attention
    assert architectures["bmshj2018-hyperprior"] is ScaleHyperprior
    assert architectures["mbt2018-mean"] is MeanScaleHyperprior
    assert models.model_class("scale-hyperprior") is ScaleHyperprior
    assert models.model_class("mean-scale-hyperprior") is MeanScaleHyperprior


def test_scratch_sizes_and_info():
    model, info = models.build_model_with_info("scale-hyperprior", 3, "mse", N=16, M=24, pretrained="scratch")
    assert (model.N, model.M) == (16, 24) and model.training
    assert info["init"] == "scratch" and info["N"] == 16
    default = models.build_model("scale-hyperprior", 3, "mse", pretrained="scratch")
    assert (default.N, default.M) == models.DEFAULT_SMALL


def test_scratch_needs_to_be_asked_for():
    for bad in (False, None):
        with pytest.raises(ValueError, match="'scratch'"):
            models.build_model("scale-hyperprior", 1, "mse", pretrained=bad)
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build_model("resnet", 1, "mse", pretrained="scratch")
    with pytest.raises(FileNotFoundError, match="no/such/file"):
        models.build_model("scale-hyperprior", 1, "mse", pretrained="no/such/file")


def test_zoo_offline_error_names_file_and_folder(offline_hub):
    with pytest.raises(WeightsUnavailableError) as e:
        models.build_model("cheng2020-attn", 3, "mse", pretrained="zoo")
    msg = str(e.value)
    assert "cheng2020_attn-mse-3-2d07bbdf.pth.tar" in msg
    assert str(offline_hub) in msg and "pretrained=" in msg


def test_zoo_weights_from_the_torch_cache(offline_hub):
    """A file at torch.hub.get_dir()/checkpoints/<zoo file name> is used, nothing downloaded.
    (A small random Cheng2020-attention stands in for the real weights.)"""
    from compressai.models import Cheng2020Attention

    torch.manual_seed(0)
    stand_in = Cheng2020Attention(N=16)
    url = models.zoo_url("cheng2020-attn", 2, "ms-ssim")
    offline_hub.mkdir(parents=True)
    torch.save(stand_in.state_dict(), offline_hub / os.path.basename(url))
    model, info = models.build_model_with_info("cheng2020-attn", 2, "ms-ssim", pretrained=True)
    assert info["init"] == "zoo" and info["source"] == url
    assert isinstance(model, Cheng2020Attention) and model.training
    for k, v in stand_in.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k


def tiny_base_dir(tmp_path, metric="mse", quality=2, done=True):
    torch.manual_seed(1)
    model = models.build_model("scale-hyperprior", quality, metric, N=8, M=12, pretrained="scratch")
    run = tmp_path / "base" / f"baseline-{metric}-q{quality}"
    save_checkpoint(run / "checkpoint.pth.tar", model,
                    meta={"architecture": "scale-hyperprior", "metric": metric, "quality": quality})
    if done:
        (run / "done.json").write_text("{}")
    return tmp_path / "base", model


def test_base_model_directory(tmp_path):
    base, ref = tiny_base_dir(tmp_path)
    model, info = models.build_model_with_info("scale-hyperprior", 2, "mse", pretrained=base)
    assert info["init"] == "file" and info["source"].endswith("baseline-mse-q2/checkpoint.pth.tar")
    assert (model.N, model.M) == (8, 12)
    assert torch.equal(model.g_a[0].weight, ref.g_a[0].weight)
    with pytest.raises(WeightsUnavailableError, match="baseline-ms-ssim-q2"):
        models.build_model("scale-hyperprior", 2, "ms-ssim", pretrained=base)
    with pytest.raises(ValueError, match="N=8, but N=64"):
        models.build_model("scale-hyperprior", 2, "mse", N=64, M=96, pretrained=base)


def test_unfinished_base_model_is_refused(tmp_path):
    base, _ = tiny_base_dir(tmp_path, done=False)
    with pytest.raises(WeightsUnavailableError, match="pretraining not finished"):
        models.build_model("scale-hyperprior", 2, "mse", pretrained=base)
    # ... unless the file itself is given
    model = models.build_model("scale-hyperprior", 2, "mse",
                               pretrained=base / "baseline-mse-q2" / "checkpoint.pth.tar")
    assert model.N == 8


def test_load_checkpoint_is_updated_and_in_eval_mode(tmp_path):
    base, ref = tiny_base_dir(tmp_path)
    model, meta = models.load_checkpoint(base / "baseline-mse-q2" / "checkpoint.pth.tar")
    assert meta["architecture"] == "scale-hyperprior" and not model.training
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        enc = model.compress(x)  # needs the CDF tables of update(force=True)
        out = model.decompress(enc["strings"], enc["shape"])
    assert out["x_hat"].shape == x.shape
    with pytest.raises(ValueError, match="cheng2020-attn"):
        models.build_model("cheng2020-attn", 2, "mse", pretrained=base / "baseline-mse-q2" / "checkpoint.pth.tar")


def test_entropy_models_stay_float32_under_bf16_autocast():
    from compressai.models import MeanScaleHyperprior

    torch.manual_seed(0)
    model = MeanScaleHyperprior(8, 12).eval()  # eval: rounding, no noise, so runs compare exactly
    z = 3 * torch.randn(2, 8, 4, 4)  # N=8 channels; y has M=12
    y, scales = 5 * torch.randn(2, 12, 8, 8), torch.rand(2, 12, 8, 8) + 0.2
    ref_z = model.entropy_bottleneck(z)[1]
    ref_y = model.gaussian_conditional(y, scales, means=y.round() + 0.3)[1]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain_z = model.entropy_bottleneck(z)[1]
    assert not torch.allclose(plain_z, ref_z, rtol=1e-4)  # bf16 logits: what the wrapper prevents

    models.entropy_models_in_fp32(models.entropy_models_in_fp32(model))  # idempotent
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out_z = model.entropy_bottleneck(z)[1]
        out_y = model.gaussian_conditional(y, scales, means=y.round() + 0.3)[1]
        out = model(torch.rand(1, 3, 64, 64))
    assert out_z.dtype == torch.float32 and torch.equal(out_z, ref_z)
    assert out_y.dtype == torch.float32 and torch.equal(out_y, ref_y)
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in out["likelihoods"].values())


def test_load_weights_takes_entropy_tables_of_another_size():
    # A warm-started run resumed from its own checkpoint: the model is built from the
    # source's tables, the checkpoint holds tables grown while training.
    source = models.build_model("mean-scale-hyperprior", 1, "mse", 8, 12, pretrained="scratch")
    source.update(force=True)
    trained = models.build_model("mean-scale-hyperprior", 1, "mse", 8, 12, pretrained="scratch")
    with torch.no_grad():
        trained.entropy_bottleneck.quantiles.mul_(4.0)  # wider medians: longer CDFs
    trained.update(force=True)
    state = trained.state_dict()
    key = "entropy_bottleneck._quantized_cdf"
    assert source.state_dict()[key].shape != state[key].shape
    with pytest.raises(RuntimeError, match="size mismatch"):
        source.load_state_dict(state)
    models.load_weights(source, state)
    assert all(torch.equal(v, state[k]) for k, v in source.state_dict().items())
