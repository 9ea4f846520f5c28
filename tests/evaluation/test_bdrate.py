import math

import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.evaluation import bdrate as B

# The bjontegaard package's README example (libx265 presets, rate in kbps, PSNR in dB).
RATE_A = [9487.76, 4593.60, 2486.44, 1358.24]
PSNR_A = [40.037, 38.615, 36.845, 34.851]
RATE_T = [9787.80, 4469.00, 2451.52, 1356.24]
PSNR_T = [40.121, 38.651, 36.970, 34.987]


def vceg_m33(rate_a, q_a, rate_t, q_t):
    """Bjontegaard's VCEG-M33 BD-rate, written out: cubic fit of log-rate over quality."""
    pa = np.polyfit(q_a, np.log(rate_a), 3)
    pt = np.polyfit(q_t, np.log(rate_t), 3)
    lo, hi = max(min(q_a), min(q_t)), min(max(q_a), max(q_t))
    ia, it = np.polyint(pa), np.polyint(pt)
    avg = ((np.polyval(it, hi) - np.polyval(it, lo)) - (np.polyval(ia, hi) - np.polyval(ia, lo))) / (hi - lo)
    return (math.exp(avg) - 1) * 100


def test_readme_example_known_value():
    value, reason = B.bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method="cubic")
    assert reason is None
    assert value == pytest.approx(-4.42, abs=0.005)


def test_cubic_is_vceg_m33():
    value, _ = B.bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method="cubic")
    assert value == pytest.approx(vceg_m33(RATE_A, PSNR_A, RATE_T, PSNR_T), abs=1e-9)
    rng = np.random.default_rng(3)
    for _ in range(5):
        q_a = np.sort(rng.uniform(28, 40, 6))
        r_a = np.exp(0.25 * q_a - 7 + rng.normal(0, 0.02, 6))
        q_t = np.sort(q_a + rng.uniform(-0.8, 0.8, 6))
        r_t = np.exp(0.25 * q_t - 7.1 + rng.normal(0, 0.02, 6))
        got, why = B.bd_rate(r_a, q_a, r_t, q_t, method="cubic")
        assert why is None
        assert got == pytest.approx(vceg_m33(r_a, q_a, r_t, q_t), abs=1e-8)


def test_pchip_matches_scipy_integral_and_is_order_free():
    from scipy.interpolate import PchipInterpolator

    value, _ = B.bd_rate(RATE_A, PSNR_A, RATE_T, PSNR_T, method="pchip")
    ia = PchipInterpolator(PSNR_A[::-1], np.log10(RATE_A[::-1]))
    it = PchipInterpolator(PSNR_T[::-1], np.log10(RATE_T[::-1]))
    lo, hi = max(min(PSNR_A), min(PSNR_T)), min(max(PSNR_A), max(PSNR_T))
    avg = (it.integrate(lo, hi) - ia.integrate(lo, hi)) / (hi - lo)
    assert value == pytest.approx((10**avg - 1) * 100, abs=1e-9)
    perm = [2, 0, 3, 1]
    shuffled, _ = B.bd_rate(np.take(RATE_A, perm), np.take(PSNR_A, perm), RATE_T, PSNR_T, method="pchip")
    assert shuffled == pytest.approx(value, abs=1e-12)


def test_a_constant_rate_factor_is_recovered():
    q = np.array([30.0, 32.0, 34.0, 36.0, 38.0])
    r = np.exp(0.3 * q - 9)
    for method in B.METHODS:
        value, _ = B.bd_rate(r, q, 0.9 * r, q, method=method)
        assert value == pytest.approx(-10.0, abs=1e-9)


def test_no_extrapolation_reasons():
    q = np.array([30.0, 32.0, 34.0, 36.0])
    r = np.exp(0.3 * q - 9)
    value, reason = B.bd_rate(r, q, r, q + 10, method="pchip")
    assert math.isnan(value) and "overlap" in reason
    value, reason = B.bd_rate(r, q, r, q + 2.5, method="pchip", min_overlap=0.5)
    assert math.isnan(value) and "overlap 41% < 50%" in reason  # 3.5 of 8.5 dB
    value, reason = B.bd_rate(r[:3], q[:3], r[:3], q[:3], method="cubic")
    assert math.isnan(value) and "needs >= 4" in reason
    assert B.bd_rate(r[:3], q[:3], 0.9 * r[:3], q[:3], method="pchip")[1] is None
    value, reason = B.bd_rate(r, q[[0, 2, 1, 3]], r, q, method="pchip")
    assert math.isnan(value) and "does not increase" in reason
    value, reason = B.bd_rate(r, q, [0.0, *r[1:]], q, method="pchip")
    assert math.isnan(value) and "rate <= 0" in reason


def tidy(factors: dict[str, float], n_q: int = 5, missing: tuple | None = None) -> pd.DataFrame:
    """Per-image RD points of a baseline and of 'iwl', whose rate is factor x baseline's."""
    rows = []
    rng = np.random.default_rng(0)
    for image, f in factors.items():
        offset = rng.uniform(-1, 1)
        for k in range(n_q):
            psnr = 28 + 2.5 * k + offset
            bpp = math.exp(0.25 * psnr - 8)
            for method, rate in (("baseline", bpp), ("iwl", f * bpp)):
                if missing == (image, method, k + 1):
                    continue
                rows.append({"image": image, "method": method, "family": "mse", "quality": k + 1,
                             "bpp": rate, "psnr": psnr, "ms_ssim_db": psnr / 2})
    return pd.DataFrame(rows)


# The 4-point case: the test curve lies above the anchor everywhere, yet the
# cubic fit oscillates between the two close top points.
EX_RATE_A, EX_Q_A = [0.24, 0.42, 0.60, 0.63], [8.7, 10.2, 10.3, 11.1]
EX_RATE_T, EX_Q_T = [0.24, 0.42, 0.61, 0.63], [8.8, 10.5, 10.9, 11.4]


def test_four_point_example_pchip_headline_and_cubic_flagged():
    assert B.METHODS[0] == "pchip"
    pchip, why = B.bd_rate(EX_RATE_A, EX_Q_A, EX_RATE_T, EX_Q_T)  # the default is the headline
    assert why is None and pchip == pytest.approx(-10.33, abs=0.01)
    cubic, _ = B.bd_rate(EX_RATE_A, EX_Q_A, EX_RATE_T, EX_Q_T, method="cubic")
    assert cubic == pytest.approx(43.0, abs=0.01)
    check = B.cubic_check(EX_RATE_A, EX_Q_A, EX_RATE_T, EX_Q_T, cubic, pchip)
    assert "not monotone" in check and "anchor" in check and "departs from PCHIP by 53.3" in check
    # well-behaved curves: no flag
    q = np.array([30.0, 32.0, 34.0, 36.0])
    r = np.exp(0.3 * q - 9)
    assert B.cubic_check(r, q, 0.9 * r, q, -10.0, -10.0) == ""


def example_df(n_images: int) -> pd.DataFrame:
    """The 4-point example for ``n_images`` identical images, in the tidy layout."""
    rows = []
    for i in range(n_images):
        for method, rates, qs in (("baseline", EX_RATE_A, EX_Q_A), ("iwl", EX_RATE_T, EX_Q_T)):
            for k, (r, q) in enumerate(zip(rates, qs)):
                rows.append({"image": f"im{i}", "method": method, "family": "ms-ssim", "quality": k + 1,
                             "bpp": r, "psnr": 30 + q, "ms_ssim_db": q})
    return pd.DataFrame(rows)


def test_table_flags_the_cubic_row():
    t = B.bd_rate_table(example_df(2), ["iwl"], anchors=["baseline"], families=["ms-ssim"],
                        metrics=["ms_ssim_db"], n_boot=20)
    r = t.set_index(["interpolation", "aggregate"])
    assert r.loc[("pchip", "average-curve"), "bd_rate"] < 0 and r.loc[("pchip", "average-curve"), "check"] == ""
    assert "not monotone" in r.loc[("cubic", "average-curve"), "check"]
    assert "for 2 of 2 images" in r.loc[("cubic", "per-image-mean"), "check"]
    assert list(t["interpolation"][:2]) == ["pchip", "cubic"]


def test_table_aggregates_and_bootstrap():
    factors = {f"im{i:02d}": 0.80 + 0.015 * i for i in range(12)}
    df = tidy(factors)
    t = B.bd_rate_table(df, ["iwl"], anchors=["baseline"], families=["mse"], n_boot=100, seed=1)
    assert list(t.columns) == B.BD_COLUMNS
    assert set(t["aggregate"]) == {"average-curve", "per-image-mean"}
    assert set(t["interpolation"]) == {"cubic", "pchip"}
    assert set(t["metric"]) == {"psnr", "ms_ssim_db"}
    assert (t["key"] == "iwl-mse").all() and (t["reason"] == "").all() and (t["check"] == "").all()
    assert (t["interval"] == B.INTERVAL_BOOTSTRAP).all() and (t["n_boot_failed"] == 0).all()
    per = t[(t["aggregate"] == "per-image-mean")]
    expect = np.mean([(f - 1) * 100 for f in factors.values()])
    assert np.allclose(per["bd_rate"], expect)
    assert ((per["low"] <= expect) & (expect <= per["high"]) & (per["low"] < per["high"])).all()
    avg = t[t["aggregate"] == "average-curve"]
    assert avg["bd_rate"].between(-20, -5).all() and (avg["n_used"] == 12).all()
    again = B.bd_rate_table(df, ["iwl"], anchors=["baseline"], families=["mse"], n_boot=100, seed=1)
    pd.testing.assert_frame_equal(t, again)


def test_few_images_give_the_range_not_an_interval():
    factors = {"a": 0.80, "b": 0.90, "c": 0.95}
    t = B.bd_rate_table(tidy(factors), ["iwl"], anchors=["baseline"], families=["mse"], n_boot=100)
    assert (t["interval"] == B.INTERVAL_RANGE).all() and (t["n_boot"] == 0).all()
    pchip = t[t["interpolation"] == "pchip"]
    assert np.allclose(pchip["low"], -20.0) and np.allclose(pchip["high"], -5.0)


def test_adding_a_method_moves_no_other_row():
    factors = {f"im{i:02d}": 0.80 + 0.015 * i for i in range(11)}
    df = tidy(factors)
    extra = df[df["method"] == "iwl"].assign(method="fwl", bpp=lambda d: d["bpp"] * 0.97)
    both = pd.concat([df, extra], ignore_index=True)
    one = B.bd_rate_table(df, ["iwl"], anchors=["baseline"], families=["mse"], n_boot=50)
    two = B.bd_rate_table(both, ["fwl", "iwl"], anchors=["baseline"], families=["mse"], n_boot=50)
    pd.testing.assert_frame_equal(one, two[two["method"] == "iwl"].reset_index(drop=True))
    assert B.row_seed(0, "iwl", "mse") == B.row_seed(0, "iwl", "mse") != B.row_seed(0, "fwl", "mse")


def test_failed_resamples_are_counted():
    factors = {f"im{i:02d}": 0.9 for i in range(11)}
    df = tidy(factors)
    # one image whose quality drops by 20 dB between qualities 2 and 3: the average
    # curve still rises, but a resample holding it twice does not
    weird = (df["image"] == "im00") & (df["quality"] >= 3)
    df.loc[weird, "psnr"] -= 22.5
    t = B.bd_rate_table(df, ["iwl"], anchors=["baseline"], families=["mse"], metrics=["psnr"],
                        aggregates=["average-curve"], methods=["pchip"], n_boot=200)
    row = t.iloc[0]
    assert np.isfinite(row["bd_rate"]) and row["interval"] == B.INTERVAL_BOOTSTRAP
    assert 0 < row["n_boot_failed"] < 200


def test_table_reasons_when_points_are_missing():
    df = tidy({"a": 0.8, "b": 0.9}, n_q=4, missing=("a", "iwl", 2))
    t = B.bd_rate_table(df, ["iwl"], anchors=["baseline"], families=["mse"], metrics=["psnr"], n_boot=20)
    avg = t[t["aggregate"] == "average-curve"]
    assert avg["bd_rate"].isna().all() and avg["reason"].str.contains("average curve undefined").all()
    cubic = t[(t["aggregate"] == "per-image-mean") & (t["interpolation"] == "cubic")].iloc[0]
    assert cubic["bd_rate"] == pytest.approx(-10.0) and cubic["n_used"] == 1
    assert "needs >= 4" in cubic["reason"] and "1 images" in cubic["reason"]
    pchip = t[(t["aggregate"] == "per-image-mean") & (t["interpolation"] == "pchip")].iloc[0]
    assert pchip["n_used"] == 2 and pchip["reason"] == ""


def test_the_table_is_the_same_over_two_processes():
    factors = {f"im{i:02d}": 0.80 + 0.015 * i for i in range(11)}
    df = tidy(factors)
    df = pd.concat([df, df[df["method"] == "iwl"].assign(method="fwl", bpp=lambda d: d["bpp"] * 0.97)],
                   ignore_index=True)
    kw = dict(anchors=["baseline"], families=["mse"], n_boot=30)
    serial = B.bd_rate_table(df, ["fwl", "iwl"], **kw)
    pd.testing.assert_frame_equal(serial, B.bd_rate_table(df, ["fwl", "iwl"], workers=2, **kw))
    assert len(serial) == 2 * 2 * 2 * 2  # methods x metrics x interpolations x aggregates
