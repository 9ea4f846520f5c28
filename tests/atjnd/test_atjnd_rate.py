"""The continuous rate: a latent step on fixed models, joined into one dial per image."""
import numpy as np
import pytest
import torch

from jndlc_helpers.atjnd import ladder as L
from jndlc_helpers.atjnd import models as MD
from jndlc_helpers.atjnd import rate
from jndlc_helpers.evaluation import evaluate as E


@pytest.fixture(scope="module")
def refs(smoke_family):
    return smoke_family


def test_step_one_is_the_model_itself_and_a_coarser_step_spends_fewer_bits(refs, make_rgb):
    model = MD.load(refs[-1])
    assert rate.with_step(model, 1.0) is model
    x = E.to_tensor(make_rgb(64, 64, seed=3))
    fine, coarse = (E.code_image(rate.with_step(model, s), x, check=False, estimate=False) for s in (1.0, 2.0))
    assert coarse["n_bytes"] < fine["n_bytes"]
    assert coarse["x_hat"].shape == fine["x_hat"].shape == x.shape
    bits = rate.bit_estimator(model, x)
    assert bits(1.0) > bits(1.5) > bits(3.0)
    step = rate.matching_step(bits, bits(2.0))  # rounding makes bits(step) a staircase
    assert bits(step) <= bits(2.0) < bits(step * 0.99) and step == pytest.approx(2.0, rel=0.05)


def test_the_ladder_is_the_trained_models_at_their_qualities_and_continuous_between(refs, make_rgb):
    rgb = make_rgb(64, 64, seed=1)
    lad = L.image_ladder(refs, rgb)
    assert lad.qualities == (1, 2, 4, 6) and (lad.low, lad.high) == (0.0, 6.0)
    for ref in refs:
        assert lad.setting(ref.quality) == (ref, 1.0)
    x = E.to_tensor(rgb)
    est = {r: rate.bit_estimator(MD.load(r), x) for r in refs}
    bits = [est[ref](step) for ref, step in (lad.setting(r) for r in np.linspace(0, 6, 25))]
    # the rate never falls as r rises (up to the staircase of rounding at a junction)
    assert all(b >= a * 0.99 for a, b in zip(bits, bits[1:])) and bits[-1] > 2 * bits[0]
    ref, step = lad.setting(3.0)
    assert ref.quality == 4 and 1.0 < step == rate.store_step(step)


def test_a_step_below_one_or_an_autoregressive_model_is_refused(refs):
    with pytest.raises(ValueError, match="positive"):
        rate.StepScaled(MD.load(refs[0]), 0.0)
    with pytest.raises(ValueError, match="hyperprior"):
        rate.StepScaled(torch.nn.Conv2d(3, 3, 1), 2.0)
