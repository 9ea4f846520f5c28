"""A differentiable model of the JPEG codec Pillow uses (libjpeg-turbo, baseline, 4:2:0).

Encoder: JFIF RGB -> YCbCr, 2x2 box-average chroma subsampling, level shift, 8x8
orthonormal block DCT (libjpeg's DCT is the orthonormal one), division by the IJG
tables scaled by the quality factor (``jpeg_set_quality`` with ``force_baseline``),
rounding half away from zero. Decoder: dequantisation, inverse DCT, libjpeg's
"fancy" triangle-filter chroma upsampling (weights 3/4, 1/4 per direction), YCbCr ->
RGB, clamp. Images are padded to whole 16x16 MCUs by repeating the last row and
column, as libjpeg pads them.

Images are float tensors [N, 3, H, W] on the 8-bit scale (0..255). Coefficients are
``Coefficients(luma [N, 1, 64, H/8, W/8], chroma [N, 2, 64, H/16, W/16])``: the DCT
coefficients of each 8x8 block in natural (row-major) order, in units of the
quantisation step (``dct / q``), so that JPEG keeps ``round(u)``. ``exact=True``
rounds where libjpeg works on integers (samples, chroma averages, decoded samples):
the fidelity test against Pillow; training leaves it off.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

# ITU T.81 Annex K tables (natural order), as libjpeg's jcparam.c.
LUMA_TABLE = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)
CHROMA_TABLE = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *([99] * 32),
)
ZIGZAG = (  # zigzag index -> natural index
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
)
MCU = 16
_RGB2YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168735892, -0.331264108, 0.5], [0.5, -0.418687589, -0.081312411]])
_YCC2RGB = torch.tensor([[1.0, 0.0, 1.402], [1.0, -0.344136286, -0.714136286], [1.0, 1.772, 0.0]])


class Coefficients(NamedTuple):
    """Block-DCT coefficients in quantisation steps: luma [N,1,64,h,w], chroma [N,2,64,h/2,w/2]."""

    luma: torch.Tensor
    chroma: torch.Tensor


def check_quality(quality: int) -> int:
    """``quality`` as an int in 1..100, or ValueError naming it."""
    if isinstance(quality, bool) or not float(quality).is_integer() or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer JPEG quality factor in 1..100, got {quality!r}")
    return int(quality)


def quant_tables(quality: int) -> tuple[torch.Tensor, torch.Tensor]:
    """libjpeg's (luma, chroma) quantisation steps at ``quality``, natural order, float."""
    quality = check_quality(quality)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    out = []
    for base in (LUMA_TABLE, CHROMA_TABLE):
        out.append(torch.tensor([min(max((b * scale + 50) // 100, 1), 255) for b in base], dtype=torch.float32))
    return out[0], out[1]


def dct_matrix(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 8x8 orthonormal DCT-II matrix C (block B -> C B C^T)."""
    k = torch.arange(8, dtype=torch.float64)[:, None]
    n = torch.arange(8, dtype=torch.float64)[None, :]
    c = torch.cos((2 * n + 1) * k * math.pi / 16) * 0.5
    c[0] = math.sqrt(1 / 8)
    return c.to(dtype)


def pad_to_mcu(x: torch.Tensor) -> torch.Tensor:
    """Repeat the last row and column up to whole 16x16 MCUs (libjpeg's padding)."""
    h, w = x.shape[-2:]
    ph, pw = -h % MCU, -w % MCU
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if ph or pw else x


def rgb_to_ycc(x: torch.Tensor) -> torch.Tensor:
    """JFIF RGB -> YCbCr on the 8-bit scale (Cb, Cr centred on 128)."""
    y = torch.einsum("ij,njhw->nihw", _RGB2YCC.to(x), x)
    return y + torch.tensor([0.0, 128.0, 128.0]).to(x)[None, :, None, None]


def ycc_to_rgb(y: torch.Tensor) -> torch.Tensor:
    """JFIF YCbCr -> RGB on the 8-bit scale (no clamp)."""
    y = y - torch.tensor([0.0, 128.0, 128.0]).to(y)[None, :, None, None]
    return torch.einsum("ij,njhw->nihw", _YCC2RGB.to(y), y)


def downsample(c: torch.Tensor, exact: bool = False) -> torch.Tensor:
    """2x2 box average (libjpeg's h2v2_downsample; ``exact`` rounds as its bias does)."""
    out = F.avg_pool2d(c, 2)
    if not exact:
        return out
    bias = torch.tensor([0.25, 0.5]).to(c).repeat(out.shape[-1] // 2 + 1)[: out.shape[-1]]
    return torch.floor(out + bias)  # (sum + 1, 2, 1, 2, ...) >> 2 along each row


def upsample(c: torch.Tensor, exact: bool = False) -> torch.Tensor:
    """libjpeg's fancy h2v2 upsampling: each output sample is 9/16 of its nearest input,
    3/16 of each of the two next nearest and 1/16 of the diagonal; edges repeat."""
    n, ch, h, w = c.shape
    p = F.pad(c.reshape(n * ch, 1, h, w), (1, 1, 1, 1), mode="replicate")
    k = torch.tensor([[1.0, 3.0], [3.0, 9.0]]).to(c) / 16
    kernels = torch.stack([k, k.flip(1), k.flip(0), k.flip(0).flip(1)])[:, None]  # TL, TR, BL, BR outputs
    outs = F.conv2d(p, kernels)  # [n*ch, 4, h+1, w+1]
    tl, tr, bl, br = outs[:, 0, :-1, :-1], outs[:, 1, :-1, 1:], outs[:, 2, 1:, :-1], outs[:, 3, 1:, 1:]
    top = torch.stack([tl, tr], -1).reshape(n * ch, h, 2 * w)
    bottom = torch.stack([bl, br], -1).reshape(n * ch, h, 2 * w)
    out = torch.stack([top, bottom], -2).reshape(n, ch, 2 * h, 2 * w)
    if exact:  # libjpeg adds 8 to even columns and 7 to odd ones before >> 4
        bias = torch.tensor([8.0, 7.0]).to(c).repeat(w)[None, None, None, :] / 16
        out = torch.floor(out + bias)
    return out


def blocks(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, 64, H/8, W/8], each block's samples in row-major order."""
    n, c, h, w = x.shape
    b = x.reshape(n, c, h // 8, 8, w // 8, 8).permute(0, 1, 3, 5, 2, 4)
    return b.reshape(n, c, 64, h // 8, w // 8)


def unblocks(b: torch.Tensor) -> torch.Tensor:
    """The inverse of ``blocks``."""
    n, c, _, hb, wb = b.shape
    return b.reshape(n, c, 8, 8, hb, wb).permute(0, 1, 4, 2, 5, 3).reshape(n, c, hb * 8, wb * 8)


def block_dct(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 8x8 DCT of every block: [N, C, H, W] -> [N, C, 64, H/8, W/8]."""
    d = dct_matrix(x.dtype).to(x.device)
    basis = torch.kron(d, d)  # [64, 64]: natural-order coefficient x row-major sample
    return torch.einsum("kp,ncphw->nckhw", basis, blocks(x))


def block_idct(c: torch.Tensor) -> torch.Tensor:
    """The inverse of ``block_dct``."""
    d = dct_matrix(c.dtype).to(c.device)
    basis = torch.kron(d, d)
    return unblocks(torch.einsum("kp,nckhw->ncphw", basis, c))


def _steps(quality: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ql, qc = quant_tables(quality)
    return ql.to(like)[None, None, :, None, None], qc.to(like)[None, None, :, None, None]


def check_images(x: torch.Tensor, name: str = "x") -> None:
    """Raise ValueError naming ``name`` unless it is a float [N, 3, H, W] tensor."""
    if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != 3 or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must be a float tensor [N, 3, H, W] on the 8-bit scale, got {shape}")


def analyse(x: torch.Tensor, quality: int, exact: bool = False) -> Coefficients:
    """The coefficients JPEG at ``quality`` quantises, in steps (``round`` of them is coded)."""
    check_images(x)
    ycc = rgb_to_ycc(pad_to_mcu(x))
    if exact:
        ycc = torch.round(ycc)
    chroma = downsample(ycc[:, 1:], exact)
    ql, qc = _steps(quality, x)
    return Coefficients(block_dct(ycc[:, :1] - 128) / ql, block_dct(chroma - 128) / qc)


def quantise(coefs: Coefficients) -> Coefficients:
    """libjpeg's rounding: half away from zero."""
    return Coefficients(*(torch.sign(c) * torch.floor(c.abs() + 0.5) for c in coefs))


def synthesise(coefs: Coefficients, quality: int, size: tuple[int, int], exact: bool = False) -> torch.Tensor:
    """Decode (dequantised) coefficients to RGB [N, 3, H, W], cropped to ``size``;
    clamped to 0..255 (and rounded where libjpeg rounds, with ``exact``)."""
    ql, qc = _steps(quality, coefs.luma)
    y = block_idct(coefs.luma * ql) + 128
    c = block_idct(coefs.chroma * qc) + 128
    if exact:
        y, c = torch.round(y).clamp(0, 255), torch.round(c).clamp(0, 255)
    ycc = torch.cat([y, upsample(c, exact)], 1)
    rgb = ycc_to_rgb(ycc)[..., : size[0], : size[1]]
    return torch.round(rgb).clamp(0, 255) if exact else rgb.clamp(0, 255)


def simulate(x: torch.Tensor, quality: int, exact: bool = True) -> torch.Tensor:
    """What Pillow's JPEG at ``quality`` decodes ``x`` to, modelled (not differentiable:
    it rounds; the preprocessor's training relaxes the rounding, ``preprocess.py``)."""
    return synthesise(quantise(analyse(x, quality, exact)), quality, tuple(x.shape[-2:]), exact)
