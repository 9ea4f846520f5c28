"""The rate proxy: fitted weights, correlation with Pillow's real sizes, exact expectation."""
import numpy as np
import pytest
import torch

from jndlc_helpers.jpeg import rate as R
from jndlc_helpers.jpeg import simulator as S


def test_committed_proxy_ranks_real_sizes(make_rgb):
    from scipy.stats import pearsonr, spearmanr

    proxy = R.RateProxy.load(R.default_proxy_path())
    images = [make_rgb(64, 80, seed=s, high=255) for s in range(3)]
    X, y = R.measure(images, (15, 40, 65, 90))
    est = np.array([float(proxy.bits(S.quantise(S.analyse(R.rgb_tensor(im), q, exact=True)))[0])
                    for im in images for q in (15, 40, 65, 90)])
    assert spearmanr(est, y)[0] > 0.95 and pearsonr(est, y)[0] > 0.95


def test_fit_recovers_a_usable_model(make_rgb):
    images = [make_rgb(48, 48, seed=s, high=255) for s in range(4)]
    proxy = R.fit_rate_proxy(images, (20, 50, 80))
    X, y = R.measure(images, (20, 50, 80))
    c = R.correlation(proxy, X, y, 3)
    assert c["pearson"] > 0.98 and c["mean_abs_rel_error"] < 0.1
    assert min(min(w) for w in proxy.log_weight) >= 1.0  # a magnitude costs at least its own bits


def test_expected_bits_is_exact_at_the_ends():
    proxy = R.RateProxy.load(R.default_proxy_path())
    floor = torch.randint(-3, 3, (1, 1, 64, 2, 2)).float()
    for p, levels in ((0.0, floor), (1.0, floor + 1)):
        got = R.expected_bits(proxy, floor, torch.full_like(floor, p), 0)
        assert torch.allclose(got, proxy.coefficient_bits(levels, 0).sum((1, 2, 3, 4)))


def test_missing_or_bad_proxy_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        R.RateProxy.load(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ValueError, match="bad.json"):
        R.RateProxy.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="uint8"):
        R.rgb_tensor(np.zeros((4, 4, 3), np.float32))
