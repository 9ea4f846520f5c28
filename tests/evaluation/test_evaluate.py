import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from compressai.models import Cheng2020Attention, MeanScaleHyperprior, ScaleHyperprior
from compressai.ops import compute_padding
from PIL import Image

from jndlc_helpers.evaluation import evaluate as E
from jndlc_helpers.evaluation import metrics as M
from jndlc_helpers.config import profile, provenance, provenance_label


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 60 * np.sin(xx / 9 + c + seed) + 40 * np.cos(yy / 7 - c) for c in range(3)], -1)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def tiny_model(cls=ScaleHyperprior, seed: int = 0, **kw):
    torch.manual_seed(seed)
    model = cls(**(kw or {"N": 8, "M": 12}))
    model.update(force=True)
    return model.eval()


def forward_bits(model, x) -> float:
    pad, _ = compute_padding(*x.shape[-2:], min_div=64)
    with torch.no_grad():
        out = model(F.pad(x, pad))
    return sum(float(torch.log(lk).sum() / -math.log(2)) for lk in out["likelihoods"].values())


@pytest.mark.parametrize("cls,kw", [(ScaleHyperprior, {"N": 8, "M": 12}), (MeanScaleHyperprior, {"N": 8, "M": 12})])
def test_code_image_real_bytes_and_estimate(cls, kw):
    model = tiny_model(cls, **kw)
    img = smooth_image(50, 70)
    x = E.to_tensor(img)
    r = E.code_image(model, x)
    pad, unpad = compute_padding(50, 70, min_div=64)
    with torch.no_grad():
        enc = model.compress(F.pad(x, pad))
        dec = model.decompress(enc["strings"], enc["shape"])
    n_bytes = sum(len(s[0]) for s in enc["strings"])  # eval_model's count
    assert r["n_bytes"] == n_bytes > 0
    assert r["bpp"] == pytest.approx(n_bytes * 8 / (50 * 70))
    assert r["x_hat"].shape == x.shape
    assert torch.equal(r["x_hat"], F.pad(dec["x_hat"], unpad))
    # the estimate from the captured latents is the eval-mode forward pass
    assert r["bpp_est"] == pytest.approx(forward_bits(model, x) / (50 * 70), rel=1e-5)
    assert r["enc_s"] > 0 and r["dec_s"] > 0
    # the probes are gone afterwards
    assert "compress" not in vars(model.gaussian_conditional) and not model.g_a._forward_hooks
    assert not model.g_s._forward_pre_hooks


def test_round_trip_mismatch_raises():
    model = tiny_model()
    gc = model.gaussian_conditional
    real = gc.decompress
    gc.decompress = lambda *a, **k: real(*a, **k) + 1.0  # a decoder that is off by one symbol
    with pytest.raises(E.RoundTripError, match="y_hat"):
        E.code_image(model, E.to_tensor(smooth_image(32, 32)))


def test_autoregressive_model_checked_within_half_a_step():
    model = tiny_model(Cheng2020Attention, N=8)
    r = E.code_image(model, E.to_tensor(smooth_image(40, 48)))
    assert r["bpp"] > 0 and np.isfinite(r["bpp_est"])
    # the AR decoder calls the rANS decoder position by position: corrupt what reaches g_s
    h = model.g_s.register_forward_pre_hook(lambda _m, a: (a[0] + 2.0,))
    try:
        with pytest.raises(E.RoundTripError):
            E.code_image(model, E.to_tensor(smooth_image(40, 48)))
    finally:
        h.remove()


def test_evaluate_model_columns_and_metrics():
    model = tiny_model()
    imgs = {"0007": smooth_image(40, 40), "b": smooth_image(30, 50, seed=2)}
    df = E.evaluate_model(model, imgs, method="iwl", family="mse", quality=3, lmbda=0.0067)
    assert list(df.columns) == E.COLUMNS
    assert list(df["image"]) == ["0007", "b"]
    x = E.to_tensor(imgs["b"])
    rec = E.code_image(model, x)["x_hat"]
    assert df.loc[1, "psnr"] == pytest.approx(M.psnr(imgs["b"], rec))
    assert df["lmbda"].tolist() == [0.0067, 0.0067]
    assert df["ms_ssim"].isna().all()  # images <= 160 px


def test_anchors_sweep():
    img = smooth_image(48, 64)
    assert "jpeg" in E.available_anchors()
    for codec in E.available_anchors():
        lo, hi = E.code_anchor(img, codec, 20), E.code_anchor(img, codec, 90)
        assert lo["bpp"] == pytest.approx(lo["n_bytes"] * 8 / (48 * 64))
        assert lo["bpp"] < hi["bpp"], codec
        assert M.psnr(img, lo["rgb"]) < M.psnr(img, hi["rgb"]), codec
    df = E.evaluate_anchor("jpeg", 50, {"a": img})
    assert list(df.columns) == E.COLUMNS and df.loc[0, "family"] == "anchor"
    assert np.isnan(df.loc[0, "bpp_est"]) and np.isnan(df.loc[0, "lmbda"])
    with pytest.raises(ValueError, match="unknown anchor"):
        E.encode_anchor(img, "bpg", 50)


def _checkpoints(tmp_path, n=2):
    paths = []
    for q in range(1, n + 1):
        p = tmp_path / f"q{q}.pth.tar"
        torch.save({"state_dict": tiny_model(seed=q).state_dict()}, p)
        paths.append(p)
    return paths


def _loader(calls):
    def load(path):
        calls.append(str(path))
        sd = torch.load(path, map_location="cpu")["state_dict"]
        m = ScaleHyperprior.from_state_dict(sd)
        m.update(force=True)
        return m.eval()
    return load


def test_evaluate_all_resumes_and_writes_compressai_json(tmp_path):
    from compressai.utils.plot.__main__ import parse_json_file

    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, seed in (("0001", 0), ("kodim02", 1)):
        Image.fromarray(smooth_image(40, 48, seed)).save(folder / f"{name}.png")
    ck = _checkpoints(tmp_path)
    jobs = [{"method": "iwl", "family": "mse", "quality": q, "lmbda": 0.001 * q, "checkpoint": p}
            for q, p in zip((1, 2), ck)]
    jobs += E.anchor_jobs(["jpeg"], [30, 70])
    out = tmp_path / "res" / "per_image.csv"
    calls = []
    df = E.evaluate_all(jobs, folder, out, loader=_loader(calls), progress=False, json_dir=tmp_path / "json")
    assert list(df.columns) == E.COLUMNS and len(df) == 8
    assert sorted(set(df["image"])) == ["0001", "kodim02"]  # stems stay text
    assert len(calls) == 2
    on_disk = E.read_table(out)
    pd.testing.assert_frame_equal(on_disk, df)

    # everything done: nothing is loaded again
    df2 = E.evaluate_all(jobs, folder, out, loader=_loader(calls), progress=False)
    assert len(calls) == 2 and len(df2) == 8
    # a new job runs alone; an incomplete job (an image missing) is redone, not duplicated
    partial = on_disk[~((on_disk["quality"] == 2) & (on_disk["image"] == "0001"))]
    partial.to_csv(out, index=False)
    ck3 = _checkpoints(tmp_path, 3)[2]
    jobs3 = jobs + [{"method": "iwl", "family": "mse", "quality": 3, "lmbda": 0.003, "checkpoint": ck3}]
    df3 = E.evaluate_all(jobs3, folder, out, loader=_loader(calls), progress=False)
    assert calls[2:] == [str(ck[1]), str(ck3)]
    assert len(df3) == 10 and not df3.duplicated(["image", "method", "family", "quality"]).any()

    js = json.loads((tmp_path / "json" / "iwl-mse.json").read_text())
    assert set(js) == {"name", "description", "results"}
    assert {"bpp", "psnr-rgb", "ms-ssim-rgb"} <= set(js["results"])
    expect = df[df["method"] == "iwl"].groupby("quality")["bpp"].mean().tolist()
    assert js["results"]["bpp"] == pytest.approx(expect)
    parsed = parse_json_file(tmp_path / "json" / "jpeg-anchor.json", "psnr")
    assert parsed["name"] == "JPEG" and len(parsed["xs"]) == 2 == len(parsed["ys"])


def test_compressai_json_parses_ms_ssim(tmp_path):
    from compressai.utils.plot.__main__ import parse_json_file

    img = smooth_image(176, 180)
    df = pd.concat([E.evaluate_anchor("jpeg", q, {"a": img}) for q in (40, 80)])
    prov = provenance(profile("smoke"))
    E.write_compressai_json(df, tmp_path, prov)
    parsed = parse_json_file(tmp_path / "jpeg-anchor.json", "ms-ssim")
    assert parsed["ys"] == pytest.approx(df["ms_ssim_db"].tolist())
    js = json.loads((tmp_path / "jpeg-anchor.json").read_text())
    assert provenance_label(prov) in js["description"] and js["provenance"] == prov


def test_job_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="lacks"):
        E.evaluate_all([{"method": "iwl", "quality": 1, "codec": "jpeg"}], {"a": smooth_image(8, 8)},
                       tmp_path / "x.csv", progress=False)
    missing = tmp_path / "nope.pth.tar"
    with pytest.raises(FileNotFoundError, match="nope.pth.tar"):
        E.evaluate_all([{"method": "iwl", "family": "mse", "quality": 1, "checkpoint": missing}],
                       {"a": smooth_image(8, 8)}, tmp_path / "x.csv", progress=False)


def test_reconstruct_model_and_anchor():
    img = smooth_image(40, 44)
    r = E.reconstruct(tiny_model(), img)
    assert r["rgb"].shape == img.shape and r["rgb"].dtype == np.uint8
    assert r["psnr"] == pytest.approx(M.psnr(img, r["rgb"]))
    j = E.reconstruct("jpeg", img, quality=60)
    assert j["bpp"] > 0 and j["psnr"] > 20
    with pytest.raises(ValueError, match="quality"):
        E.reconstruct("jpeg", img)


def test_one_jod_display_model_for_labels_and_evaluation(monkeypatch):
    from jndlc_helpers.data import labellers
    from jndlc_helpers.evaluation import metrics as M

    assert E.JOD_DISPLAY == labellers.DEFAULT_DISPLAY
    seen = []

    def fake(ref, rec, jod=False, display=None):
        seen.append(display)
        return {"psnr": 30.0, "ms_ssim": math.nan, "ms_ssim_db": math.nan, "jod": 9.5}

    monkeypatch.setattr(M, "image_metrics", fake)
    rgb = np.full((32, 32, 3), 128, np.uint8)
    E.evaluate_anchor("jpeg", 50, {"a": rgb}, jod=True)
    assert seen == [labellers.DEFAULT_DISPLAY]


def test_evaluate_all_keeps_the_decoded_images_reconstruct_would_give(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(smooth_image(40, 48, 3)).save(folder / "a.png")
    ck = _checkpoints(tmp_path)[0]
    jobs = [{"method": "iwl", "family": "mse", "quality": 1, "checkpoint": ck}] + E.anchor_jobs(["jpeg"], [50])
    E.evaluate_all(jobs, folder, tmp_path / "rd.csv", loader=_loader([]), progress=False,
                   recon_dir=lambda job: tmp_path / "recon" / job["method"])
    kept = np.asarray(Image.open(tmp_path / "recon" / "iwl" / "a.png"))
    again = E.reconstruct(ck, np.asarray(Image.open(folder / "a.png").convert("RGB")), loader=_loader([]))["rgb"]
    np.testing.assert_array_equal(kept, again)
    assert not (tmp_path / "recon" / "jpeg").exists()  # anchors are coded again on demand


def test_evaluate_all_over_processes_gives_the_same_table(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name, seed in (("a", 0), ("b", 1)):
        Image.fromarray(smooth_image(40, 48, seed)).save(folder / f"{name}.png")
    jobs = [{"method": "iwl", "family": "mse", "quality": q, "checkpoint": tiny_model(seed=q)} for q in (1, 2, 3)]
    jobs += E.anchor_jobs(["jpeg"], [50])
    runs = {}
    for workers in (1, 2):
        recon = tmp_path / f"recon{workers}"
        runs[workers] = E.evaluate_all(jobs, folder, tmp_path / f"rd{workers}.csv", progress=False, workers=workers,
                                       recon_dir=lambda job, recon=recon: recon / f"q{job['quality']}")
        assert sorted(p.name for p in (recon / "q3").iterdir()) == ["a.png", "b.png"]
    timing = ["enc_s", "dec_s"]  # timed with the cores shared: not comparable
    pd.testing.assert_frame_equal(runs[1].drop(columns=timing), runs[2].drop(columns=timing), rtol=1e-4)


def test_replicates_of_one_model_are_kept_apart_by_seed(tmp_path):
    """Training seeds of one (method, family, quality) are separate jobs and rows; a table
    written before seeds existed reads as seed 0."""
    images = {"a": smooth_image(40, 48, 0)}
    ck = _checkpoints(tmp_path)
    jobs = [{"method": "baseline", "family": "mse", "quality": 1, "seed": s, "checkpoint": p}
            for s, p in zip((0, 1), ck)]
    out = tmp_path / "rd.csv"
    calls = []
    df = E.evaluate_all(jobs, images, out, loader=_loader(calls), progress=False)
    assert sorted(df["seed"]) == [0, 1] and len(calls) == 2
    assert df.set_index("seed").loc[0, "psnr"] != df.set_index("seed").loc[1, "psnr"]  # two models
    E.evaluate_all(jobs, images, out, loader=_loader(calls), progress=False)
    assert len(calls) == 2  # both seeds done: nothing redone
    df.drop(columns="seed").to_csv(tmp_path / "old.csv", index=False)
    assert set(E.read_table(tmp_path / "old.csv")["seed"]) == {0}


def test_a_retrained_model_is_evaluated_again_and_its_rows_replaced(tmp_path):
    from jndlc_helpers.codec.checkpoint import save_checkpoint

    img = {"a": smooth_image(40, 48, 0), "b": smooth_image(40, 48, 1)}
    ckpt = tmp_path / "iwl-mse-q1" / "checkpoint.pth.tar"
    save_checkpoint(ckpt, tiny_model(seed=1), step=100)
    jobs = [{"method": "iwl", "family": "mse", "quality": 1, "checkpoint": ckpt}] + E.anchor_jobs(["jpeg"], [50])
    out, calls = tmp_path / "rd.csv", []
    first = E.evaluate_all(jobs, img, out, loader=_loader(calls), progress=False)
    learned = first[first["family"] == "mse"]
    assert set(learned["checkpoint_step"]) == {100} and learned["checkpoint_digest"].str.len().eq(16).all()
    assert set(first.loc[first["family"] == "anchor", "checkpoint_digest"]) == {""}
    E.evaluate_all(jobs, img, out, loader=_loader(calls), progress=False)
    assert len(calls) == 1  # the same checkpoint: not evaluated again
    save_checkpoint(ckpt, tiny_model(seed=2), step=250)  # retrained (or extended) in the same run folder
    again = E.evaluate_all(jobs, img, out, loader=_loader(calls), progress=False)
    assert len(calls) == 2 and len(again) == 4  # re-evaluated, rows replaced, anchors kept
    new = again[again["family"] == "mse"]
    assert set(new["checkpoint_step"]) == {250} and set(new["checkpoint_digest"]).isdisjoint(learned["checkpoint_digest"])
    assert not np.allclose(new["bpp_est"].to_numpy(), learned["bpp_est"].to_numpy())
