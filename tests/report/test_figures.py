import math

import numpy as np
import pandas as pd
import pytest
import torch
from compressai.models import ScaleHyperprior
from PIL import Image

from jndlc_helpers.report import figures as FG
from jndlc_helpers.config import profile, provenance, provenance_label

PROV = provenance(profile("smoke"))


def smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([128 + 60 * np.sin(xx / 9 + c) + 40 * np.cos(yy / 7 - c) for c in range(3)], -1)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def table() -> pd.DataFrame:
    rows = []
    for image in ("a", "b"):
        for family, methods in (("mse", ("baseline", "iwl", "fwl")), ("ms-ssim", ("baseline", "iwl", "fwl")),
                                ("anchor", ("jpeg",))):
            for m_i, method in enumerate(methods):
                for q in range(1, 5):
                    bpp = 0.1 * 2 ** q * (1 - 0.05 * m_i)
                    psnr = 26 + 2.5 * q
                    ms = 1 - 10 ** (-(8 + 2 * q) / 10)
                    rows.append({"image": image, "method": method, "family": family, "quality": q, "bpp": bpp,
                                 "psnr": psnr, "ms_ssim": ms, "ms_ssim_db": -10 * math.log10(1 - ms),
                                 "jod": 6 + q + 0.1 * m_i})
    return pd.DataFrame(rows)


def assert_written(paths, suffixes=(".png", ".pdf")):
    assert [p.suffix for p in paths] == list(suffixes)
    for p in paths:
        assert p.is_file() and p.stat().st_size > 1000


def assert_drawn(ax, n_lines: int):
    """The axes hold ``n_lines`` lines, each with finite data (an empty plot fails)."""
    data = [line for line in ax.lines if len(line.get_xdata()) > 1]
    assert len(data) == n_lines, ax.get_title()
    for line in data:
        assert np.isfinite(np.asarray(line.get_ydata(), float)).all()


def test_fig2_rd_curves(tmp_path):
    paths = FG.plot_rd_curves(table(), tmp_path / "fig2_rd", PROV)
    assert_written(paths)
    assert Image.open(paths[0]).size[0] > 800
    fig = FG.rd_curves_figure(table(), PROV, metrics=("psnr", "ms_ssim_db", "jod"))
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert len(axes) == 6
    for ax in axes:
        assert_drawn(ax, 4)  # baseline, iwl, fwl and the JPEG anchor
    jod = [ax for ax in axes if "JOD" in ax.get_title()]
    assert len(jod) == 2 and "ours, not the paper's" in jod[0].get_ylabel()


def test_saved_figures_are_byte_identical_run_to_run(tmp_path):
    fig = FG.rd_curves_figure(table(), PROV, metrics=("psnr",))
    first = FG.save_figure(fig, tmp_path / "a")
    second = FG.save_figure(fig, tmp_path / "b")
    assert b"/CreationDate" not in first[1].read_bytes()  # a date would differ run to run
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_fig5_single_image(tmp_path):
    paths = FG.plot_image_rd(table(), "a", 32.0, tmp_path / "fig5", PROV, methods=("baseline", "iwl", "fwl"))
    assert_written(paths)
    ax = FG.image_rd_figure(table(), "a", 32.0, PROV, methods=("baseline", "iwl", "fwl")).axes[0]
    assert_drawn(ax, 3 * 3 + 1)  # per method: points, curve, rate line; the JND line
    assert sum(1 for line in ax.lines if line.get_marker() == "*") == 3  # each rate read off
    # a quality above every curve still plots (no marker), a missing image is an error
    assert_written(FG.plot_image_rd(table(), "a", 60.0, tmp_path / "fig5b", PROV))
    with pytest.raises(ValueError, match="zzz"):
        FG.plot_image_rd(table(), "zzz", 32.0, tmp_path / "x", PROV)


def test_provenance_footer():
    fig = FG.rd_curves_figure(table(), PROV)
    footer = " ".join(t.get_text().replace("\n", " ") for t in fig.texts)
    assert " ".join(provenance_label(PROV).split()) in " ".join(footer.split())
    assert "NOT the paper's protocol" in footer


def test_visual_comparison_and_side_by_side(tmp_path):
    orig = smooth_image(96, 128)
    rng = np.random.default_rng(1)
    recs = []
    for label, sigma in (("Baseline-MSE", 8), ("IWL-MSE", 5)):
        rgb = np.clip(orig + rng.normal(0, sigma, orig.shape), 0, 255).astype(np.uint8)
        recs.append({"label": label, "rgb": rgb, "bpp": 0.3, "psnr": 30.1, "ms_ssim": float("nan")})
    assert_written(FG.visual_comparison(orig, recs, tmp_path / "fig3", PROV, crop=(10, 20, 32, 32)))
    p = FG.side_by_side_png(orig, recs, tmp_path / "static" / "cmp.png", provenance=PROV)
    assert p.is_file() and Image.open(p).format == "PNG"
    assert "0.300 bpp | PSNR 30.10 dB | MS-SSIM n/a" in FG.caption(recs[0])
    top, left, h, w = FG.auto_crop(orig, 40)
    assert h == w == 40 and 0 <= top <= 56 and 0 <= left <= 88
    with pytest.raises(ValueError, match="shape"):
        FG.visual_comparison(orig, [{**recs[0], "rgb": orig[:50]}], tmp_path / "bad", PROV)


def test_pick_and_reconstruct_closest(tmp_path):
    df = table()
    picked = FG.pick_closest(df, "a", ["baseline", "iwl", "jpeg"], "mse", target_bpp=0.8)
    assert picked["method"].tolist() == ["baseline", "iwl", "jpeg"]
    assert picked["quality"].tolist() == [3, 3, 3]

    img = smooth_image(64, 64)
    path = tmp_path / "a.png"
    Image.fromarray(img).save(path)
    torch.manual_seed(0)
    model = ScaleHyperprior(N=8, M=12)
    model.update(force=True)
    jobs = [{"method": "iwl", "family": "mse", "quality": q, "checkpoint": model} for q in (1, 2, 3, 4)]
    jobs += [{"method": "jpeg", "family": "anchor", "quality": q, "codec": "jpeg"} for q in (1, 2, 3, 4)]
    recs = FG.reconstruct_closest(df, path, jobs, target_bpp=0.8)
    assert [r["label"] for r in recs] == ["IWL-MSE", "JPEG"]
    assert all(r["rgb"].shape == img.shape and r["quality"] == 3 for r in recs)
    assert_written(FG.visual_comparison(img, recs, tmp_path / "fig4", PROV))


def test_training_curves_on_another_scale_get_a_symmetric_log_axis():
    """A loss 100x the others (FWL fed Caffe's input) would flatten them on a linear axis;
    losses of one size keep it, and a negative loss (IWL, eq. 7) still draws."""
    steps = np.arange(40)
    rows = [dict(family="mse", quality=1, method=m, seed=0, step=s, loss=v + 0.01 * np.sin(s))
            for m, v in (("baseline", 0.5), ("iwl", -0.1), ("fwl-caffe", 50.0)) for s in steps]
    rows += [dict(family="ms-ssim", quality=1, method=m, seed=0, step=s, loss=v)
             for m, v in (("baseline", 0.4), ("pwl", 0.5)) for s in steps]
    fig = FG.training_curves_figure(pd.DataFrame(rows), ["mse", "ms-ssim"], PROV)
    (mse,), (ms,) = fig.axes[0:1], fig.axes[1:2]
    assert mse.get_yscale() == "symlog" and "symmetric log" in mse.get_title()
    assert ms.get_yscale() == "linear" and "symmetric log" not in ms.get_title()
