"""The predictor's training examples and labels: the training photographs (the JND set's
train side and the unlabelled photographs; never a test image), whole and cut into
crops, each labelled by the closed loop itself (``search``): its JPEG quality factor and
its learned codec's continuous quality at the JND, by the labels' JOD criterion.

With a human-labelled JPEG data set (a ``labels.csv`` whose labeller is human, from the
converters) the JPEG target of the whole training images is their human label instead;
the learned codec's target stays the closed loop's (no human labelled it).
"""
from __future__ import annotations

import os
from functools import partial
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from . import models as MD
from . import predictor as PR
from . import search as S
from ..files import atomic_write, list_images, load_rgb

COLUMNS = ["example", "image", "source", "top", "left", "height", "width", "qf", "qf_found",
           "r", "r_found", *PR.FEATURES]


def training_photos(data_root: str | os.PathLike, unlabelled_root: str | os.PathLike | None) -> list[tuple[Path, str]]:
    """(path, source) of every training photograph: ``data_root``/train/Ref (sources from
    its labels.csv) and ``unlabelled_root`` (each its own source)."""
    from ..data.pairs import find_pairs

    sources = {}
    labels = Path(data_root) / "labels.csv"
    if labels.is_file():
        table = pd.read_csv(labels, dtype={"image": str, "source": str})
        sources = dict(zip(table["image"], table["source"]))
    out = [(ref, str(sources.get(ref.stem, ref.stem))) for ref, _ in find_pairs(Path(data_root) / "train")]
    if unlabelled_root:
        out += [(p, f"unlabelled:{p.stem}") for p in list_images(unlabelled_root)]
    return out


def examples(photos: Sequence[tuple[Path, str]], crop: int, per_image: int = 4) -> list[dict[str, Any]]:
    """Each photograph whole, then up to ``per_image`` non-overlapping ``crop``-pixel tiles."""
    from PIL import Image

    out = []
    for path, source in photos:
        with Image.open(path) as im:
            w, h = im.size
        out.append({"example": path.stem, "image": str(path), "source": source, "top": 0, "left": 0,
                    "height": h, "width": w})
        tiles = [(t, l) for t in range(0, h - crop + 1, crop) for l in range(0, w - crop + 1, crop)]
        for t, l in tiles[:per_image] if (h, w) != (crop, crop) else []:
            out.append({"example": f"{path.stem}@{t},{l}", "image": str(path), "source": source,
                        "top": t, "left": l, "height": crop, "width": crop})
    return out


def pixels(ex: dict[str, Any]) -> np.ndarray:
    rgb = load_rgb(ex["image"])
    return rgb[ex["top"]:ex["top"] + ex["height"], ex["left"]:ex["left"] + ex["width"]]


def label(ex: dict[str, Any], refs: Sequence[MD.ModelRef], tau: float, display: str) -> dict[str, Any]:
    """One example's row: both closed-loop targets and the features."""
    from ..data.labellers import torch_threads

    rgb = pixels(ex)
    with torch_threads(1):
        jpeg = S.jpeg_at_jnd(rgb, tau, display=display)
        learned, _ = S.learned_at_jnd(rgb, list(refs), tau, display=display)
    return {**ex, "image": Path(ex["image"]).name, "qf": jpeg.setting, "qf_found": jpeg.found,
            "r": learned.setting, "r_found": learned.found, **dict(zip(PR.FEATURES, PR.features(rgb)))}


def build(exs: Sequence[dict[str, Any]], refs: Sequence[MD.ModelRef], csv: str | os.PathLike, tau: float,
          display: str, workers: int = 1, progress: bool = True) -> pd.DataFrame:
    """Every example labelled into ``csv`` (resumable: rows already there are kept)."""
    from tqdm.auto import tqdm

    from .. import parallel

    csv = Path(csv)
    table = pd.read_csv(csv) if csv.is_file() else pd.DataFrame(columns=COLUMNS)
    todo = [ex for ex in exs if ex["example"] not in set(table["example"])]
    one = partial(label, refs=tuple(refs), tau=tau, display=display)
    for _, row in tqdm(parallel.imap(one, todo, parallel.few_in_process(todo, workers), threads=1), total=len(todo), desc="JND labels",
                       disable=not progress):
        table = pd.concat([table, pd.DataFrame([row], columns=COLUMNS)], ignore_index=True)
        atomic_write(csv, lambda p: table.to_csv(p, index=False, float_format="%.6g"))
    return table[table["example"].isin([ex["example"] for ex in exs])].reset_index(drop=True)


def human_qf(data_root: str | os.PathLike) -> dict[str, float] | None:
    """{training image: first-JND QF} of a human-labelled JPEG data set, else None."""
    path = Path(data_root) / "labels.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"image": str})
    human = table["labeller"].astype(str).str.startswith("human") & (table["split"] == "train")
    if not human.any() or table.loc[human, "qf"].isna().all():
        return None
    return dict(zip(table.loc[human, "image"], table.loc[human, "qf"].astype(float)))


def fit(table: pd.DataFrame, ladder_range: tuple[float, float], coverage: float,
        human: dict[str, float] | None = None) -> dict[str, PR.Predictor]:
    """The JPEG QF and the learned continuous-quality predictors (grouped by source, or by
    example where fewer than 3 sources are there)."""
    groups = table["source"] if table["source"].nunique() >= 3 else table["example"]
    X = table[list(PR.FEATURES)].to_numpy(float)
    out = {"learned": PR.fit(X, table["r"], groups, "learned", *ladder_range, coverage)}
    if human:
        whole = table[table["example"].isin(human)]
        qf = whole["example"].map(human)
        out["jpeg"] = PR.fit(whole[list(PR.FEATURES)].to_numpy(float), qf, whole["source"], "jpeg (human labels)",
                             1, 100, coverage)
    else:
        out["jpeg"] = PR.fit(X, table["qf"], groups, "jpeg", 1, 100, coverage)
    return out
