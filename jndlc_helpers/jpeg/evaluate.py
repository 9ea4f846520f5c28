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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from . import classical as C
from . import preprocess as PP
from .rate import RateProxy, default_proxy_path
from ..evaluation import evaluate as E
from ..evaluation import metrics as M
from ..files import atomic_write, read_json, save_png, write_json

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


@dataclass(frozen=True)
class MethodSpec:
    """How to make a method's image, picklable (for worker processes): ``kind`` is
    'jpeg', 'classical' or 'learned' (with ``weights``); ``families`` its table rows."""

    families: tuple[str, ...]
    kind: str
    weights: str | None = None

    def key(self) -> str:
        """What the method's rows depend on: its kind, families and the weights' content."""
        from ..files import file_digest

        digest = file_digest(self.weights)[:16] if self.weights else ""
        return f"{self.kind}|{','.join(self.families)}|{digest}"

    def build(self) -> Method:
        if self.kind == "jpeg":
            return plain_jpeg
        if self.kind == "classical":
            return classical_method(RateProxy.load(default_proxy_path()))
        if self.kind == "learned" and self.weights:
            return learned_method(self.weights, RateProxy.load(default_proxy_path()))
        raise ValueError(f"method kind must be 'jpeg', 'classical' or 'learned' with weights, got {self}")


def _method_rows(task: tuple) -> list[dict]:
    """Every row of one method: each image at each quality factor (decoded images of the
    first family saved under ``recon`` when given)."""
    method, spec, images, qualities, jod, recon = task
    fn, rows = spec.build(), []
    for name, rgb in images.items():
        for q in qualities:
            r = code_image(rgb, fn, q)
            if recon:
                save_png(Path(recon) / spec.families[0] / method / f"q{q}" / f"{name}.png", r["rgb"], compress_level=1)
            m = M.image_metrics(rgb, r["rgb"], jod=jod, display=E.JOD_DISPLAY)
            row = {"image": name, "method": method, "quality": q, "lmbda": math.nan, "bpp": r["bpp"],
                   "bpp_est": math.nan, **{k: m[k] for k in ("psnr", "ms_ssim", "ms_ssim_db", "jod")},
                   "enc_s": r["enc_s"], "dec_s": r["dec_s"]}
            rows += [{**row, "family": f} for f in spec.families]
    return rows


def evaluate_methods(images: Mapping[str, np.ndarray], methods: Mapping[str, MethodSpec], qualities: Iterable[int],
                     csv: str | os.PathLike | None = None, jod: bool = False, progress: bool = False,
                     workers: int = 1, recon: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per (image, method, family, quality), methods over ``workers`` processes.
    With ``csv``, methods already complete there are read back instead of recomputed
    (resumable) and the table is written atomically as each method finishes."""
    from tqdm.auto import tqdm

    from .. import parallel

    qualities = [int(q) for q in qualities]
    table = E.read_table(csv) if csv and Path(csv).is_file() else pd.DataFrame(columns=E.COLUMNS)
    keys_path = Path(f"{csv}.methods.json") if csv else None
    keys = read_json(keys_path) if keys_path and keys_path.is_file() else {}
    todo = [m for m, spec in methods.items()
            if (table["method"] == m).sum() != len(images) * len(qualities) * len(spec.families)
            or keys.get(m) != f"{spec.key()}|jod={jod}"]  # other weights or settings: redone
    table = table[~table["method"].isin(todo)]
    tasks = [(m, methods[m], dict(images), qualities, jod, str(recon) if recon else None) for m in todo]
    for _, rows in tqdm(parallel.imap(_method_rows, tasks, workers), total=len(tasks), desc="methods",
                        disable=not progress):
        table = pd.concat([table, pd.DataFrame(rows, columns=E.COLUMNS)], ignore_index=True)
        if csv:
            E.write_table(Path(csv), table)
            keys[rows[0]["method"]] = f"{methods[rows[0]['method']].key()}|jod={jod}"
            write_json(keys_path, keys)
    return table[E.COLUMNS]
