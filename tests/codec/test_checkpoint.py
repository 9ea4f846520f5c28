"""Checkpoints: layout, weights_only loading, atomic writes, RNG round trip, CompressAI's evaluator."""
from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from jndlc_helpers.codec import checkpoint as ck
from jndlc_helpers.codec.models import build_model
from jndlc_helpers.codec.optim import configure_optimizers


def tiny_model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model("scale-hyperprior", 1, "mse", N=8, M=12, pretrained="scratch")


def test_layout_and_weights_only(tmp_path):
    model = tiny_model()
    opt, aux = configure_optimizers(model)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min")
    model(torch.rand(1, 3, 64, 64))["x_hat"].mean().backward()
    opt.step()
    path = ck.save_checkpoint(tmp_path / "run" / ck.CHECKPOINT_NAME, model, optimizer=opt, aux_optimizer=aux,
                              lr_scheduler=sched, step=7, epoch=1, meta={"loss": "iwl", "labels": ["a"]},
                              rng=ck.rng_state(), train_state={"elapsed": 1.5})
    assert sorted(p.name for p in path.parent.iterdir()) == [ck.CHECKPOINT_NAME]  # no temp file left
    data = torch.load(path, weights_only=True)  # torch's safe loader reads all of it
    assert {"state_dict", "optimizer", "aux_optimizer", "lr_scheduler", "step", "epoch", "meta"} <= set(data)
    assert data["step"] == 7 and data["meta"]["loss"] == "iwl"
    # update(force=True) was applied to the saved copy, not to the live model
    assert data["state_dict"]["entropy_bottleneck._quantized_cdf"].numel() > 0
    assert model.entropy_bottleneck._quantized_cdf.numel() == 0
    for k, v in model.state_dict().items():
        if not k.endswith(("_quantized_cdf", "_offset", "_cdf_length", "scale_table")):
            assert torch.equal(data["state_dict"][k], v), k


def test_meta_must_be_plain_and_weights_finite(tmp_path):
    model = tiny_model()
    with pytest.raises(TypeError, match=r"meta\.path"):
        ck.save_checkpoint(tmp_path / "a.pth.tar", model, meta={"path": tmp_path})
    with torch.no_grad():
        model.g_s[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        ck.save_checkpoint(tmp_path / "b.pth.tar", model)
    assert not list(tmp_path.iterdir())


def test_rng_state_round_trip(tmp_path):
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    state = ck.rng_state()
    torch.save(state, tmp_path / "rng.pt")
    first = (torch.rand(3), np.random.rand(3), random.random())
    ck.set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_fetch_weights_path_cache_and_offline(tmp_path, monkeypatch):
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    try:
        monkeypatch.setenv(ck.OFFLINE_ENV, "1")
        url = "https://example.invalid/models/thing-0123abcd.pth"
        with pytest.raises(ck.WeightsUnavailableError, match=r"thing-0123abcd\.pth.*checkpoints"):
            ck.fetch_weights(url)
        given = tmp_path / "mine.pth"
        given.write_bytes(b"x")
        assert ck.fetch_weights(url, path=given) == given
        with pytest.raises(ck.WeightsUnavailableError, match="missing.pth"):
            ck.fetch_weights(url, path=tmp_path / "missing.pth")
        cached = tmp_path / "hub" / "checkpoints" / "thing-0123abcd.pth"
        cached.parent.mkdir(parents=True)
        cached.write_bytes(b"y")
        assert ck.fetch_weights(url) == cached
    finally:
        torch.hub.set_dir(old)


def test_compressai_eval_model_reads_it(tmp_path):
    """`python -m compressai.utils.eval_model checkpoint` loads our file and codes real bitstreams."""
    path = ck.save_checkpoint(tmp_path / ck.CHECKPOINT_NAME, tiny_model(), meta={"architecture": "scale-hyperprior"})
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):  # eval_model also computes MS-SSIM, which needs > 160 px
        Image.fromarray(rng.integers(0, 256, (192, 192, 3), dtype=np.uint8)).save(images / f"im{i}.png")
    res = subprocess.run([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(images),
                          "-a", "bmshj2018-hyperprior", "-p", str(path)],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout[res.stdout.index("{"):])
    assert out["results"]["bpp"][0] > 0 and out["results"]["psnr-rgb"][0] > 0
