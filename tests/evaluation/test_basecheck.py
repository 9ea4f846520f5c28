"""The base-model benchmark's numbers on RD tables whose answers are known."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.evaluation import basecheck
from jndlc_helpers.vocab import METRIC_OF


def quality(bpp: float) -> float:
    return 30 + 5 * math.log2(bpp / 0.25)  # the same law for every codec below


def rd_table(mse_scale: float = 0.8, msssim_scale: float = 0.6, images=("a", "b")) -> pd.DataFrame:
    """JPEG and two base-model families whose rate at equal quality is a fixed fraction of JPEG's."""
    rows = []
    for img in images:
        shift = 0.5 if img == "b" else 0.0
        for qf, bpp in enumerate(np.geomspace(0.08, 2.5, 8)):
            rows.append(dict(image=img, method="jpeg", family="anchor", quality=qf, bpp=bpp,
                             psnr=quality(bpp) + shift, ms_ssim_db=quality(bpp) - 15 + shift))
        for q, bpp in zip((1, 3, 5, 6), (0.12, 0.3, 0.7, 1.2)):
            rows.append(dict(image=img, method="baseline-pretrained", family="mse", quality=q, bpp=bpp,
                             psnr=quality(bpp / mse_scale) + shift, ms_ssim_db=0.0))
            rows.append(dict(image=img, method="baseline-pretrained", family="ms-ssim", quality=q, bpp=bpp,
                             psnr=0.0, ms_ssim_db=quality(bpp / msssim_scale) - 15 + shift))
    return pd.DataFrame(rows)


def test_report_recovers_known_bd_rates_span_and_monotonicity():
    jnd = pd.DataFrame({"image": ["a", "b"], "psnr": [31.0, 45.0], "ms_ssim_db": [16.0, 17.0]})
    r = basecheck.base_model_report(rd_table(), jnd)
    assert r["bd_rate_vs_jpeg_mse_psnr"] == pytest.approx(-20.0, abs=0.5)
    assert r["bd_rate_vs_jpeg_msssim_msssimdb"] == pytest.approx(-40.0, abs=0.5)
    assert (r["bpp_min"], r["bpp_max"]) == (pytest.approx(0.12), pytest.approx(1.2))
    assert r["monotone"] is True
    fam = r["families"]
    assert fam["mse"]["jnd_in_range_fraction"] == 0.5  # image b's 45 dB lies above the MSE curve
    assert fam["ms-ssim"]["jnd_in_range_fraction"] == 1.0
    assert r["jnd_in_range_fraction"] == 0.5  # the worse family
    # 0.8x the rate at equal quality = 5*log2(1/0.8) dB more at equal rate
    assert fam["mse"]["db_vs_jpeg"] == pytest.approx([5 * math.log2(1 / 0.8)] * 4, abs=0.05)


def test_non_monotone_family_and_worse_than_jpeg_are_reported():
    rd = rd_table(mse_scale=1.25)
    bad = (rd["family"] == "mse") & (rd["quality"] == 6)
    rd.loc[bad, "psnr"] = 20.0  # the top model decodes worse than the one below it
    jnd = pd.DataFrame({"image": ["a", "b"], "psnr": [31.0, 32.0], "ms_ssim_db": [16.0, 17.0]})
    r = basecheck.base_model_report(rd, jnd)
    assert r["families"]["mse"]["monotone"] is False and r["monotone"] is False
    assert r["families"]["ms-ssim"]["monotone"] is True
    three = basecheck.base_model_report(rd[~bad], jnd)
    assert three["bd_rate_vs_jpeg_mse_psnr"] == pytest.approx(25.0, abs=1.0)  # 1.25x JPEG's rate


def test_missing_rows_are_clear_errors():
    rd = rd_table()
    with pytest.raises(ValueError, match="no base-model rows"):
        basecheck.base_model_report(rd[rd["method"] == "jpeg"], pd.DataFrame({"image": []}))
    jnd = pd.DataFrame({"image": ["zzz"], "psnr": [30.0], "ms_ssim_db": [15.0]})
    with pytest.raises(ValueError, match="'zzz' has a JND quality but no mse RD rows"):
        basecheck.base_model_report(rd, jnd)


def test_a_wide_jpeg_sweep_is_compared_over_the_family_range_only():
    # JPEG from 0.02 to 8 bpp: its quality range is far wider than the family's, which
    # alone would fail the 50% overlap rule; the bracket keeps the BD-rate computable.
    rows = [dict(image="a", method="jpeg", family="anchor", quality=k, bpp=b, psnr=quality(b), ms_ssim_db=0.0)
            for k, b in enumerate(np.geomspace(0.02, 8, 30))]
    rows += [dict(image="a", method="baseline-pretrained", family="mse", quality=q, bpp=b,
                  psnr=quality(b / 0.8), ms_ssim_db=0.0) for q, b in zip((1, 3, 5, 6), (0.12, 0.3, 0.7, 1.2))]
    rd = pd.DataFrame(rows)
    jnd = pd.DataFrame({"image": ["a"], "psnr": [31.0], "ms_ssim_db": [16.0]})
    assert basecheck.base_model_report(rd, jnd)["bd_rate_vs_jpeg_mse_psnr"] == pytest.approx(-20.0, abs=0.5)
    near = basecheck.bracket(basecheck.average_curve(rd, "jpeg"), "psnr", 30.0, 35.0)
    assert near["psnr"].min() < 30.0 < near["psnr"].iloc[1] and near["psnr"].iloc[-2] < 35.0 < near["psnr"].max()


def control_table(rate_factor: float, jitter: float = 0.01, images: int = 12) -> pd.DataFrame:
    """Base models and a control that spends ``rate_factor`` x their rate (+- ``jitter`` per image) at equal quality."""
    rows = []
    for i in range(images):
        factor = rate_factor * (1 + jitter * ((i % 3) - 1))
        for family in METRIC_OF:
            for q, bpp in zip((1, 3, 5, 7), (0.15, 0.3, 0.6, 0.85)):
                for method, f in (("baseline-pretrained", 1.0), ("baseline", factor)):
                    rows.append(dict(image=f"img{i}", method=method, family=family, quality=q, bpp=bpp * f,
                                     psnr=quality(bpp) + i * 0.1, ms_ssim_db=quality(bpp) - 15 + i * 0.1))
    return pd.DataFrame(rows)


def test_control_shift_recovers_a_known_saving_and_its_measurability():
    shift = basecheck.control_shift(control_table(0.9), n_boot=50)
    for family, axis in METRIC_OF.items():
        head = shift[family][f"average-curve/{axis}"]
        assert head["bd_rate"] == pytest.approx(-10.0, abs=0.5)
        assert head["high"] < 0 and head["measurable"] and shift[family]["moves_measurably"]
        assert shift[family]["psnr_change_db"] == [0.0] * 4
        assert shift[family]["bpp_change_percent"] == pytest.approx([-10.0] * 4, abs=0.01)
        assert {"per-image-mean/psnr", "average-curve/ms_ssim_db"} <= set(shift[family])


def test_an_unchanged_control_does_not_move():
    still = basecheck.control_shift(control_table(1.0, jitter=0.0), n_boot=50, families=["mse"])
    head = still["mse"]["average-curve/psnr"]
    assert head["bd_rate"] == pytest.approx(0.0, abs=1e-6) and not head["measurable"]
    assert not still["mse"]["moves_measurably"] and "ms-ssim" not in still
    rd = control_table(1.0)
    far = rd.assign(psnr=rd["psnr"].where(rd["method"] == "baseline-pretrained", rd["psnr"] - 20))
    na = basecheck.control_shift(far, n_boot=10, families=["mse"])["mse"]["average-curve/psnr"]
    assert na["bd_rate"] is None and not na["measurable"] and "overlap" in na["reason"]
    with pytest.raises(ValueError, match="no BD-rate of 'baseline'"):
        basecheck.control_shift(rd[rd["method"] == "baseline-pretrained"], families=["mse"])
