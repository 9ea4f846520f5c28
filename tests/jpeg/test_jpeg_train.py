"""Training: resumes exactly where it stopped, refuses bad knobs by name."""
import json

import pytest
import torch

from jndlc_helpers.data import pairs
from jndlc_helpers.jpeg import preprocess as PP
from jndlc_helpers.jpeg import train as T
from jndlc_helpers.jpeg.rate import RateProxy, default_proxy_path


def _cfg(**kw):
    base = dict(loss="iwl-hinge", steps=4, batch_size=2, patch_size=32, qualities=(30, 70),
                checkpoint_every=2, hidden=8, lr=1e-2)
    return T.TrainConfig(**{**base, **kw})


@pytest.fixture
def images(make_pairs):
    root = make_pairs(["a", "b"], size=(64, 48))
    return T.load_training_images(pairs.find_pairs(root / "train"))


def test_resume_gives_the_uninterrupted_run(tmp_path, images):
    torch.set_num_threads(1)
    proxy = RateProxy.load(default_proxy_path())
    whole = T.train_preprocessor(tmp_path / "whole", images, _cfg(), proxy)
    assert T.train_preprocessor(tmp_path / "split", images, _cfg(), proxy, stop_after=3) is None  # interrupted
    split = T.train_preprocessor(tmp_path / "split", images, _cfg(), proxy)
    a, b = PP.load_weights(whole)[0].state_dict(), PP.load_weights(split)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(a[k].abs().sum() > 0 for k in a if k.endswith("out.weight"))  # it did learn something
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    assert T.train_preprocessor(tmp_path / "split", images, _cfg(), proxy) == split  # done: skipped


@pytest.mark.parametrize("knob, value, match", [
    ("loss", "nope", "loss must be one of"), ("distortion", "psnr", "distortion must be one of"),
    ("patch_size", 40, "patch_size must be a multiple of 16"), ("qualities", (0,), "quality"),
    ("steps", 0, "steps must be >= 1"), ("multiplier", -1.0, "multiplier"), ("surrogate", "soft", "surrogate"),
])
def test_bad_knobs_are_named(tmp_path, images, knob, value, match):
    with pytest.raises(ValueError, match=match):
        T.train_preprocessor(tmp_path / "bad", images, _cfg(**{knob: value}), RateProxy.load(default_proxy_path()))


def test_straight_through_trains(tmp_path, images):
    w = T.train_preprocessor(tmp_path / "st", images, _cfg(surrogate="straight-through"),
                             RateProxy.load(default_proxy_path()))
    assert PP.load_weights(w)[1]["surrogate"] == "straight-through"


def test_small_images_and_bad_checkpoints_are_named(tmp_path, images):
    proxy = RateProxy.load(default_proxy_path())
    with pytest.raises(ValueError, match="smaller than patch_size 256"):
        T.train_preprocessor(tmp_path / "small", images, _cfg(patch_size=256), proxy)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "checkpoint.pt").write_bytes(b"half a file")
    with pytest.raises(ValueError, match="checkpoint.pt: unreadable"):
        T.train_preprocessor(tmp_path / "broken", images, _cfg(), proxy)
    with pytest.raises(ValueError, match="no training images"):
        T.load_training_images([])
