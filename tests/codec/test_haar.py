"""The Haar pair (``codec/haar.py``): orthonormal filters, exact inverse, band layout."""
from __future__ import annotations

import pytest
import torch

from jndlc_helpers.codec import haar

F64 = haar.HAAR.double()


def test_the_filter_bank_is_orthonormal_with_taps_of_one_half():
    bank = haar.HAAR.view(4, 4)
    assert set(bank.abs().flatten().tolist()) == {0.5}
    assert torch.equal(bank @ bank.T, torch.eye(4))


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_the_inverse_undoes_the_transform_both_ways(dtype, tol):
    torch.manual_seed(0)
    x = 10 * torch.randn(2, 5, 12, 8, dtype=dtype)
    bands = haar.dwt(x)
    assert bands.shape == (2, 20, 6, 4) and bands.dtype == dtype
    assert (haar.idwt(bands) - x).abs().max() < tol
    c = 10 * torch.randn(2, 20, 6, 4, dtype=dtype)
    assert (haar.dwt(haar.idwt(c)) - c).abs().max() < tol


def test_the_transform_keeps_energy_and_its_transpose_is_its_adjoint():
    torch.manual_seed(1)
    x, c = torch.randn(1, 3, 16, 10, dtype=torch.float64), torch.randn(1, 12, 8, 5, dtype=torch.float64)
    assert torch.allclose(haar.dwt(x, F64).pow(2).sum(), x.pow(2).sum(), rtol=1e-12)
    assert torch.allclose((haar.dwt(x, F64) * c).sum(), (x * haar.idwt(c, F64)).sum(), rtol=1e-12)


def test_bands_are_laid_out_band_by_band():
    """Two channels: a constant (LL only) and horizontal stripes (LL and LH, the
    high-pass along the height); bands [LL, LH, HL, HH] of C channels each."""
    flat = torch.full((4, 6), 3.0)
    stripes = torch.tensor([1.0, 0.0]).repeat(2)[:, None].expand(4, 6)
    bands = haar.dwt(torch.stack([flat, stripes])[None])[0]
    expected = {0: 6.0, 1: 1.0, 2: 0.0, 3: 1.0}  # LL of both channels, then LH of both
    for channel, value in expected.items():
        assert torch.equal(bands[channel], torch.full((2, 3), value)), channel
    assert torch.equal(bands[4:], torch.zeros(4, 2, 3))  # HL, HH


def test_odd_sizes_and_channel_counts_are_refused_naming_them():
    with pytest.raises(ValueError, match="7x8"):
        haar.dwt(torch.zeros(1, 2, 7, 8))
    with pytest.raises(ValueError, match="6 channels"):
        haar.idwt(torch.zeros(1, 6, 4, 4))


def test_the_modules_hold_their_filters_outside_the_state_dict():
    dwt, idwt = haar.HaarDWT().double(), haar.HaarIDWT().double()
    assert dwt.state_dict() == {} and dwt.filters.dtype == torch.float64
    x = torch.randn(1, 2, 4, 4, dtype=torch.float64)
    assert torch.allclose(idwt(dwt(x)), x, atol=1e-12)
