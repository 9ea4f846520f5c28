"""The open-loop predictor: features, a grouped fit, its margin, a file round trip."""
import numpy as np
import pandas as pd
import pytest

from jndlc_helpers.atjnd import predictor as PR
from jndlc_helpers.atjnd import training as T


def test_features_are_finite_and_tell_flat_from_busy(make_rgb):
    busy = make_rgb(64, 64, seed=1)
    flat = np.full((64, 64, 3), 120, np.uint8)
    fb, ff = PR.features(busy), PR.features(flat)
    assert fb.shape == (len(PR.FEATURES),) and np.isfinite(fb).all() and np.isfinite(ff).all()
    assert ff[PR.FEATURES.index("flat_blocks")] == 1.0 > fb[PR.FEATURES.index("flat_blocks")]


def test_fit_recovers_a_linear_target_and_its_margin_covers(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, len(PR.FEATURES)))
    y = 40 + 8 * X[:, 0] - 5 * X[:, 3] + rng.normal(0, 1, 60)
    p = PR.fit(X, y, [f"s{i % 12}" for i in range(60)], "jpeg", 1, 100, coverage=0.9)
    assert p.cv_mae < 1.5 and 0 < p.margin < 3
    PR.save(tmp_path / "p.json", {"jpeg": p}, {})
    assert PR.load(tmp_path / "p.json")["jpeg"] == p
    with pytest.raises(ValueError, match="3 sources"):
        PR.fit(X, y, ["a", "b"] * 30, "jpeg", 1, 100)


def test_examples_keep_whole_photographs_and_tiles(tmp_path, make_rgb):
    from PIL import Image

    Image.fromarray(make_rgb(96, 160)).save(tmp_path / "a.png")
    exs = T.examples([(tmp_path / "a.png", "src")], crop=64, per_image=4)
    assert [e["example"] for e in exs] == ["a", "a@0,0", "a@0,64"]
    assert T.pixels(exs[2]).shape == (64, 64, 3)


def test_human_labels_are_read_from_a_converted_data_set(tmp_path):
    pd.DataFrame({"image": ["a", "b"], "split": ["train", "test"], "labeller": ["human (x.csv)"] * 2,
                  "qf": [33, 44]}).to_csv(tmp_path / "labels.csv", index=False)
    assert T.human_qf(tmp_path) == {"a": 33.0}
    pd.DataFrame({"image": ["a"], "split": ["train"], "labeller": ["cvvdp"], "qf": [33]}).to_csv(
        tmp_path / "labels.csv", index=False)
    assert T.human_qf(tmp_path) is None
