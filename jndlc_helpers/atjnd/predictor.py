"""An open-loop JND predictor: the JND operating point from the image alone, so that one
encode suffices (no decode loop).

Features are ten statistics of the pixels that drive the visibility of coding error:
luminance level and contrast, gradient energy, the distribution of 8x8-block activity
(the masking JPEG's blocks see: its quantiles and the share of flat and smooth blocks),
chroma contrast and the share of fine detail. A ridge regression on the standardised
features predicts a target: the JPEG quality factor at the JND or the learned codec's
continuous quality (``ladder``). Its penalty is chosen by cross-validation grouped by
source on the training examples, never on the test images. ``margin`` is the
``coverage`` quantile of the cross-validated residuals: the operating point used is the
prediction plus it, so that about that share of images lands within the JND.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import ndimage as ndi

FEATURES = ("luma_mean", "luma_std", "log_gradient", "block_q10", "block_q50", "block_q90",
            "flat_blocks", "smooth_blocks", "log_chroma_gradient", "detail_share")
ALPHAS = (0.1, 1.0, 10.0, 100.0)
BLOCK = 8


def _ycc(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(rgb, dtype=np.float64)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return y, 0.564 * (x[..., 2] - y), 0.713 * (x[..., 0] - y)


def _gradient(a: np.ndarray) -> np.ndarray:
    return np.hypot(ndi.sobel(a, 0, mode="reflect"), ndi.sobel(a, 1, mode="reflect")) / 8.0


def features(rgb: np.ndarray) -> np.ndarray:
    """The ten ``FEATURES`` of an (H, W, 3) uint8 image (H, W >= 8)."""
    y, cb, cr = _ycc(rgb)
    h, w = (y.shape[0] // BLOCK) * BLOCK, (y.shape[1] // BLOCK) * BLOCK
    blocks = y[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).std(axis=(1, 3))
    activity = np.log1p(blocks)
    grad = _gradient(y)
    detail = np.abs(ndi.laplace(y, mode="reflect"))
    return np.array([
        y.mean() / 255.0, y.std() / 255.0, np.log1p(grad.mean()),
        *np.quantile(activity, (0.1, 0.5, 0.9)),
        float((blocks < 2).mean()), float((blocks < 8).mean()),
        np.log1p(_gradient(cb).mean() + _gradient(cr).mean()),
        detail.mean() / (grad.mean() + 1e-6),
    ])


@dataclass
class Predictor:
    """A fitted ridge regression from ``features`` to one target."""

    target: str
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    alpha: float
    cv_mae: float
    margin: float
    n_train: int
    low: float
    high: float

    def predict(self, rgb: np.ndarray) -> float:
        """The unbiased prediction (clipped to the target's range)."""
        z = (features(rgb) - np.asarray(self.mean)) / np.asarray(self.scale)
        return float(np.clip(z @ np.asarray(self.coef) + self.intercept, self.low, self.high))

    def operating_point(self, rgb: np.ndarray) -> float:
        """The prediction plus ``margin``, in the target's range."""
        return float(np.clip(self.predict(rgb) + self.margin, self.low, self.high))


def _ridge(X: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    """(coef, intercept) of ridge regression on standardised X."""
    n = X.shape[1]
    coef = np.linalg.solve(X.T @ X + alpha * np.eye(n), X.T @ (y - y.mean()))
    return coef, float(y.mean())


def _cv_residuals(X: np.ndarray, y: np.ndarray, groups: np.ndarray, alpha: float) -> np.ndarray:
    """Leave-one-source-out residuals (truth - prediction)."""
    res = np.empty_like(y)
    for g in np.unique(groups):
        test = groups == g
        coef, b = _ridge(X[~test], y[~test], alpha)
        res[test] = y[test] - (X[test] @ coef + b)
    return res


def fit(X: np.ndarray, y: np.ndarray, groups: Sequence[str], target: str, low: float, high: float,
        coverage: float = 0.9, alphas: Sequence[float] = ALPHAS) -> Predictor:
    """A predictor of ``target`` from feature rows ``X``; alpha and margin by grouped CV."""
    X, y, groups = np.asarray(X, float), np.asarray(y, float), np.asarray(groups)
    if len(np.unique(groups)) < 3:
        raise ValueError(f"the {target} predictor needs training examples from at least 3 sources")
    mean, scale = X.mean(0), X.std(0) + 1e-9
    Z = (X - mean) / scale
    cv = {a: _cv_residuals(Z, y, groups, a) for a in alphas}
    alpha = min(alphas, key=lambda a: np.abs(cv[a]).mean())
    coef, b = _ridge(Z, y, alpha)
    margin = max(0.0, float(np.quantile(cv[alpha], coverage)))
    return Predictor(target, mean.tolist(), scale.tolist(), coef.tolist(), b, float(alpha),
                     float(np.abs(cv[alpha]).mean()), margin, len(y), float(low), float(high))


def save(path: str | os.PathLike, predictors: dict[str, Predictor], meta: dict) -> Path:
    from ..files import write_json

    return write_json(path, {"features": list(FEATURES), "meta": meta,
                             "predictors": {k: asdict(p) for k, p in predictors.items()}})


def load(path: str | os.PathLike) -> dict[str, Predictor]:
    raw = json.loads(Path(path).read_text())
    if list(raw.get("features", [])) != list(FEATURES):
        raise ValueError(f"{path}: made with other features ({raw.get('features')})")
    return {k: Predictor(**v) for k, v in raw["predictors"].items()}
