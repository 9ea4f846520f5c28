"""The real-bitstream evaluation's cache: rows are read back only when everything they
depend on is unchanged, and methods no longer asked for leave the table."""
import json
import shutil

import numpy as np
import pytest

from jndlc_helpers.evaluation import evaluate as E
from jndlc_helpers.jpeg import evaluate as JE
from jndlc_helpers.jpeg.evaluate import MethodSpec, evaluate_methods
from jndlc_helpers.jpeg.rate import default_proxy_path

QUALITIES = [30, 70]
METHODS = {"jpeg": MethodSpec(("mse",), "jpeg"), "classical": MethodSpec(("mse",), "classical")}


@pytest.fixture
def images(make_rgb):
    return {"a": make_rgb(32, 48, seed=1, high=255), "b": make_rgb(32, 48, seed=2, high=255)}


@pytest.fixture
def computed(monkeypatch):
    """The (method, seed) pairs whose rows were computed, not read back, since the last clear."""
    seen = []
    rows = JE._method_rows
    monkeypatch.setattr(JE, "_method_rows", lambda task: seen.append(task[0]) or rows(task))
    return seen


def same_rows(a, b) -> bool:
    """The same (method, image, quality) rows with the same values, bit for bit."""
    key, values = ["method", "image", "quality"], ["bpp", "psnr", "ms_ssim_db"]
    a, b = (t.astype({"method": str, "image": str, "quality": int}).sort_values(key) for t in (a, b))
    return (a[key].values.tolist() == b[key].values.tolist()
            and np.array_equal(a[values].to_numpy(float), b[values].to_numpy(float), equal_nan=True))


def test_unchanged_rows_are_read_back(tmp_path, images, computed):
    csv = tmp_path / "rd.csv"
    first = evaluate_methods(images, METHODS, QUALITIES, csv)
    computed.clear()
    again = evaluate_methods(images, METHODS, QUALITIES, csv)
    assert computed == [] and same_rows(first, again)
    key = json.loads((tmp_path / "rd.csv.methods.json").read_text())["classical"]
    assert {"kind", "families", "images", "qualities", "rate_proxy", "multiplier", "jod", "code", "versions"} <= set(key)


def test_other_quality_factors_are_computed(tmp_path, images):
    csv = tmp_path / "rd.csv"
    evaluate_methods(images, METHODS, QUALITIES, csv)
    rd = evaluate_methods(images, METHODS, [40, 80], csv)
    assert sorted(set(rd["quality"])) == [40, 80]


def test_other_images_are_computed(tmp_path, images):
    csv = tmp_path / "rd.csv"
    evaluate_methods(images, METHODS, QUALITIES, csv)
    other = {"a": images["b"], "b": images["a"]}  # same names and sizes, other pixels
    assert same_rows(evaluate_methods(other, METHODS, QUALITIES, csv), evaluate_methods(other, METHODS, QUALITIES))
    renamed = {"c": images["a"], "d": images["b"]}
    assert set(evaluate_methods(renamed, METHODS, QUALITIES, csv)["image"]) == {"c", "d"}


def test_another_rate_estimate_is_computed(tmp_path, images, monkeypatch):
    proxy = tmp_path / "rate_proxy.json"
    shutil.copyfile(default_proxy_path(), proxy)
    monkeypatch.setattr(JE, "default_proxy_path", lambda: proxy)
    csv = tmp_path / "rd.csv"
    before = evaluate_methods(images, METHODS, QUALITIES, csv)
    fit = json.loads(proxy.read_text())
    fit["nonzero_weight"] = [[3 * w for w in band] for band in fit["nonzero_weight"]]  # nonzeros cost more
    proxy.write_text(json.dumps(fit))
    fresh = evaluate_methods(images, METHODS, QUALITIES)
    assert not same_rows(before, fresh)  # the classical rows depend on it
    assert same_rows(evaluate_methods(images, METHODS, QUALITIES, csv), fresh)


def test_methods_no_longer_asked_for_are_dropped(tmp_path, images):
    csv = tmp_path / "rd.csv"
    evaluate_methods(images, METHODS, QUALITIES, csv)
    rd = evaluate_methods(images, {"jpeg": METHODS["jpeg"]}, QUALITIES, csv)
    assert set(rd["method"]) == {"jpeg"} and set(E.read_table(csv)["method"]) == {"jpeg"}
    assert set(json.loads((tmp_path / "rd.csv.methods.json").read_text())) == {"jpeg"}


def test_other_multiplier_jod_or_code_version_is_computed(tmp_path, images, computed, monkeypatch):
    csv = tmp_path / "rd.csv"
    evaluate_methods(images, METHODS, QUALITIES, csv)
    computed.clear()
    evaluate_methods(images, {**METHODS, "classical": MethodSpec(("mse",), "classical", multiplier=0.35)},
                     QUALITIES, csv)
    assert computed == [("classical", 0)]
    monkeypatch.setattr(JE, "EVAL_VERSION", JE.EVAL_VERSION + 1)
    computed.clear()
    evaluate_methods(images, METHODS, QUALITIES, csv)
    assert sorted(computed) == [("classical", 0), ("jpeg", 0)]


def test_seeds_of_a_method_are_rows_of_their_own(tmp_path, images, computed):
    csv = tmp_path / "rd.csv"
    spec = MethodSpec(("mse",), "jpeg")
    rd = evaluate_methods(images, {("jpeg", 0): spec, ("jpeg", 1): spec}, QUALITIES, csv)
    assert sorted(set(rd["seed"])) == [0, 1] and len(rd) == 2 * 2 * len(QUALITIES)
    computed.clear()
    rd = evaluate_methods(images, {("jpeg", 1): spec}, QUALITIES, csv)
    assert computed == [] and set(rd["seed"]) == {1}


def test_the_table_follows_the_order_asked_for(tmp_path, images):
    csv = tmp_path / "rd.csv"
    evaluate_methods(images, {"classical": METHODS["classical"]}, QUALITIES, csv)
    rd = evaluate_methods(images, METHODS, QUALITIES, csv)  # jpeg computed after classical was read back
    assert list(dict.fromkeys(rd["method"])) == ["jpeg", "classical"]
    assert np.isfinite(rd["bpp"]).all()
