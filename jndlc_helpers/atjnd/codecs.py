"""Code one image to a file's bytes and back, through the evaluation's own paths.

The learned codec runs ``evaluation.evaluate.code_image`` (padding to a multiple of 64,
``compress``, ``decompress``, cropping) and its strings go into ``fileformat``'s file;
``decode_learned`` reads a file with the same ``decompress_cropped``. JPEG runs
``jpeg.evaluate.code_image`` (the preprocessor, if any, then Pillow's encoder as every
JPEG row of the RD tables): its file is the plain baseline JPEG, readable by any decoder.
A decoded image is the 8-bit RGB the tables measure (``metrics.to_uint8_array``).
"""
from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import fileformat as FF
from . import models as MD
from . import rate

PREPROCESSORS = "data/jpeg_preprocessors/quick"  # shipped JPEG preprocessors, <name>.pt
CLASSICAL = "classical"  # the no-learning preprocessor (jpeg.classical)


@dataclass
class Coded:
    """One image coded: the file's bytes, the decoded image, what the RD tables count."""

    data: bytes
    rgb: np.ndarray
    stream_bytes: int  # the bitstream's bytes as the RD tables count them
    setting: dict[str, Any] = field(default_factory=dict)
    enc_s: float = 0.0

    @property
    def bpp(self) -> float:
        """bpp of the whole file."""
        h, w = self.rgb.shape[:2]
        return len(self.data) * 8.0 / (h * w)


def _tensor(rgb: np.ndarray):
    from ..evaluation.evaluate import to_tensor

    return to_tensor(np.ascontiguousarray(rgb, dtype=np.uint8))


def code_learned(ref: MD.ModelRef, rgb: np.ndarray, step: float = 1.0) -> Coded:
    """``rgb`` coded by the model ``ref`` with latent quantisation ``step`` (1: as trained)."""
    import torch

    from ..evaluation.evaluate import code_image
    from ..evaluation.metrics import to_uint8_array

    step = rate.store_step(step)
    model = rate.with_step(MD.load(ref), step)
    t0 = time.perf_counter()
    with torch.no_grad():
        r = code_image(model, _tensor(rgb), check=step == 1.0, estimate=False)
    enc_s = time.perf_counter() - t0
    strings = [s[0] for s in r["strings"]]  # one image: one string per entropy coder
    h, w = rgb.shape[:2]
    header = FF.Header(ref.architecture, ref.distortion, ref.quality, ref.N, ref.M, step, ref.digest, h, w)
    setting = {"codec": "learned", "quality": ref.quality, "step": step, "model": ref.digest}
    return Coded(FF.pack(header, strings), to_uint8_array(r["x_hat"]), r["n_bytes"], setting, enc_s)


def decode_learned(data: bytes, ref: MD.ModelRef) -> np.ndarray:
    """The decoded image of a learned-codec file, with the model ``ref`` (checked)."""
    import torch

    from ..evaluation.evaluate import decompress_cropped
    from ..evaluation.metrics import to_uint8_array

    header, strings = FF.unpack(data)
    check_model(header, ref)
    model = rate.with_step(MD.load(ref), header.step)
    with torch.no_grad():
        x_hat = decompress_cropped(model, [[s] for s in strings], header.latent_shape(), (header.height, header.width))
    return to_uint8_array(x_hat)


def check_model(header: FF.Header, ref: MD.ModelRef, where: str = "the file") -> None:
    """Refuse a model other than the one the file was made with, naming both."""
    if ref.digest != header.digest:
        raise MD.ModelError(f"{where} was made with {header.describe()}; {ref.checkpoint} is "
                            f"{ref.describe()}: refusing to decode with another model")


@functools.lru_cache(maxsize=4)
def preprocessor(name: str | None):
    """(rgb, qf) -> the image handed to JPEG: None = plain JPEG, "classical" or "classical-ssim", a shipped
    preprocessor's name (``PREPROCESSORS``/<name>.pt) or a weights file."""
    from ..jpeg import evaluate as JE
    from ..jpeg.steps import proxy

    if name is None:
        return JE.plain_jpeg
    if name in JE.CLASSICAL_KINDS:
        return JE.classical_method(proxy(), ssim_weighted=name == "classical-ssim")
    return JE.learned_method(preprocessor_path(name), proxy())


def preprocessor_path(name: str) -> Path:
    """The weights of a preprocessor named on the command line; errors list the shipped ones."""
    from ..reproduce import project_root

    path = Path(name)
    if path.suffix == ".pt" and path.is_file():
        return path
    shipped = project_root() / PREPROCESSORS
    if (shipped / f"{name}.pt").is_file():
        return shipped / f"{name}.pt"
    names = sorted(p.stem for p in shipped.glob("*.pt")) + [CLASSICAL]
    raise ValueError(f"--preprocessor {name}: not a weights file nor one of {names}")


def code_jpeg(rgb: np.ndarray, qf: int, preprocessor_name: str | None = None) -> Coded:
    """``rgb`` as a baseline JPEG at quality ``qf`` (1-100), plain or preprocessed."""
    from ..jpeg.evaluate import code_image

    if not 1 <= int(qf) <= 100:
        raise ValueError(f"--quality {qf}: a JPEG quality factor is 1..100")
    r = code_image(np.ascontiguousarray(rgb, dtype=np.uint8), preprocessor(preprocessor_name), int(qf))
    setting = {"codec": "jpeg", "quality": int(qf), "preprocessor": preprocessor_name or ""}
    return Coded(r["data"], r["rgb"], len(r["data"]), setting, r["enc_s"])


def decode_jpeg(data: bytes) -> np.ndarray:
    from ..evaluation.evaluate import decode_anchor

    return decode_anchor(data)


def model_for(header: FF.Header, model: str | os.PathLike | None) -> MD.ModelRef:
    """The model to decode a file with: ``model`` (a model's or a family folder) when
    given, else the one with the file's digest under ``models.MODEL_SEARCH``."""
    if model is not None:
        refs = MD.family(model, header.distortion)
        match = [r for r in refs if r.digest == header.digest]
        if match:
            return match[0]
        same = [r for r in refs if r.quality == header.quality] or refs
        check_model(header, same[0])
    ref = MD.find(header.digest, MD.search_folders())
    if ref is None:
        raise MD.ModelError(f"the file names {header.describe()}, not found under "
                            f"{', '.join(MD.MODEL_SEARCH)}: pass --model FOLDER")
    return ref
