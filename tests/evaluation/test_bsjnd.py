import math

import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.evaluation import bsjnd as S


def test_rate_at_quality_interpolates_log_rate():
    bpp = [0.1, 0.2, 0.4, 0.8]
    q = [30.0, 32.0, 34.0, 36.0]
    # halfway in quality between 0.2 and 0.4 bpp is their geometric mean (log-linear data)
    for interp in ("pchip", "linear"):
        r, why = S.rate_at_quality(bpp, q, 33.0, interp)
        assert why is None and r == pytest.approx(math.sqrt(0.2 * 0.4))
    assert S.rate_at_quality(bpp, q, 36.0)[0] == pytest.approx(0.8)  # an end point is in range
    r, why = S.rate_at_quality(bpp, q, 29.0)
    assert math.isnan(r) and "below" in why
    r, why = S.rate_at_quality(bpp, q, 36.5)
    assert math.isnan(r) and "above" in why


def test_a_target_on_a_curves_end_point_is_on_the_curve_to_the_last_bit():
    bpp, q = [0.1, 0.2, 0.4], [30.0, 32.0, 34.0]
    for target, rate in ((30.0 * (1 - 1e-12), 0.1), (34.0 * (1 + 1e-12), 0.4)):
        assert S.rate_at_quality(bpp, q, target) == (pytest.approx(rate), None)
    assert math.isnan(S.rate_at_quality(bpp, q, 30.0 * (1 - 1e-6))[0])  # farther off: out of range


def test_an_image_whose_jnd_is_an_anchors_end_point_survives_the_csv(tmp_path):
    """The JND image of an image labelled at JPEG quality 20 is the JPEG anchor's own
    quality-20 point: its q_J must read that point however the tables went to disk and back."""
    from jndlc_helpers.evaluation import evaluate
    from jndlc_helpers.files import read_csv, write_csv

    end = 31.234567896123457  # %.10g would round it up, above itself
    rows = [{"image": "dogs", "method": m, "family": "anchor", "quality": k, "seed": 0, "bpp": b * f,
             "psnr": p, "checkpoint_digest": ""}
            for m, f in (("jpeg", 1.0), ("classical", 0.9)) for k, (b, p) in
            enumerate(zip([0.3, 0.5, 0.9], [end, 33.5, 36.25]), start=1)]
    rd = pd.DataFrame(rows).reindex(columns=evaluate.COLUMNS)
    evaluate.write_table(tmp_path / "rd.csv", rd)
    write_csv(tmp_path / "jnd.csv", pd.DataFrame({"image": ["dogs"], "psnr": [end], "ms_ssim_db": [15.0]}))
    back, jnd = evaluate.read_table(tmp_path / "rd.csv"), read_csv(tmp_path / "jnd.csv", dtype={"image": str})
    assert back["psnr"].tolist() == rd["psnr"].tolist()  # full precision, exact
    per = S.bsjnd_per_image(back, jnd, ["classical"], baseline="jpeg", families=["anchor"], metric="psnr")
    assert per["saving"].tolist() == pytest.approx([-10.0]) and per["status"].tolist() == ["ok"]


def test_monotone_curve_drops_dominated_points():
    b, q = S.monotone_curve([0.4, 0.1, 0.2, 0.3, 0.8], [34.0, 30.0, 32.0, 31.0, 36.0])
    assert b.tolist() == [0.1, 0.2, 0.4, 0.8] and q.tolist() == [30.0, 32.0, 34.0, 36.0]
    # PCHIP on the kept points never lowers the rate as quality rises
    qs = np.linspace(30, 36, 50)
    rates = [S.rate_at_quality([0.1, 0.2, 0.4, 0.8], [30, 31, 35, 36], x)[0] for x in qs]
    assert np.all(np.diff(rates) >= 0)


def curves() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand-made per-image RD curves: iwl needs 0.8x (mse) / 0.9x (ms-ssim) the baseline's bits."""
    rows = []
    for image in ("a", "b", "c", "d"):
        for k, psnr in enumerate([30.0, 32.0, 34.0, 36.0]):
            base = 0.1 * 2**k
            db = psnr / 2
            for family, f in (("mse", 0.8), ("ms-ssim", 0.9)):
                rows.append({"image": image, "method": "baseline", "family": family, "quality": k + 1,
                             "bpp": base, "psnr": psnr, "ms_ssim_db": db})
                rows.append({"image": image, "method": "iwl", "family": family, "quality": k + 1,
                             "bpp": f * base, "psnr": psnr, "ms_ssim_db": db})
    # q_J: a, b, c inside every curve; d's JND image is better than any reconstruction
    jnd = pd.DataFrame({"image": ["a", "b", "c", "d"], "psnr": [31.0, 33.0, 35.5, 40.0],
                        "ms_ssim": np.nan, "ms_ssim_db": [15.5, 16.5, 17.75, 20.0]})
    return pd.DataFrame(rows), jnd


def test_per_image_and_summary_with_out_of_range_images():
    df, jnd = curves()
    per, summary = S.bsjnd(df, jnd, ["iwl"], baseline="baseline", n_boot=100, seed=0)
    assert list(per.columns) == S.PER_IMAGE_COLUMNS and list(summary.columns) == S.SUMMARY_COLUMNS
    mse = per[per["family"] == "mse"].set_index("image")
    assert mse.loc[["a", "b", "c"], "saving"].tolist() == pytest.approx([-20.0] * 3)
    assert mse.loc["b", "bpp_baseline"] == pytest.approx(math.sqrt(0.2 * 0.4))
    assert math.isnan(mse.loc["d", "saving"]) and "above" in mse.loc["d", "status"]
    assert (mse.loc[["a", "b", "c"], "status"] == "ok").all()
    assert set(per["metric"]) == {"psnr", "ms_ssim_db"}  # PSNR for MSE models, MS-SSIM (dB) otherwise

    s = summary.set_index("key")
    assert s.loc["iwl-mse", "mean"] == pytest.approx(-20.0)
    assert s.loc["iwl-ms-ssim", "mean"] == pytest.approx(-10.0)
    assert s.loc["iwl-mse", "median"] == pytest.approx(-20.0)
    for key in ("iwl-mse", "iwl-ms-ssim"):
        assert s.loc[key, "n_used"] == 3 and s.loc[key, "n_out_of_range"] == 1 and s.loc[key, "n_images"] == 4
        assert s.loc[key, "low"] == pytest.approx(s.loc[key, "mean"])  # equal savings: a point range
        assert s.loc[key, "interval"] == S.INTERVAL_RANGE  # 3 images: no bootstrap
        assert s.loc[key, "status"].startswith("baseline: q_J above the curve; iwl: q_J above the curve (1 image)")


def test_bootstrap_interval_and_metric_choice():
    df, jnd = curves()
    # make the savings differ per image
    sel = (df["method"] == "iwl") & (df["family"] == "mse")
    df.loc[sel & (df["image"] == "a"), "bpp"] *= 1.25  # a: 0.8 -> 1.0x
    df.loc[sel & (df["image"] == "c"), "bpp"] *= 0.75  # c: 0.8 -> 0.6x
    per, summary = S.bsjnd(df, jnd, ["iwl"], families=["mse"], metric="psnr", n_boot=300, seed=1)
    row = summary.iloc[0]
    assert row["mean"] == pytest.approx(np.mean([0.0, -20.0, -40.0]))
    assert (row["low"], row["high"]) == pytest.approx((-40.0, 0.0)) and row["interval"] == S.INTERVAL_RANGE
    # from 10 images on, a bootstrap interval seeded from the row's key
    many = pd.concat([per.assign(image=per["image"] + str(i)) for i in range(4)], ignore_index=True)
    s1 = S.bsjnd_summary(many, n_boot=300, seed=1)
    assert s1.iloc[0]["interval"] == S.INTERVAL_BOOTSTRAP and s1.iloc[0]["n_used"] == 12
    assert -40.0 < s1.iloc[0]["low"] < s1.iloc[0]["mean"] < s1.iloc[0]["high"] < 0.0
    other = many.assign(method="fwl", key="fwl-mse")
    s2 = S.bsjnd_summary(pd.concat([other, many], ignore_index=True), n_boot=300, seed=1)
    pd.testing.assert_frame_equal(s1, s2[s2["key"] == "iwl-mse"].reset_index(drop=True))


def test_missing_jnd_quality_and_unknown_interp():
    df, jnd = curves()
    per = S.bsjnd_per_image(df, jnd[jnd["image"] != "a"], ["iwl"], families=["mse"])
    assert per.set_index("image").loc["a", "status"] == "no JND quality for this image"
    with pytest.raises(ValueError, match="interp"):
        S.rate_at_quality([0.1, 0.2], [30, 31], 30.5, interp="cubic")


def test_common_image_column_compares_methods_on_the_same_images():
    df, jnd = curves()
    fwl = df[df["method"] == "iwl"].assign(method="fwl")
    fwl.loc[fwl["image"] == "c", "psnr"] -= 3.0  # c's q_J (35.5) now lies above fwl's curve (33.0 at most)
    fwl.loc[fwl["image"] == "a", "bpp"] *= 0.5  # fwl saves 60% on a, 20% on b
    per, summary = S.bsjnd(pd.concat([df, fwl], ignore_index=True), jnd, ["iwl", "fwl"], families=["mse"])
    s = summary.set_index("key")
    assert (s.loc["iwl-mse", "n_used"], s.loc["fwl-mse", "n_used"]) == (3, 2)  # iwl: a b c; fwl: a b
    assert (s.loc["iwl-mse", "n_common"], s.loc["fwl-mse", "n_common"]) == (2, 2)
    assert s.loc["iwl-mse", "mean_common"] == pytest.approx(-20.0)
    assert s.loc["fwl-mse", "mean_common"] == pytest.approx(np.mean([-60.0, -20.0]))
    assert S.common_images(per) == {("mse", "baseline", "psnr", "pchip"): {"a", "b"}}


def test_jod_targets_threshold_for_proxy_labels_measured_jod_for_human_labels():
    df, jnd = curves()
    jnd = jnd.assign(jod=[8.2, 8.9, 9.4, 7.7])
    assert S.jod_targets(jnd, "cvvdp", 1.0)["jod"].tolist() == [9.0] * 4  # the proxy label's definition
    for labeller in ("human (VideoSet JND1)", "namm"):
        assert S.jod_targets(jnd, labeller, 1.0)["jod"].tolist() == [8.2, 8.9, 9.4, 7.7]
    with pytest.raises(ValueError, match="measured JND1 JOD"):
        S.jod_targets(jnd.drop(columns="jod"), "human (VideoSet JND1)", 1.0)
    jod_df = df.assign(jod=df["psnr"] / 4)  # JOD curves 7.5 .. 9
    per, _ = S.bsjnd(jod_df, S.jod_targets(jnd, "human (VideoSet JND1)", 1.0), ["iwl"], families=["mse"],
                     metric="jod")
    assert per.set_index("image")["q_jnd"].tolist() == [8.2, 8.9, 9.4, 7.7]
