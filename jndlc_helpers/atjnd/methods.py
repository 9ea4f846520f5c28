"""Every method of notebook 08 on one image, judged by both judges: the row of the table
"bits to look unchanged" for each (image, method), and each decoded image kept as PNG.

Methods (``METHODS``): the closed loops (plain JPEG, preprocessed JPEG, the learned codec
with its continuous rate, and the same search over the trained qualities only), the
open-loop predictor (JPEG, learned), and the anchors (JPEG XL d1, Guetzli, one fixed QF,
the SSIM-target search). An anchor whose encoder is missing here gets a row saying so.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import anchors as A
from . import codecs as C
from . import judges as J
from . import ladder as L
from . import models as MD
from . import search as S

METHODS = ("jpeg-closed-loop", "jpeg-preprocessed-closed-loop", "learned-closed-loop", "learned-trained-qualities",
           "jpeg-predictor", "learned-predictor", "jpegxl-d1", "guetzli", "jpeg-fixed-qf", "jpeg-ssim-target")
CLOSED_LOOP = {"jpeg-closed-loop", "jpeg-preprocessed-closed-loop", "learned-closed-loop", "learned-trained-qualities"}


@dataclass(frozen=True)
class Setup:
    """What every image's methods need (picklable, for worker processes)."""

    refs: tuple[MD.ModelRef, ...]
    preprocessor: str
    predictors: str  # the fitted predictors' JSON file
    fixed_qf: int
    ssim_target: float
    tau: float
    display: str
    second_judge: str
    recon: str  # folder for the decoded images, <method>/<image>.png
    guetzli: bool  # whether this image gets Guetzli (a subset may be asked for)


def _closed(rgb: np.ndarray, s: Setup) -> dict[str, tuple[C.Coded, float | None, dict]]:
    out = {}
    for name, prep in (("jpeg-closed-loop", None), ("jpeg-preprocessed-closed-loop", s.preprocessor)):
        f = S.jpeg_at_jnd(rgb, s.tau, prep, s.display)
        out[name] = (f.coded, f.jod, _found(f))
    cont, disc = S.learned_at_jnd(rgb, list(s.refs), s.tau, display=s.display)
    out["learned-closed-loop"] = (cont.coded, cont.jod, _found(cont))
    out["learned-trained-qualities"] = (disc.coded, disc.jod, _found(disc))
    return out


def _found(f: S.Found) -> dict[str, Any]:
    return {"setting": f.setting, "found": f.found, "tries": f.tries, "encode_s": f.seconds}


def _open(rgb: np.ndarray, s: Setup) -> dict[str, tuple[C.Coded, float | None, dict]]:
    from . import predictor as PR

    preds = PR.load(s.predictors)
    out = {}
    t0 = time.perf_counter()
    qf = int(round(preds["jpeg"].operating_point(rgb)))
    coded = C.code_jpeg(rgb, qf)
    out["jpeg-predictor"] = (coded, None, {"setting": qf, "predicted": preds["jpeg"].predict(rgb),
                                           "encode_s": time.perf_counter() - t0})
    t0 = time.perf_counter()
    r = preds["learned"].operating_point(rgb)
    ref, step = L.image_ladder(list(s.refs), rgb).setting(r)
    coded = C.code_learned(ref, rgb, step)
    out["learned-predictor"] = (coded, None, {"setting": r, "predicted": preds["learned"].predict(rgb),
                                              "encode_s": time.perf_counter() - t0})
    return out


def _anchors(rgb: np.ndarray, s: Setup) -> dict[str, tuple[C.Coded | None, float | None, dict]]:
    runs: dict[str, Callable[[], C.Coded]] = {
        "jpegxl-d1": lambda: A.jxl(rgb), "guetzli": lambda: A.guetzli(rgb),
        "jpeg-fixed-qf": lambda: C.code_jpeg(rgb, s.fixed_qf),
        "jpeg-ssim-target": lambda: A.ssim_search(rgb, s.ssim_target)}
    out = {}
    for name, run in runs.items():
        if name == "guetzli" and not s.guetzli:
            out[name] = (None, None, {"note": "not run on this image (a subset, atjnd_guetzli_images)"})
            continue
        try:
            coded = run()
        except A.Unavailable as e:
            out[name] = (None, None, {"note": str(e)})
            continue
        setting = coded.setting.get("quality", coded.setting.get("distance"))
        out[name] = (coded, None, {"setting": setting, "encode_s": coded.enc_s})
    return out


def judge(rgb: np.ndarray, coded: C.Coded, jod: float | None, jnd_psnr: float, s: Setup) -> dict[str, Any]:
    """Both judges' verdicts on one decoded image."""
    from ..evaluation import metrics as M

    jod = S.jod(rgb, coded.rgb, s.display) if jod is None else jod
    m = M.image_metrics(rgb, coded.rgb)
    second = J.second_score(s.second_judge, rgb, coded.rgb)
    return {"bpp": coded.bpp, "bytes": len(coded.data), "jod": jod, "psnr": m["psnr"], "ms_ssim": m["ms_ssim"],
            "jnd_psnr": jnd_psnr, "within_jod": jod >= 10 - s.tau, "within_psnr": m["psnr"] >= jnd_psnr,
            "second_judge": s.second_judge, "second_score": second,
            "within_second": J.second_within(s.second_judge, second), "jod_excess": jod - (10 - s.tau)}


def image_rows(task: tuple[str, str, float, Setup]) -> list[dict[str, Any]]:
    """Every method's row for one image (name, path, JND image's PSNR, setup)."""
    from ..data.labellers import torch_threads
    from ..files import load_rgb, save_png

    name, path, jnd_psnr, s = task
    rgb = load_rgb(path)
    rows = []
    with torch_threads(1):
        results = {**_closed(rgb, s), **_open(rgb, s), **_anchors(rgb, s)}
        for method in METHODS:
            coded, jod, info = results[method]
            row = {"image": name, "method": method, "setting": math.nan, "found": True, "tries": 1,
                   "predicted": math.nan, "encode_s": math.nan, "note": "", **info}
            if coded is not None:
                row.update(judge(rgb, coded, jod, jnd_psnr, s))
                save_png(Path(s.recon) / method / f"{name}.png", coded.rgb, compress_level=1)
            rows.append(row)
    return rows
