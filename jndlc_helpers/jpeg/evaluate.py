"""Real-bitstream evaluation: each method's image is encoded by Pillow's JPEG, decoded
by Pillow, and measured against the *original* like every other method of the package
(``evaluation.metrics``; bpp from the file's bytes). Rows have the columns of
``evaluation.evaluate.COLUMNS`` so that ``evaluation.bdrate`` and ``evaluation.bsjnd``
read them; ``quality`` is the JPEG quality factor, ``family`` the metric the method was
trained for (plain JPEG and the classical anchor appear in every family, as anchors).
"""
from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from . import classical as C
from . import preprocess as PP
from .rate import RateProxy, default_proxy_path
from ..evaluation import evaluate as E
from ..evaluation import metrics as M
from ..files import atomic_write, read_json, save_png, write_json

Method = Callable[[np.ndarray, int], np.ndarray]  # (original, quality) -> image handed to JPEG
ANCHOR_METHODS = ("jpeg", "classical", "classical-ssim")
CLASSICAL_KINDS = ("classical", "classical-ssim")
KINDS = ("jpeg", *CLASSICAL_KINDS, "learned")
EVAL_VERSION = 2  # bump when the rows' computation changes: cached rows are then redone


def plain_jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """No preprocessing."""
    return rgb


def classical_method(proxy: RateProxy, multiplier: float = C.DEFAULT_MULTIPLIER, ssim_weighted: bool = False) -> Method:
    """The classical rule (``ssim_weighted``: its variant for the MS-SSIM family)."""
    return lambda rgb, q: C.classical_preprocess(rgb, q, proxy, multiplier, ssim_weighted=ssim_weighted)


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
    """How to make a method's image, picklable (for worker processes): ``kind`` is one of
    ``KINDS`` ('learned' with ``weights``); ``families`` its table rows; ``multiplier``
    the classical rules' (a learned method has its own, in its weights)."""

    families: tuple[str, ...]
    kind: str
    weights: str | None = None
    multiplier: float = C.DEFAULT_MULTIPLIER

    def key(self) -> dict[str, Any]:
        """What the method's rows depend on: its kind and families, the weights' content,
        the rate estimate's content and the multiplier where the method uses them."""
        from ..files import file_digest

        out: dict[str, Any] = {"kind": self.kind, "families": list(self.families)}
        if self.kind != "jpeg":
            out["rate_proxy"] = file_digest(default_proxy_path())[:16]
        if self.kind in CLASSICAL_KINDS:
            out["multiplier"] = float(self.multiplier)
        if self.weights:
            out["weights"] = file_digest(self.weights)[:16]
        return out

    def build(self) -> Method:
        if self.kind == "jpeg":
            return plain_jpeg
        if self.kind in CLASSICAL_KINDS:
            return classical_method(RateProxy.load(default_proxy_path()), self.multiplier,
                                    ssim_weighted=self.kind == "classical-ssim")
        if self.kind == "learned" and self.weights:
            return learned_method(self.weights, RateProxy.load(default_proxy_path()))
        raise ValueError(f"method kind must be one of {KINDS} ('learned' with weights), got {self}")


def images_digest(images: Mapping[str, np.ndarray]) -> str:
    """A digest of the images' names, sizes and pixels."""
    h = hashlib.sha256()
    for name in sorted(images):
        rgb = np.ascontiguousarray(images[name])
        h.update(f"{name}|{rgb.shape}|{rgb.dtype}|".encode())
        h.update(rgb.tobytes())
    return h.hexdigest()[:16]


def evaluation_key(images: Mapping[str, np.ndarray], qualities: list[int], jod: bool) -> dict[str, Any]:
    """What every row depends on besides its method: the images, the quality factors, JOD
    (and its display), the code (``EVAL_VERSION``) and the versions of the package and of
    the libraries that code and measure."""
    from ..provenance import versions

    return {"images": images_digest(images), "qualities": list(qualities), "jod": bool(jod),
            "jod_display": E.JOD_DISPLAY if jod else None, "code": EVAL_VERSION,
            "versions": versions(("jndlc", "Pillow", "torch", "numpy") + (("cvvdp",) if jod else ()))}


def _method_rows(task: tuple) -> list[dict]:
    """Every row of one method and seed: each image at each quality factor (decoded images
    of the first family saved under ``recon`` when given, ``recon_path``)."""
    (method, seed), spec, images, qualities, jod, recon = task
    fn, rows = spec.build(), []
    for name, rgb in images.items():
        for q in qualities:
            r = code_image(rgb, fn, q)
            if recon:
                save_png(recon_path(recon, spec.families[0], method, seed, q, name), r["rgb"], compress_level=1)
            m = M.image_metrics(rgb, r["rgb"], jod=jod, display=E.JOD_DISPLAY)
            row = {"image": name, "method": method, "quality": q, "seed": seed, "lmbda": math.nan, "bpp": r["bpp"],
                   "bpp_est": math.nan, **{k: m[k] for k in ("psnr", "ms_ssim", "ms_ssim_db", "jod")},
                   "enc_s": r["enc_s"], "dec_s": r["dec_s"]}
            rows += [{**row, "family": f} for f in spec.families]
    return rows


def recon_path(recon: str | os.PathLike, family: str, method: str, seed: int, quality: int, image: str) -> Path:
    """``<recon>/<family>/<method>/q<quality>/<image>.png`` (where the gallery looks) for
    seed 0, ``<recon>/<family>/<method>/seed<s>/q<quality>/<image>.png`` for another seed."""
    folder = Path(recon) / family / method / ("" if seed == 0 else f"seed{seed}")
    return folder / f"q{quality}" / f"{image}.png"


def run_label(method: str, seed: int) -> str:
    """A (method, seed)'s name in folders and in the cache: the method itself for seed 0."""
    return method if seed == 0 else f"{method}-seed{seed}"


MethodKey = str | tuple[str, int]  # a method's table name, or (name, training seed); a name alone is seed 0


def evaluate_methods(images: Mapping[str, np.ndarray], methods: Mapping[MethodKey, MethodSpec],
                     qualities: Iterable[int], csv: str | os.PathLike | None = None, jod: bool = False,
                     progress: bool = False, workers: int = 1, recon: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per (image, method, seed, family, quality), methods over ``workers``
    processes, in the order of ``methods``. With ``csv``, a method whose rows there were
    made with the same key (``MethodSpec.key`` and ``evaluation_key``) is read back
    instead of recomputed (resumable); rows of methods not asked for are dropped; the
    table is written atomically as each method finishes."""
    from tqdm.auto import tqdm

    from .. import parallel

    qualities = [int(q) for q in qualities]
    specs = {(m, 0) if isinstance(m, str) else (m[0], int(m[1])): s for m, s in methods.items()}
    shared = evaluation_key(images, qualities, jod)
    wanted = {run_label(*m): {**s.key(), **shared} for m, s in specs.items()}
    table, keys = _cached(csv, wanted)
    done = set(zip(table["method"], table["seed"].astype(int)))
    todo = [m for m in specs if m not in done]
    tasks = [(m, specs[m], dict(images), qualities, jod, str(recon) if recon else None) for m in todo]
    for i, rows in tqdm(parallel.imap(_method_rows, tasks, workers), total=len(tasks), desc="methods",
                        disable=not progress):
        table = pd.concat([table, pd.DataFrame(rows, columns=E.COLUMNS)], ignore_index=True)
        keys[run_label(*todo[i])] = wanted[run_label(*todo[i])]
        _write_cache(csv, table, keys)
    order = {m: i for i, m in enumerate(specs)}
    rank = [order[(m, int(s))] for m, s in zip(table["method"], table["seed"])]
    table = table.assign(_rank=rank).sort_values("_rank", kind="stable")[E.COLUMNS].reset_index(drop=True)
    return table.infer_objects().fillna({"checkpoint_digest": ""})  # typed as a table read back


def _cached(csv: str | os.PathLike | None, wanted: dict[str, dict]) -> tuple[pd.DataFrame, dict[str, dict]]:
    """(rows, keys) of the methods in ``csv`` whose stored key equals the one ``wanted``;
    the table and its keys written back without the others."""
    empty = pd.DataFrame(columns=E.COLUMNS)
    if not csv or not Path(csv).is_file():
        return empty, {}
    keys_path = Path(f"{csv}.methods.json")
    stored = read_json(keys_path) if keys_path.is_file() else {}
    keys = {m: k for m, k in stored.items() if wanted.get(m) == k}
    table = E.read_table(csv)
    labels = [run_label(m, int(s)) for m, s in zip(table["method"], table["seed"])]
    table = table[[lb in keys for lb in labels]].reset_index(drop=True)
    if keys != stored or len(table) != len(labels):
        _write_cache(csv, table, keys)
    return table, keys


def _write_cache(csv: str | os.PathLike | None, table: pd.DataFrame, keys: dict[str, dict]) -> None:
    if csv:
        E.write_table(Path(csv), table)
        write_json(Path(f"{csv}.methods.json"), keys)
