"""Statistics over training seeds and test images, on made-up RD tables whose answer is known."""
import math

import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.evaluation import replicates as R

QUALITIES = (1, 3, 5, 7)


def rd_table(effect: float = 0.0, seed_noise: float = 0.0, shared: bool = True, n_images: int = 12,
             seeds=(0, 1, 2), rng_seed: int = 0, image_noise: float = 0.0) -> tuple[pd.DataFrame, dict]:
    """A pretrained anchor, a control and a method over seeds and images: every curve is
    the image's anchor curve with its rates scaled. Seed s scales the control's rates by
    g_s = exp(N(0, seed_noise)); the method's by g_s * (1 + effect) when it shares the
    seed's noise with its control (common random numbers), else by its own draw. With
    ``image_noise``, the method's effect also varies from image to image (the same for every
    seed: exp(N(-v/2, v)) with v = image_noise**2, so its mean over all images is 1)."""
    rng = np.random.default_rng(rng_seed)
    g_control = np.exp(rng.normal(0, seed_noise, len(seeds)))
    g_method = g_control if shared else np.exp(rng.normal(0, seed_noise, len(seeds)))
    g_image = np.exp(rng.normal(-image_noise**2 / 2, image_noise, n_images))
    rows = []
    for i in range(n_images):
        base = 0.1 * (1 + 0.2 * i)
        for q in QUALITIES:
            bpp = base * 1.6 ** q
            psnr = 24 + 0.3 * i + 4 * math.log2(1.6 ** q)  # the same quality at every scaled rate
            rows.append(dict(image=f"im{i}", method="baseline-pretrained", family="mse", quality=q, seed=0,
                             bpp=bpp, psnr=psnr))
            for k, s in enumerate(seeds):
                rows.append(dict(image=f"im{i}", method="baseline", family="mse", quality=q, seed=s,
                                 bpp=bpp * g_control[k], psnr=psnr))
                rows.append(dict(image=f"im{i}", method="fwl", family="mse", quality=q, seed=s,
                                 bpp=bpp * g_method[k] * g_image[i] * (1 + effect), psnr=psnr))
    return pd.DataFrame(rows), {"control": g_control, "method": g_method}


def test_a_known_effect_is_recovered_exactly_against_the_paired_control():
    rd, _ = rd_table(effect=-0.05, seed_noise=0.03)
    r = R.bd_rate_replicated(rd, "fwl", "baseline", "mse", "psnr", n_boot=200)
    assert r["bd_rate"] == pytest.approx(-5.0, abs=1e-6)
    assert r["n_seeds"] == 3 and r["n_images"] == 12 and r["interval"] == R.INTERVAL
    # the noise the method shares with its control cancels: the interval is the point
    assert r["low"] == pytest.approx(-5.0, abs=1e-6) and r["high"] == pytest.approx(-5.0, abs=1e-6)
    assert r["differs"]


def test_against_the_pretrained_anchor_the_seed_average_carries_the_seed_noise():
    rd, g = rd_table(effect=-0.05, seed_noise=0.03)
    r = R.bd_rate_replicated(rd, "fwl", "baseline-pretrained", "mse", "psnr", n_boot=300)
    assert r["bd_rate"] == pytest.approx((g["method"].mean() * 0.95 - 1) * 100, abs=1e-6)
    assert r["low"] <= r["bd_rate"] <= r["high"]
    per_seed = (g["method"] * 0.95 - 1) * 100
    half = R.seed_halfwidth(per_seed)
    assert r["low"] == pytest.approx(r["bd_rate"] - half, abs=1e-6)  # no image noise in this table
    assert r["high"] == pytest.approx(r["bd_rate"] + half, abs=1e-6)


def two_level_percentile(rd, n_boot=200, seed=0):
    """The plain two-level percentile bootstrap (seeds and images resampled), for comparison."""
    ms, _ = R.pairing(rd, "fwl", "baseline", "mse")
    images = sorted(set(rd["image"]))
    arrays = (*R.cube(rd, "baseline", "mse", "psnr", ms, images, list(QUALITIES)),
              *R.cube(rd, "fwl", "mse", "psnr", ms, images, list(QUALITIES)))
    rng = np.random.default_rng(seed)
    k, n = len(ms), len(images)
    boots = [R.bd_rate(*R._mean_curves(arrays, np.bincount(rng.integers(0, k, k), minlength=k),
                                       np.bincount(rng.integers(0, n, n), minlength=n)))[0] for _ in range(n_boot)]
    return np.quantile(boots, [0.025, 0.975])


def test_with_no_effect_and_seed_noise_a_percentile_bootstrap_over_3_seeds_falls_short():
    """Coverage on 40 made-up tables with 3 seeds: the Student-t seed term keeps it near 95%;
    a percentile bootstrap over the 3 seeds falls well short."""
    ours, percentile = 0, 0
    for rng_seed in range(40):
        rd, _ = rd_table(effect=0.0, seed_noise=0.02, shared=False, rng_seed=100 + rng_seed)
        r = R.bd_rate_replicated(rd, "fwl", "baseline", "mse", "psnr", n_boot=50)
        ours += r["low"] <= 0 <= r["high"]
        lo, hi = two_level_percentile(rd, n_boot=50)
        percentile += lo <= 0 <= hi
    assert ours >= 35  # 95% expected
    assert percentile <= 34  # measured 70% on 60 tables


def coverage(n_tables: int, n_boot: int, seed_noise: float = 0.02, image_noise: float = 0.03,
             first: int = 1000) -> float:
    """How often the interval of a method with no effect covers 0, on made-up tables with
    seed noise (its own draw, not shared with the control) and image-to-image variation."""
    hits = 0
    for rng_seed in range(first, first + n_tables):
        rd, _ = rd_table(0.0, seed_noise, shared=False, rng_seed=rng_seed, image_noise=image_noise)
        r = R.bd_rate_replicated(rd, "fwl", "baseline", "mse", "psnr", n_boot=n_boot, seed=rng_seed)
        hits += r["low"] <= 0 <= r["high"]
    return hits / n_tables


def test_the_interval_covers_a_null_effect_about_95_percent_of_the_time_with_seed_and_image_noise():
    """The rate over many more tables is in benchmarks/results/interval_coverage.json."""
    assert 0.88 <= coverage(60, 60) <= 1.0


def test_the_interval_widens_with_the_seed_noise():
    wide = R.bd_rate_replicated(rd_table(0.0, 0.05, shared=False)[0], "fwl", "baseline", "mse", "psnr", n_boot=100)
    narrow = R.bd_rate_replicated(rd_table(0.0, 0.005, shared=False)[0], "fwl", "baseline", "mse", "psnr",
                                  n_boot=100)
    assert wide["low"] < wide["bd_rate"] < wide["high"]
    assert wide["high"] - wide["low"] > 5 * (narrow["high"] - narrow["low"])


def test_a_single_seed_method_is_paired_with_the_control_of_its_seed():
    rd, g = rd_table(effect=0.02, seed_noise=0.05)
    rd = rd[(rd["method"] != "fwl") | (rd["seed"] == 1)]
    assert R.pairing(rd, "fwl", "baseline", "mse") == ([1], [1])
    r = R.bd_rate_replicated(rd, "fwl", "baseline", "mse", "psnr", n_boot=100)
    assert r["bd_rate"] == pytest.approx(2.0, abs=1e-6) and r["n_seeds"] == 1
    # no spread of its own: it borrows one seed's from the control's seed pairs
    pairs = [100 * (g["control"][b] / g["control"][a] - 1) for a, b in ((0, 1), (0, 2), (1, 2))]
    sd, n = R.seed_spread(rd, "baseline", "mse", "psnr")
    assert n == 3 and sd == pytest.approx(math.sqrt(np.mean(np.square(pairs))), rel=1e-6)
    assert r["high"] - r["low"] == pytest.approx(2 * t_975(2) * sd, rel=1e-6)  # no image noise here
    assert r["interval"] == R.INTERVAL_BORROWED.format(n=3)
    # against the pretrained anchor: the spread of the control's per-seed values
    r = R.bd_rate_replicated(rd, "fwl", "baseline-pretrained", "mse", "psnr", n_boot=100)
    per_seed = 100 * (g["control"] - 1)
    assert r["high"] - r["low"] == pytest.approx(2 * t_975(2) * per_seed.std(ddof=1), rel=1e-6)
    # a control of one seed has no spread to lend: images only, never "differs"
    one = rd[(rd["method"] != "baseline") | (rd["seed"] == 1)]
    r = R.bd_rate_replicated(one, "fwl", "baseline", "mse", "psnr", n_boot=100)
    assert r["interval"] == R.INTERVAL_IMAGES and not r["differs"] and math.isnan(r["p"])
    lonely = rd[~((rd["method"] == "baseline") & (rd["seed"] == 1))]
    r = R.bd_rate_replicated(lonely, "fwl", "baseline", "mse", "psnr", n_boot=100)
    assert math.isnan(r["bd_rate"]) and "same seed" in r["reason"]


def t_975(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def test_holm_corrects_for_the_rows_read_side_by_side():
    assert R.holm([0.01, 0.04, 0.03, math.nan]).tolist() == [True, False, False, False]  # 0.01 <= .05/3
    assert R.holm([0.001, 0.02, 0.04]).tolist() == [True, True, True]  # .001<=.05/3, .02<=.025, .04<=.05
    assert R.p_value(2.0, 1.0, 3.0) == pytest.approx(2 * 0.0000505, rel=0.5)  # z = 3.92
    assert R.p_value(0.5, -0.5, 1.5) > 0.05
    rd, _ = rd_table(effect=0.01, seed_noise=0.02, shared=False)
    table = R.bd_rate_table_replicated(rd, ["fwl"], ["baseline", "baseline-pretrained"], ["mse"], ["psnr"],
                                       n_boot=50)
    head = table[table["interpolation"] == "pchip"]
    assert (head["holm"] <= head["differs"]).all() and head["p"].notna().all()


def test_noise_floor_is_the_control_seeds_against_each_other():
    rd, g = rd_table(seed_noise=0.04)
    floor = R.noise_floor(rd, "baseline", ["mse"])["mse/psnr"]
    assert floor["seeds"] == [0, 1, 2] and len(floor["pairs"]) == 6
    assert floor["pairs"]["1 vs 0"] == pytest.approx((g["control"][1] / g["control"][0] - 1) * 100, abs=1e-6)
    expect = max(abs(g["control"][b] / g["control"][a] - 1) for a in range(3) for b in range(3) if a != b) * 100
    assert floor["max_abs"] == pytest.approx(expect, abs=1e-6)
    assert R.noise_floor(rd_table(seed_noise=0.0)[0], "baseline", ["mse"])["mse/psnr"]["max_abs"] == \
        pytest.approx(0, abs=1e-9)


def test_table_has_table_i_rows_for_every_pair():
    rd, _ = rd_table(effect=-0.05, seed_noise=0.03)
    t = R.bd_rate_table_replicated(rd, ["fwl", "baseline"], ["baseline-pretrained", "baseline"], ["mse"], ["psnr"],
                                   n_boot=50)
    assert list(t.columns) == R.REPLICATE_COLUMNS
    assert len(t) == 6  # fwl vs both anchors, baseline vs the pretrained one; pchip and cubic each
    head = t[(t["method"] == "fwl") & (t["anchor"] == "baseline") & (t["interpolation"] == "pchip")].iloc[0]
    assert head["bd_rate"] == pytest.approx(-5.0, abs=1e-6)


def test_bsjnd_over_seeds_recovers_a_known_saving():
    rd, g = rd_table(effect=-0.05, seed_noise=0.03)
    jnd = pd.DataFrame({"image": [f"im{i}" for i in range(12)],
                        "psnr": [24 + 0.3 * i + 4 * math.log2(1.6 ** 4) for i in range(12)]})
    per, summary = R.bsjnd_replicated(rd, jnd, ["fwl"], "baseline", ["mse"], n_boot=100)
    assert len(per) == 36 and set(per["seed"]) == {0, 1, 2}
    row = summary.iloc[0]
    assert row["mean"] == pytest.approx(-5.0, abs=1e-6) and row["n_seeds"] == 3 and row["n_used"] == 12
    assert row["low"] == pytest.approx(-5.0, abs=1e-6) and row["differs"]
    per, summary = R.bsjnd_replicated(rd, jnd, ["fwl"], "baseline-pretrained", ["mse"], n_boot=300)
    assert summary.iloc[0]["mean"] == pytest.approx((np.mean(g["method"]) * 0.95 - 1) * 100, abs=1e-6)


def test_bsjnd_over_seeds_has_the_like_for_like_column():
    """``mean_common`` averages over the images every method of the family reaches: an
    image out of one method's range leaves the other's common mean too."""
    rd, _ = rd_table(effect=-0.05, seed_noise=0.03)
    jnd = pd.DataFrame({"image": [f"im{i}" for i in range(12)],
                        "psnr": [24 + 0.3 * i + 4 * math.log2(1.6 ** 4) for i in range(12)]})
    far = jnd.assign(psnr=np.where(jnd["image"] == "im0", 99.0, jnd["psnr"]))  # im0's target out of every curve
    _, summary = R.bsjnd_replicated(rd, far, ["fwl", "baseline"], "baseline-pretrained", ["mse"], n_boot=0)
    for row in summary.itertuples():
        assert row.n_common == 11 and row.n_used == 11
        assert row.mean_common == pytest.approx(row.mean, abs=1e-9)
    per, _ = R.bsjnd_replicated(rd, jnd, ["baseline"], "baseline-pretrained", ["mse"], n_boot=0)
    g = per[per["interpolation"] == "pchip"]
    g = g.assign(saving=g["saving"] + g["image"].str[2:].astype(int))  # savings that differ by image
    key = ("baseline", "mse", "baseline-mse", "baseline-pretrained", "psnr", "pchip")
    row = R._bsjnd_row(key, g, 0, 0, {f"im{i}" for i in range(12)} - {"im3"})  # another method misses im3
    assert row["n_common"] == 11 and row["n_used"] == 12
    assert row["mean_common"] == pytest.approx(g.loc[g["image"] != "im3", "saving"].mean(), abs=1e-9)
    assert row["mean_common"] != pytest.approx(row["mean"], abs=1e-9)


def test_bsjnd_over_seeds_with_nothing_to_compare_is_empty_not_an_error():
    """Only the baseline proposed (notebook 07 with one preprocessor, against itself): empty
    tables with their columns, as the single-seed path returns."""
    rd, _ = rd_table(effect=-0.05, seed_noise=0.03)
    jnd = pd.DataFrame({"image": [f"im{i}" for i in range(12)], "psnr": [30.0] * 12})
    per, summary = R.bsjnd_replicated(rd, jnd, ["baseline"], "baseline", ["mse"], n_boot=0)
    assert per.empty and "method" in per.columns and "seed" in per.columns
    assert summary.empty and list(summary.columns) == R.BSJND_COLUMNS


def test_a_row_over_fewer_qualities_says_which():
    """A method trained at qualities 1 and 3 only (a grid spread over sessions) is compared
    where it has rows, and both tables say so; a complete one has every quality."""
    rd, _ = rd_table(effect=-0.05, seed_noise=0.03)
    rd = rd[~((rd["method"] == "fwl") & rd["quality"].isin([5, 7]))]
    t = R.bd_rate_table_replicated(rd, ["fwl", "baseline"], ["baseline-pretrained"], ["mse"], ["psnr"], n_boot=0)
    assert dict(zip(t["method"], t["qualities"])) == {"fwl": "1,3", "baseline": "1,3,5,7"}
    jnd = pd.DataFrame({"image": [f"im{i}" for i in range(12)],
                        "psnr": [24 + 0.3 * i + 4 * math.log2(1.6 ** 2) for i in range(12)]})
    _, summary = R.bsjnd_replicated(rd, jnd, ["fwl", "baseline"], "baseline-pretrained", ["mse"], n_boot=0)
    assert dict(zip(summary["method"], summary["qualities"])) == {"fwl": "1,3", "baseline": "1,3,5,7"}
