"""The validation set: disjoint from every other photograph, three views per photograph."""
from __future__ import annotations

import numpy as np
import pytest

from jndlc_helpers.data import corpus, embedded, validation


def test_no_validation_photograph_is_used_anywhere_else():
    others = corpus.CORPUS_PHOTOS + corpus.JND_PHOTOS
    members = {(p.package, p.member) for p in others}
    assert not members & {(p.package, p.member) for p in validation.VALIDATION_PHOTOS}
    names = {p.name for p in others} | set(embedded.EMBEDDED_SOURCES)
    assert not names & {p.name for p in validation.VALIDATION_PHOTOS}
    packages = {p.package for p in others}
    assert {p.package for p in validation.VALIDATION_PHOTOS} <= packages  # no new photo package


@pytest.mark.parametrize("shape", [(1600, 2560, 3), (4096, 4096, 3), (3000, 2000, 3)])
def test_three_views_of_one_photograph(shape):
    rgb = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    v = validation.views(rgb)
    assert max(v["whole"].shape[:2]) == validation.WHOLE_SIDE
    assert v["a"].shape == v["b"].shape == (512, 512, 3)
    assert not np.array_equal(v["a"], v["b"])


def test_a_photograph_too_small_for_two_crops_is_refused():
    with pytest.raises(ValueError, match="needs 1024x512 px"):
        validation.views(np.zeros((400, 900, 3), np.uint8))
