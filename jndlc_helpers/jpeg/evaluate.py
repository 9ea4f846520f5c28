"""Real-bitstream evaluation: each method's image is encoded by Pillow's JPEG, decoded
by Pillow, and measured against the *original* like every other method of the package
(``evaluation.metrics``; bpp from the file's bytes). Rows have the columns of
``evaluation.evaluate.COLUMNS`` so that ``evaluation.bdrate`` and ``evaluation.bsjnd``
read them; ``quality`` is the JPEG quality factor, ``family`` the metric the method was
trained for (plain JPEG and the classical anchor appear in every family, as anchors).
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import classical as C
from . import preprocess as PP
from .rate import RateProxy
from ..evaluation import evaluate as E
from ..evaluation import metrics as M
from ..files import atomic_write

Method = Callable[[np.ndarray, int], np.ndarray]  # (original, quality) -> image handed to JPEG
ANCHOR_METHODS = ("jpeg", "classical")


def plain_jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """No preprocessing."""
    return rgb


def classical_method(proxy: RateProxy, multiplier: float = C.DEFAULT_MULTIPLIER) -> Method:
    return lambda rgb, q: C.classical_preprocess(rgb, q, proxy, multiplier)


def learned_method(weights: str | os.PathLike, proxy: RateProxy) -> Method:
    """A trained preprocessor, with the multiplier it was trained with."""
    model, meta = PP.load_weights(weights)
    mult = float(meta.get("multiplier", C.DEFAULT_MULTIPLIER))
    return lambda rgb, q: PP.preprocess_image(model, rgb, q, proxy, mult)


def code_image(rgb: np.ndarray, method: Method, quality: int) -> dict:
    """Preprocess, encode and decode with Pillow: rgb (decoded), data, bpp, enc_s, dec_s."""
    t0 = time.perf_counter()
    src = method(rgb, quality)
    data = E.encode_anchor(src, "jpeg", quality)
    enc_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = E.decode_anchor(data)
    h, w = rgb.shape[:2]
    return {"rgb": rec, "data": data, "bpp": len(data) * 8.0 / (h * w), "bpp_est": math.nan,
            "enc_s": enc_s, "dec_s": time.perf_counter() - t0}


def _rows(name: str, rgb: np.ndarray, method: str, families: Sequence[str], fn: Method,
          quality: int, jod: bool) -> list[dict]:
    r = code_image(rgb, fn, quality)
    m = M.image_metrics(rgb, r["rgb"], jod=jod, display=E.JOD_DISPLAY)
    row = {"image": name, "method": method, "quality": quality, "lmbda": math.nan, "bpp": r["bpp"],
           "bpp_est": math.nan, **{k: m[k] for k in ("psnr", "ms_ssim", "ms_ssim_db", "jod")},
           "enc_s": r["enc_s"], "dec_s": r["dec_s"]}
    return [{**row, "family": f} for f in families]


def evaluate_methods(images: Mapping[str, np.ndarray], methods: Mapping[str, tuple[Sequence[str], Method]],
                     qualities: Iterable[int], csv: str | os.PathLike | None = None, jod: bool = False,
                     progress: bool = False) -> pd.DataFrame:
    """One row per (image, method, family, quality); ``methods``: name -> (families, fn).
    With ``csv``, finished methods are read back instead of recomputed (resumable) and
    the table is written atomically after each method."""
    from tqdm.auto import tqdm

    qualities = [int(q) for q in qualities]
    done = E.read_table(csv) if csv and Path(csv).is_file() else pd.DataFrame(columns=E.COLUMNS)
    frames = [done]
    for method, (families, fn) in methods.items():
        have = done[done["method"] == method]
        if len(have) == len(images) * len(qualities) * len(families):
            continue
        frames = [f[f["method"] != method] for f in frames]
        rows = [row for name, rgb in tqdm(images.items(), desc=method, disable=not progress)
                for q in qualities for row in _rows(name, rgb, method, families, fn, q, jod)]
        frames.append(pd.DataFrame(rows, columns=E.COLUMNS))
        if csv:
            table = pd.concat(frames, ignore_index=True)
            atomic_write(csv, lambda p: table.to_csv(p, index=False, float_format="%.10g"))
    return pd.concat(frames, ignore_index=True)[E.COLUMNS]
