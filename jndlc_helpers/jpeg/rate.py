"""A differentiable estimate of the JPEG file size: a non-negative linear model on
the quantised coefficients, fitted to real Pillow encodes.

Each AC coefficient at level k costs ``a[g, b] * log2(1 + |k|) + n[g, b] * [k != 0]``
bits, where g is luma or chroma and b one of ``BANDS`` of zigzag positions (a
Huffman symbol per nonzero, longer for the long zero runs before high frequencies,
then the magnitude's bits); DC costs ``d[g] * log2(1 + |DC difference|)``; a block
costs ``e[g]`` (its end-of-block code); the file ``c`` (headers and tables). The
weights come from non-negative least squares (``scipy.optimize.nnls``) on real byte
counts over images and quality factors, and the fit is judged on held-out images
(``correlation``). A coefficient's cost is separable, so the expected cost of a
coefficient that rounds to one of two levels is exact (``preprocess.py``).
"""
from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from . import simulator as S
from ..files import read_json, write_json

BANDS = ((1, 10), (10, 64))  # zigzag positions [start, end)
GROUPS = ("luma", "chroma")
DEFAULT_QUALITIES = tuple(range(10, 96, 5))
_ZZ_POS = torch.empty(64, dtype=torch.long)
_ZZ_POS[list(S.ZIGZAG)] = torch.arange(64)  # natural index -> zigzag position


def band_index() -> torch.Tensor:
    """For each natural-order position, its band (0..len(BANDS)-1; -1 for DC)."""
    out = torch.full((64,), -1, dtype=torch.long)
    for b, (lo, hi) in enumerate(BANDS):
        out[(_ZZ_POS >= lo) & (_ZZ_POS < hi)] = b
    return out


@dataclass
class RateProxy:
    """Bits = sum of per-coefficient costs + per-block and per-file constants."""

    log_weight: list[list[float]]  # [group][band]
    nonzero_weight: list[list[float]]
    dc_weight: list[float]  # [group]
    block_bits: list[float]
    file_bits: float

    def coefficient_bits(self, levels: torch.Tensor, group: int) -> torch.Tensor:
        """Bits of every AC coefficient at integer (or any real) ``levels`` [N, C, 64, h, w];
        DC positions cost 0 here (``dc_bits``)."""
        band = band_index().to(levels.device)
        a = torch.tensor([0.0, *self.log_weight[group]]).to(levels)[band + 1]
        n = torch.tensor([0.0, *self.nonzero_weight[group]]).to(levels)[band + 1]
        shape = (1, 1, 64, 1, 1)
        return a.view(shape) * torch.log2(1 + levels.abs()) + n.view(shape) * (levels != 0).to(levels)

    def dc_bits(self, levels: torch.Tensor, group: int) -> torch.Tensor:
        """Bits of the DC differences of [N, C, 64, h, w] levels, per image."""
        dc = levels[:, :, 0].flatten(2)
        diff = torch.diff(dc, dim=-1, prepend=torch.zeros_like(dc[..., :1]))
        return self.dc_weight[group] * torch.log2(1 + diff.abs()).sum((1, 2))

    def bits(self, levels: S.Coefficients) -> torch.Tensor:
        """Estimated file size in bits, per image [N]."""
        total = torch.full((levels.luma.shape[0],), self.file_bits).to(levels.luma)
        for g, lv in enumerate(levels):
            total = total + self.coefficient_bits(lv, g).sum((1, 2, 3, 4)) + self.dc_bits(lv, g)
            total = total + self.block_bits[g] * lv[:, :, 0].numel() / lv.shape[0]
        return total

    def save(self, path: str | os.PathLike, **extra) -> Path:
        return write_json(path, {**asdict(self), **extra})

    @classmethod
    def load(cls, path: str | os.PathLike) -> "RateProxy":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"rate proxy weights not found: {path} (fit them with rate.fit_rate_proxy)")
        raw = read_json(path)
        try:
            return cls(**{k: raw[k] for k in cls.__dataclass_fields__})
        except KeyError as e:
            raise ValueError(f"{path}: not a rate proxy file, missing {e}") from e


def features(levels: S.Coefficients) -> np.ndarray:
    """The model's features of one image's integer levels: what each weight multiplies."""
    row = []
    band = band_index()
    for lv in levels:
        lg, nz = torch.log2(1 + lv[0].abs()), (lv[0] != 0).float()
        for b in range(len(BANDS)):
            row.append(float(lg[:, band == b].sum()))
        for b in range(len(BANDS)):
            row.append(float(nz[:, band == b].sum()))
    for g, lv in enumerate(levels):
        ones = RateProxy([[0.0] * len(BANDS)] * 2, [[0.0] * len(BANDS)] * 2, [0.0, 0.0], [0.0, 0.0], 0.0)
        ones.dc_weight[g] = 1.0
        row.append(float(ones.dc_bits(lv, g)[0]))
    row += [levels.luma[0, :, 0].numel(), levels.chroma[0, :, 0].numel(), 1.0]
    return np.asarray(row)


def _from_vector(w: np.ndarray) -> RateProxy:
    nb = len(BANDS)
    logw = [list(map(float, w[0:nb])), list(map(float, w[2 * nb:3 * nb]))]
    nzw = [list(map(float, w[nb:2 * nb])), list(map(float, w[3 * nb:4 * nb]))]
    k = 4 * nb
    return RateProxy(logw, nzw, [float(w[k]), float(w[k + 1])], [float(w[k + 2]), float(w[k + 3])], float(w[k + 4]))


def jpeg_bytes(rgb: np.ndarray, quality: int) -> int:
    """Pillow's baseline JPEG size of an (H, W, 3) uint8 image at ``quality``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=S.check_quality(quality))
    return len(buf.getvalue())


def rgb_tensor(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> [1, 3, H, W] float on the 8-bit scale."""
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"rgb must be an (H, W, 3) uint8 RGB image, got {arr.dtype} {arr.shape}")
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)[None].float()


def measure(images: Iterable[np.ndarray], qualities: Sequence[int] = DEFAULT_QUALITIES) -> tuple[np.ndarray, np.ndarray]:
    """(features [n, k], real bits [n]) over every image and quality."""
    X, y = [], []
    for rgb in images:
        x = rgb_tensor(rgb)
        for q in qualities:
            X.append(features(S.quantise(S.analyse(x, q, exact=True))))
            y.append(8.0 * jpeg_bytes(rgb, q))
    return np.asarray(X), np.asarray(y)


def fit_rate_proxy(images: Iterable[np.ndarray], qualities: Sequence[int] = DEFAULT_QUALITIES) -> RateProxy:
    """Non-negative least squares of real bits on ``features`` (relative errors: each
    sample weighted by 1/bits, so that small files count as much as large ones). The
    log-magnitude weights are at least 1: a magnitude costs at least its own bits."""
    from scipy.optimize import nnls

    X, y = measure(images, qualities)
    nb = len(BANDS)
    floor = np.zeros(X.shape[1])
    floor[list(range(nb)) + list(range(2 * nb, 3 * nb))] = 1.0
    w, _ = nnls(X / y[:, None], 1 - (X @ floor) / y)
    return _from_vector(w + floor)


def correlation(proxy: RateProxy, X: np.ndarray, y: np.ndarray, qualities_per_image: int) -> dict[str, float]:
    """Pearson and Spearman correlation of estimated with real bits over all samples,
    the mean Spearman within each quality (ranking images, the harder test), and the
    mean absolute relative error."""
    from scipy.stats import pearsonr, spearmanr

    w = np.concatenate([np.ravel(proxy.log_weight[0]), np.ravel(proxy.nonzero_weight[0]),
                        np.ravel(proxy.log_weight[1]), np.ravel(proxy.nonzero_weight[1]),
                        proxy.dc_weight, proxy.block_bits, [proxy.file_bits]])
    est = X @ w
    per_q = [spearmanr(est[i::qualities_per_image], y[i::qualities_per_image])[0] for i in range(qualities_per_image)]
    return {"pearson": float(pearsonr(est, y)[0]), "spearman": float(spearmanr(est, y)[0]),
            "spearman_within_quality": float(np.mean(per_q)),
            "mean_abs_rel_error": float(np.mean(np.abs(est - y) / y)), "n_samples": int(len(y))}


def expected_bits(proxy: RateProxy, floor: torch.Tensor, p_up: torch.Tensor, group: int) -> torch.Tensor:
    """Expected AC bits when each coefficient is ``floor`` + 1 with probability ``p_up``
    and ``floor`` otherwise, per image: exact, since the cost is separable."""
    lo, hi = proxy.coefficient_bits(floor, group), proxy.coefficient_bits(floor + 1, group)
    return (lo + p_up * (hi - lo)).sum((1, 2, 3, 4))


def bits_to_bpp(bits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return bits / (size[0] * size[1])


def default_proxy_path() -> Path:
    from ..files import PACKAGE_PARENT

    return PACKAGE_PARENT / "data" / "jpeg_preprocessors" / "rate_proxy.json"
