"""Closed-loop targeting: the bisections, and the searches with a stand-in judge (the
real one, ColorVideoVDP, on one small image)."""
import numpy as np
import pytest

from jndlc_helpers.atjnd import search as S


def test_lowest_passing_and_bisect():
    seen = []
    ok = lambda q: seen.append(q) or q >= 37  # noqa: E731
    assert S.lowest_passing(range(1, 101), ok) == 37 and len(seen) <= 8
    assert S.lowest_passing(range(1, 101), lambda q: False) is None
    assert S.lowest_passing([1.0, 3.0], lambda q: True) == 1.0
    assert S.bisect(3.0, 5.0, lambda r: r >= 4.3, 0.125) == pytest.approx(4.3, abs=0.125)


def _psnr_judge(monkeypatch, threshold_db):
    """JOD stand-in: 10 minus how far the PSNR is below ``threshold_db`` (9 at it)."""
    from jndlc_helpers.evaluation.metrics import psnr

    monkeypatch.setattr(S, "jod", lambda ref, test, display=None: 9.0 + (psnr(ref, test) - threshold_db) / 10)


def test_jpeg_search_finds_the_lowest_passing_qf(monkeypatch, make_rgb):
    _psnr_judge(monkeypatch, 33.0)
    rgb = make_rgb(48, 48, seed=7)
    found = S.jpeg_at_jnd(rgb)
    assert found.found and found.jod >= 9.0 and found.tries <= 9
    from jndlc_helpers.atjnd.codecs import code_jpeg

    below = code_jpeg(rgb, int(found.setting) - 1)
    assert S.jod(rgb, below.rgb) < 9.0


def test_learned_search_lands_between_trained_qualities(monkeypatch, smoke_family, make_rgb):
    rgb = make_rgb(64, 64, seed=8)
    from jndlc_helpers.atjnd.codecs import code_learned
    from jndlc_helpers.evaluation.metrics import psnr

    top = psnr(rgb, code_learned(smoke_family[-1], rgb).rgb)
    low = psnr(rgb, code_learned(smoke_family[0], rgb).rgb)
    _psnr_judge(monkeypatch, (top + low) / 2)
    cont, disc = S.learned_at_jnd(rgb, smoke_family)
    assert cont.found and disc.found and cont.jod >= 9.0
    assert cont.coded.bpp <= disc.coded.bpp and cont.setting <= disc.setting
    _psnr_judge(monkeypatch, top + 5)  # out of reach: missed, at the top setting, never dropped
    missed, _ = S.learned_at_jnd(rgb, smoke_family)
    assert not missed.found and missed.setting == smoke_family[-1].quality


def test_the_real_judge_on_a_small_image(make_rgb):
    rgb = make_rgb(64, 64, seed=9)
    found = S.jpeg_at_jnd(rgb, tau=1.0)
    assert found.found and 1 <= found.setting <= 100 and found.jod >= 9.0
