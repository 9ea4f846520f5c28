"""Wavelet-domain convolution (WeConv, after WeConvene, ECCV 2024) in a mean-scale hyperprior.

A WeConv block convolves, then works in the Haar wavelet domain (``haar.py``): the LL
band through conv3x3 + GDN, the three high bands together through one conv3x3
(3C -> 3C) + GDN, back through the inverse DWT, plus a 1x1 skip::

    down (stride s):  x -> conv(k, s) -> LeakyReLU -> DWT -> [LL: conv3x3, GDN | LH HL HH: conv3x3, GDN]
                        -> IDWT  (+ conv1x1 stride s of x)
    up (x2):          x -> sub-pixel conv3x3 -> LeakyReLU -> DWT -> [... inverse GDN ...] -> IDWT
                        (+ sub-pixel conv1x1 of x)

``WeConvMeanScaleHyperprior`` is CompressAI's ``MeanScaleHyperprior(N, M)`` (our base
models' architecture) with these blocks in place of the 2nd and 3rd stride-2 stages
(conv + GDN) of g_a and g_s and of the first layers of h_a (a stride-1 block, 3x3 as
the layer it replaces) and h_s (an up block). The down blocks keep the 5x5 kernel of the
stage they replace. Everything else is CompressAI's: the entropy bottleneck, the
Gaussian conditional, ``forward``, ``compress`` and ``decompress`` (real bitstreams).
WeConvene's wavelet-domain entropy model (WeChARM) is not part of it.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from compressai.layers import GDN, conv1x1, conv3x3, subpel_conv3x3
from compressai.models import MeanScaleHyperprior
from compressai.models.utils import conv, deconv

from .haar import HaarDWT, HaarIDWT


class WaveletStage(nn.Module):
    """DWT -> LL through conv3x3 + GDN, the high bands together through conv3x3 + GDN -> IDWT.

    Keeps the shape [B, C, H, W] (H, W even); ``inverse`` uses inverse GDN (the decoder's)."""

    def __init__(self, channels: int, inverse: bool = False) -> None:
        super().__init__()
        self.dwt, self.idwt = HaarDWT(), HaarIDWT()
        self.low = nn.Sequential(conv3x3(channels, channels), GDN(channels, inverse=inverse))
        self.high = nn.Sequential(conv3x3(3 * channels, 3 * channels), GDN(3 * channels, inverse=inverse))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bands, c = self.dwt(x), x.shape[1]
        return self.idwt(torch.cat([self.low(bands[:, :c]), self.high(bands[:, c:])], dim=1))


class WeConvBlock(nn.Module):
    """The down block: conv (``kernel_size``, ``stride``) -> LeakyReLU -> ``WaveletStage``,
    plus a 1x1 skip of that stride (the identity when shapes agree)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 2, kernel_size: int = 5) -> None:
        super().__init__()
        self.conv = conv(in_ch, out_ch, kernel_size=kernel_size, stride=stride)
        self.act = nn.LeakyReLU(inplace=True)
        self.wavelet = WaveletStage(out_ch)
        self.skip = conv1x1(in_ch, out_ch, stride) if stride != 1 or in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wavelet(self.act(self.conv(x))) + self.skip(x)


class WeConvUpBlock(nn.Module):
    """The up block: sub-pixel conv3x3 (x ``r``) -> LeakyReLU -> ``WaveletStage`` with inverse
    GDN, plus a sub-pixel 1x1 skip (the mirror of the down block's strided 1x1)."""

    def __init__(self, in_ch: int, out_ch: int, r: int = 2) -> None:
        super().__init__()
        self.conv = subpel_conv3x3(in_ch, out_ch, r)
        self.act = nn.LeakyReLU(inplace=True)
        self.wavelet = WaveletStage(out_ch, inverse=True)
        self.skip = nn.Sequential(conv1x1(in_ch, out_ch * r**2), nn.PixelShuffle(r))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wavelet(self.act(self.conv(x))) + self.skip(x)


class WeConvMeanScaleHyperprior(MeanScaleHyperprior):
    """``MeanScaleHyperprior(N, M)`` with WeConv blocks (see the module docstring)."""

    def __init__(self, N: int, M: int, **kwargs) -> None:
        super().__init__(N=N, M=M, **kwargs)
        self.g_a = nn.Sequential(conv(3, N), GDN(N), WeConvBlock(N, N), WeConvBlock(N, N), conv(N, M))
        self.g_s = nn.Sequential(deconv(M, N), GDN(N, inverse=True), WeConvUpBlock(N, N), WeConvUpBlock(N, N),
                                 deconv(N, 3))
        self.h_a = nn.Sequential(WeConvBlock(M, N, stride=1, kernel_size=3), nn.LeakyReLU(inplace=True),
                                 conv(N, N), nn.LeakyReLU(inplace=True), conv(N, N))
        self.h_s = nn.Sequential(WeConvUpBlock(N, M), nn.LeakyReLU(inplace=True), deconv(M, M * 3 // 2),
                                 nn.LeakyReLU(inplace=True), conv(M * 3 // 2, M * 2, stride=1, kernel_size=3))

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> WeConvMeanScaleHyperprior:
        """A model of the state dict's N and M, with its weights."""
        net = cls(state_dict["g_a.0.weight"].size(0), state_dict["g_a.4.weight"].size(0))
        net.load_state_dict(state_dict)
        return net
