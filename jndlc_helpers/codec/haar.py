"""The one-level 2D Haar wavelet transform as fixed depthwise stride-2 filters, and its inverse.

Each channel's 2x2 blocks are multiplied by four orthonormal filters (taps +-0.5)::

    LL = [[1, 1], [1, 1]] / 2     LH = [[1, 1], [-1, -1]] / 2   (high-pass along the height)
    HL = [[1, -1], [1, -1]] / 2   HH = [[1, -1], [-1, 1]] / 2

``dwt`` maps [B, C, H, W] to [B, 4C, H/2, W/2] with the bands laid out band by band,
[LL, LH, HL, HH] (channels 0..C-1 are LL, C..2C-1 LH, ...), as WeConvene lays them out.
The filter bank is an orthogonal 4x4 matrix, so the transposed convolution with the
same filters (``idwt``) is its exact inverse, and the transform keeps the energy.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

BANDS = ("LL", "LH", "HL", "HH")
HAAR = 0.5 * torch.tensor([
    [[1.0, 1.0], [1.0, 1.0]],
    [[1.0, 1.0], [-1.0, -1.0]],
    [[1.0, -1.0], [1.0, -1.0]],
    [[1.0, -1.0], [-1.0, 1.0]],
]).unsqueeze(1)  # [4, 1, 2, 2]: one output channel per band, for one input channel


def _bank(filters: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    """The depthwise weight [4C, 1, 2, 2]: the four filters for each of ``channels``."""
    return filters.to(dtype=like.dtype, device=like.device).repeat(channels, 1, 1, 1)


def dwt(x: torch.Tensor, filters: torch.Tensor = HAAR) -> torch.Tensor:
    """[B, C, H, W] -> [B, 4C, H/2, W/2], bands [LL, LH, HL, HH]; H and W must be even."""
    b, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"the Haar DWT needs an even height and width, got {h}x{w}")
    out = F.conv2d(x, _bank(filters, c, x), stride=2, groups=c)  # [B, C*4, ...]: channel by channel
    return out.view(b, c, 4, h // 2, w // 2).transpose(1, 2).reshape(b, 4 * c, h // 2, w // 2)


def idwt(bands: torch.Tensor, filters: torch.Tensor = HAAR) -> torch.Tensor:
    """The inverse of ``dwt``: [B, 4C, H, W] (bands [LL, LH, HL, HH]) -> [B, C, 2H, 2W]."""
    b, c4, h, w = bands.shape
    if c4 % 4:
        raise ValueError(f"the inverse Haar DWT needs 4 bands of C channels, got {c4} channels")
    c = c4 // 4
    grouped = bands.view(b, 4, c, h, w).transpose(1, 2).reshape(b, c4, h, w)
    return F.conv_transpose2d(grouped, _bank(filters, c, bands), stride=2, groups=c)


class HaarDWT(nn.Module):
    """``dwt`` as a module; the filters are a buffer (moved with the model, not in its state dict)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("filters", HAAR.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dwt(x, self.filters)


class HaarIDWT(HaarDWT):
    """``idwt`` as a module: the transpose of ``HaarDWT``, its exact inverse."""

    def forward(self, bands: torch.Tensor) -> torch.Tensor:
        return idwt(bands, self.filters)
