"""Evaluate learned codecs and classical anchors into one tidy per-image table.

Learned models are run as CompressAI's ``eval_model`` runs them: the image is
padded to a multiple of 64 (zeros, centred, ``compressai.ops.compute_padding``),
``model.compress`` writes real bitstreams, ``model.decompress`` reads them back, the
output is cropped, and bpp counts the bytes of every string. Beside it we keep the
likelihood estimate (``bpp_est``) and check the entropy-coding round trip: the
latents the decoder hands to ``g_s`` / ``h_s`` must be the encoder's quantised
latents. Anchors (JPEG, WebP, AVIF, JPEG 2000) are encoded in memory by Pillow.

Table columns (``COLUMNS``): image, method, family, quality, seed (the training seed), lmbda, bpp, bpp_est,
psnr, ms_ssim, ms_ssim_db, jod, enc_s, dec_s, checkpoint_digest and checkpoint_step (of
the model's checkpoint file: ``evaluate_all`` re-evaluates a model whose file changed;
empty for anchors). ``family`` is the training metric ("mse" / "ms-ssim") of a learned
model and "anchor" for a classical codec.
"""
from __future__ import annotations

import io
import math
import os
import time
import warnings
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image, features

from .. import parallel
from . import metrics as M
from ..data import pairs
from ..files import atomic_write, file_digest, list_images, load_rgb, read_csv, save_png, write_csv, write_json
from ..data.labellers import DEFAULT_DISPLAY
from ..vocab import ANCHOR_FAMILY

# One ColorVideoVDP display model for labelling and evaluation: a JOD read off an RD
# curve is only comparable with the labels' 10 - tau threshold on the same display.
JOD_DISPLAY = DEFAULT_DISPLAY

COLUMNS = [
    "image", "method", "family", "quality", "seed", "lmbda", "bpp", "bpp_est",
    "psnr", "ms_ssim", "ms_ssim_db", "jod", "enc_s", "dec_s", "checkpoint_digest", "checkpoint_step",
]
JOB_KEY = ("method", "family", "quality", "seed")  # seed: the training seed (0 for anchors)

# Pillow format name, feature name and how ``quality`` reaches the encoder.
ANCHORS: dict[str, dict[str, Any]] = {
    "jpeg": {"format": "JPEG", "feature": "jpg"},
    "webp": {"format": "WEBP", "feature": "webp"},
    "avif": {"format": "AVIF", "feature": "avif"},
    "jpeg2000": {"format": "JPEG2000", "feature": "jpg_2000"},
}
CODEC_LABELS = {"jpeg": "JPEG", "webp": "WebP", "avif": "AVIF", "jpeg2000": "JPEG2000"}


class RoundTripError(RuntimeError):
    """The decoder's latents differ from the encoder's: the bitstream is not decodable."""


# --------------------------------------------------------------------------- images

def iter_images(images: Sequence[str | os.PathLike] | Mapping[str, np.ndarray] | str | os.PathLike):
    """Yield (name, uint8 RGB array): from a folder, a list of paths or {name: array}."""
    if isinstance(images, (str, os.PathLike)):
        images = list_images(images)
    if isinstance(images, Mapping):
        for name, rgb in images.items():
            yield str(name), np.asarray(rgb, dtype=np.uint8)
        return
    for p in images:
        yield Path(p).stem, load_rgb(p)


def image_names(images) -> list[str]:
    if isinstance(images, (str, os.PathLike)):
        images = list_images(images)
    if isinstance(images, Mapping):
        return [str(k) for k in images]
    return [Path(p).stem for p in images]


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 -> [1, 3, H, W] float in [0, 1] (as torchvision's ToTensor)."""
    return pairs.to_tensor(rgb)[None].to(device)


# --------------------------------------------------------------------------- learned codecs

class _Probe:
    """Hooks that record the latents on both sides of the bitstream.

    Encoder side: y (output of g_a), z (output of h_a), and what
    ``gaussian_conditional`` is asked to code (inputs, means, scales). Decoder side:
    the z_hat fed to h_s and the y_hat fed to g_s.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.enc: dict[str, Any] = {"gc": [], "scales": []}
        self.dec: dict[str, Any] = {}
        self._handles: list[Any] = []
        self._patched: list[tuple[Any, str, Any]] = []

    def has(self, *names: str) -> bool:
        return all(isinstance(getattr(self.model, n, None), nn.Module) for n in names)

    def encoder(self):
        m = self.model
        if self.has("g_a"):
            self._handles.append(m.g_a.register_forward_hook(lambda _m, _i, o: self.enc.__setitem__("y", o)))
        if self.has("h_a"):
            self._handles.append(m.h_a.register_forward_hook(lambda _m, _i, o: self.enc.__setitem__("z", o)))
        gc = getattr(m, "gaussian_conditional", None)
        if gc is not None:
            compress, build_indexes = gc.compress, gc.build_indexes

            def _compress(inputs, indexes, means=None):
                self.enc["gc"].append((inputs, means))
                return compress(inputs, indexes, means)

            def _build_indexes(scales):
                self.enc["scales"].append(scales)
                return build_indexes(scales)

            self._patch(gc, "compress", _compress)
            self._patch(gc, "build_indexes", _build_indexes)
        return self

    def decoder(self):
        m = self.model
        if self.has("g_s"):
            self._handles.append(m.g_s.register_forward_pre_hook(lambda _m, a: self.dec.__setitem__("y_hat", a[0])))
        if self.has("h_s"):
            self._handles.append(m.h_s.register_forward_pre_hook(lambda _m, a: self.dec.setdefault("z_hat", a[0])))
        return self

    def _patch(self, obj: Any, name: str, fn: Callable) -> None:
        self._patched.append((obj, name, obj.__dict__.get(name, _MISSING)))
        obj.__dict__[name] = fn  # instance attribute: shadows the method for this object only

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        for obj, name, old in reversed(self._patched):
            if old is _MISSING:
                obj.__dict__.pop(name, None)
            else:
                obj.__dict__[name] = old
        self._handles, self._patched = [], []


_MISSING = object()


def _bits(likelihoods: torch.Tensor) -> float:
    return float(torch.log(likelihoods).sum() / -math.log(2))


def _check_and_estimate(model: nn.Module, probe: _Probe, check: bool) -> float | None:
    """Compare decoder latents with the encoder's; return the estimated bits (or None).

    For hyperprior models whose ``compress`` codes y with one
    ``gaussian_conditional.compress`` call (ScaleHyperprior, MeanScaleHyperprior,
    ...), y_hat and z_hat must equal the encoder's quantised latents (a symbol decoded
    wrongly differs by >= 1). Autoregressive models (Cheng2020) code y position by
    position: there y_hat must lie within 0.5 of the encoder's y, which any
    correctly decoded ``round(y - mu) + mu`` does. Estimated bits are the eval-mode
    likelihoods of the same latents (what ``model.forward`` gives in eval mode).
    """
    enc, dec = probe.enc, probe.dec
    eb = getattr(model, "entropy_bottleneck", None)
    gc = getattr(model, "gaussian_conditional", None)
    bits = 0.0
    exact_y = len(enc["gc"]) == 1 and len(enc["scales"]) == 1 and gc is not None
    if eb is not None and "z" in enc:
        z_hat, z_lik = eb(enc["z"], training=False)
        bits += _bits(z_lik)
        if check and "z_hat" in dec:
            _compare("z_hat", dec["z_hat"], z_hat, atol=1e-4)
    else:
        exact_y = False
    if exact_y:
        y, means = enc["gc"][0]
        y_hat, y_lik = gc(y, enc["scales"][0], means=means, training=False)
        bits += _bits(y_lik)
        if check and "y_hat" in dec:
            _compare("y_hat", dec["y_hat"], y_hat, atol=1e-4)
        return bits
    if check and "y_hat" in dec and "y" in enc:
        y_dec = dec["y_hat"]
        y = enc["y"]
        if y_dec.shape != y.shape:  # decoders may keep a context padding
            y_dec = _center_crop(y_dec, y.shape[-2:])
        _compare("y_hat", y_dec, y, atol=0.5 + 1e-4)
    return None


def _center_crop(t: torch.Tensor, hw: Sequence[int]) -> torch.Tensor:
    dh, dw = (t.shape[-2] - hw[0]) // 2, (t.shape[-1] - hw[1]) // 2
    return t[..., dh:dh + hw[0], dw:dw + hw[1]]


def _compare(name: str, decoded: torch.Tensor, encoded: torch.Tensor, atol: float) -> None:
    if decoded.shape != encoded.shape:
        raise RoundTripError(f"entropy-coding round trip failed: decoded {name} has shape "
                             f"{tuple(decoded.shape)}, encoder's {tuple(encoded.shape)}")
    err = (decoded.float() - encoded.float()).abs().max().item()
    if not err <= atol:
        n = int(((decoded.float() - encoded.float()).abs() > atol).sum())
        raise RoundTripError(f"entropy-coding round trip failed: decoded {name} differs from the "
                             f"encoder's in {n} values (max |diff| {err:.4g} > {atol:g})")


def _n_bytes(strings: Any) -> int:
    # eval_model: sum(len(s[0]) for s in out_enc["strings"]) for a batch of one;
    # counting every string of every (nested) list gives the same for one image.
    if isinstance(strings, (bytes, bytearray)):
        return len(strings)
    return sum(_n_bytes(s) for s in strings)


def padding(h: int, w: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(pad, unpad) for ``F.pad``: zeros, centred, to a multiple of 64 (as eval_model: 6 strides of 2)."""
    from compressai.ops import compute_padding

    return compute_padding(h, w, min_div=2**6)


@torch.no_grad()
def decompress_cropped(model: nn.Module, strings: Any, shape: Sequence[int], hw: Sequence[int]) -> torch.Tensor:
    """``model.decompress`` of one padded image's strings, cropped back to ``hw``: the
    decoder side of ``code_image`` (also what a file is decoded with)."""
    return F.pad(model.decompress(strings, shape)["x_hat"], padding(*hw)[1])


@torch.no_grad()
def code_image(model: nn.Module, x: torch.Tensor, check: bool = True, estimate: bool = True) -> dict[str, Any]:
    """Compress and decompress one image [1, 3, H, W] in [0, 1] with a CompressAI model.

    Returns x_hat (cropped, float), strings (CompressAI's, as a file stores them), n_bytes, bpp (from the bytes), bpp_est (from the
    likelihoods; NaN with ``estimate=False``), enc_s and dec_s. Raises
    ``RoundTripError`` when the decoded latents are not the encoder's.
    """
    h, w = x.shape[-2:]
    x_pad = F.pad(x, padding(h, w)[0], mode="constant", value=0)
    probe = _Probe(model).encoder()
    try:
        t0 = time.perf_counter()
        out_enc = model.compress(x_pad)
        enc_s = time.perf_counter() - t0
    finally:
        probe.remove()
    probe.decoder()
    try:
        t0 = time.perf_counter()
        x_hat = decompress_cropped(model, out_enc["strings"], out_enc["shape"], (h, w))
        dec_s = time.perf_counter() - t0
    finally:
        probe.remove()
    n_pix = h * w
    n_bytes = _n_bytes(out_enc["strings"])
    bits = _check_and_estimate(model, probe, check) if (check or estimate) else None
    if estimate and bits is None:  # no hooks matched: a full forward pass
        out = model(x_pad)
        bits = sum(_bits(lk) for lk in out["likelihoods"].values())
    return {
        "x_hat": x_hat,
        "strings": out_enc["strings"],
        "n_bytes": n_bytes,
        "bpp": n_bytes * 8.0 / n_pix,
        "bpp_est": bits / n_pix if (estimate and bits is not None) else math.nan,
        "enc_s": enc_s,
        "dec_s": dec_s,
    }


def save_decoded(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """A decoded image kept for viewing (03 writes them, 06 reads or completes them):
    PNG at compress level 1, about 4x faster to write than Pillow's default."""
    return save_png(path, rgb, compress_level=1)


def evaluate_model(
    model: nn.Module,
    images,
    method: str = "model",
    family: str = "",
    quality: int | float | None = None,
    lmbda: float | None = None,
    jod: bool = False,
    check: bool = True,
    estimate: bool = True,
    recon_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Tidy rows (``COLUMNS``) for one learned model on ``images``; with ``recon_dir``
    each decoded image is also kept there as ``<name>.png`` (what ``reconstruct`` gives)."""
    model.eval()
    device = next(model.parameters()).device
    rows = []
    for name, rgb in iter_images(images):
        x = to_tensor(rgb, device)
        r = code_image(model, x, check=check, estimate=estimate)
        if recon_dir is not None:
            save_decoded(Path(recon_dir) / f"{name}.png", M.to_uint8_array(r["x_hat"]))
        m = M.image_metrics(x, r["x_hat"], jod=jod, display=JOD_DISPLAY)
        rows.append(_row(name, method, family, quality, lmbda, r, m))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(name, method, family, quality, lmbda, r, m) -> dict[str, Any]:
    return {
        "image": name, "method": method, "family": family,
        "quality": quality, "seed": 0, "lmbda": math.nan if lmbda is None else lmbda,
        "bpp": r["bpp"], "bpp_est": r.get("bpp_est", math.nan),
        "psnr": m["psnr"], "ms_ssim": m["ms_ssim"], "ms_ssim_db": m["ms_ssim_db"], "jod": m["jod"],
        "enc_s": r["enc_s"], "dec_s": r["dec_s"],
    }


# --------------------------------------------------------------------------- classical anchors

def available_anchors() -> list[str]:
    """Anchor codecs this Pillow build can encode."""
    return [name for name, a in ANCHORS.items() if features.check(a["feature"])]


def jpeg2000_rate(quality: float) -> float:
    """Compression ratio for JPEG 2000 at ``quality`` (0-100).

    JPEG 2000 has no quality factor; we map it to a target of
    0.05 * 2**(quality / 12.5) bpp (0.09 bpp at 10, 0.8 at 50, 7.3 at 90), i.e. a
    ratio of 24 bpp over that.
    """
    return 24.0 / (0.05 * 2 ** (quality / 12.5))


def encode_anchor(rgb: np.ndarray, codec: str, quality: float) -> bytes:
    """Encode an (H, W, 3) uint8 image with Pillow; Pillow's defaults otherwise."""
    if codec not in ANCHORS:
        raise ValueError(f"unknown anchor codec {codec!r}; choose one of {sorted(ANCHORS)}")
    a = ANCHORS[codec]
    if not features.check(a["feature"]):
        raise RuntimeError(f"this Pillow build cannot encode {codec!r} (PIL.features.check({a['feature']!r}) is False)")
    kw: dict[str, Any] = {}
    if codec == "jpeg2000":
        kw = {"quality_mode": "rates", "quality_layers": [jpeg2000_rate(quality)], "irreversible": True}
    else:
        kw = {"quality": int(round(quality))}
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=a["format"], **kw)
    return buf.getvalue()


def decode_anchor(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def code_anchor(rgb: np.ndarray, codec: str, quality: float) -> dict[str, Any]:
    """Encode and decode one image with a classical codec: rgb, n_bytes, bpp, enc_s, dec_s."""
    t0 = time.perf_counter()
    data = encode_anchor(rgb, codec, quality)
    enc_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    rec = decode_anchor(data)
    dec_s = time.perf_counter() - t0
    if rec.shape != rgb.shape:
        raise RuntimeError(f"{codec} at quality {quality} decoded to {rec.shape}, expected {rgb.shape}")
    h, w = rgb.shape[:2]
    return {"rgb": rec, "n_bytes": len(data), "bpp": len(data) * 8.0 / (h * w),
            "bpp_est": math.nan, "enc_s": enc_s, "dec_s": dec_s}


def evaluate_anchor(
    codec: str,
    quality: float,
    images,
    method: str | None = None,
    jod: bool = False,
) -> pd.DataFrame:
    """Tidy rows (``COLUMNS``) for one classical codec at one quality."""
    rows = []
    for name, rgb in iter_images(images):
        r = code_anchor(rgb, codec, quality)
        m = M.image_metrics(rgb, r["rgb"], jod=jod, display=JOD_DISPLAY)
        rows.append(_row(name, method or codec, ANCHOR_FAMILY, quality, None, r, m))
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------- many jobs, resumable

def default_loader(path: str | os.PathLike) -> nn.Module:
    """``jndlc_helpers.codec.models.load_checkpoint(path)[0]`` (imported on use)."""
    from ..codec.models import load_checkpoint

    return load_checkpoint(path)[0]


def _validate_job(job: Mapping[str, Any], i: int) -> None:
    missing = [k for k in ("method", "family", "quality") if k not in job]
    if missing:
        raise ValueError(f"job {i} ({dict(job)}) lacks {missing}")
    if ("checkpoint" in job) == ("codec" in job):
        raise ValueError(f"job {i} ({dict(job)}) needs exactly one of 'checkpoint' or 'codec'")
    if "checkpoint" in job and job["checkpoint"] is not None and not isinstance(job["checkpoint"], nn.Module):
        if not Path(job["checkpoint"]).is_file():
            raise FileNotFoundError(f"job {i} ({job['method']}, {job['family']}, q{job['quality']}): "
                                    f"checkpoint not found: {job['checkpoint']}")


def _key(method: Any, family: Any, quality: Any, seed: Any = 0) -> tuple[str, str, float, int]:
    return (str(method), str(family), float(quality), int(seed))


def _job_key(job: Mapping[str, Any]) -> tuple[str, str, float, int]:
    return _key(job["method"], job["family"], job["quality"], job.get("seed", 0))


def checkpoint_identity(checkpoint: Any) -> tuple[str, float]:
    """(digest, step) of a checkpoint file: the first 16 hex digits of its SHA-256 and
    the training step it records (NaN if none); ("", NaN) for a model object."""
    if not isinstance(checkpoint, (str, os.PathLike)):
        return "", math.nan
    try:  # the step without reading the weights (zip checkpoints map lazily)
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
    except (RuntimeError, ValueError, OSError):
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    step = ckpt.get("step") if isinstance(ckpt, dict) else None
    return file_digest(checkpoint)[:16], math.nan if step is None else float(step)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a per-image table written by ``evaluate_all`` (text columns kept as text)."""
    df = read_csv(path, dtype={"image": str, "method": str, "family": str, "checkpoint_digest": str})
    if "seed" not in df.columns:  # tables written before runs had replicates: one seed
        df["seed"] = 0
    if "checkpoint_digest" not in df.columns:  # written before rows named their checkpoint: models re-evaluated
        df["checkpoint_digest"] = np.where(df["family"] == ANCHOR_FAMILY, "", "unknown")
        df["checkpoint_step"] = math.nan
    df["checkpoint_digest"] = df["checkpoint_digest"].fillna("")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not an evaluation table, missing columns {missing}")
    return df[COLUMNS]


def write_table(path: Path, df: pd.DataFrame) -> None:
    """An RD table at full precision (``files.write_csv``): resuming reads back what was computed."""
    write_csv(path, df)


def evaluate_all(
    jobs: Sequence[Mapping[str, Any]],
    images,
    out_csv: str | os.PathLike,
    loader: Callable[[Any], nn.Module] | None = None,
    jod: bool = False,
    check: bool = True,
    progress: bool = True,
    json_dir: str | os.PathLike | None = None,
    provenance: Mapping[str, Any] | None = None,
    recon_dir: Callable[[Mapping[str, Any]], str | os.PathLike] | None = None,
    workers: int = 1,
) -> pd.DataFrame:
    """Evaluate every job on ``images`` into ``out_csv``; resumable.

    A job is a dict with method, family, quality, lmbda (optional) and either
    ``checkpoint`` (a path for ``loader``, or a model) or ``codec`` (an anchor name).
    Each finished job's rows are written at once (the whole CSV rewritten
    atomically), with the checkpoint's digest and step; jobs whose rows for all of
    ``images`` are already in ``out_csv``, from the same checkpoint file, are skipped
    (a retrained or extended model is evaluated again and its rows replaced). With ``json_dir``, each (method, family) also gets CompressAI's
    JSON (labelled with ``provenance``); with ``recon_dir`` (job -> folder), each
    learned model's decoded images are kept as PNG. ``workers`` > 1 evaluates that
    many jobs at once in processes (``loader`` must then be picklable; the table is
    the same, but enc_s/dec_s are timed with the cores shared). Returns the whole table.
    """
    from tqdm.auto import tqdm

    out_csv = Path(out_csv)
    for i, job in enumerate(jobs):
        _validate_job(job, i)
    names = image_names(images)
    if not names:
        raise ValueError(f"no images to evaluate in {images!r}")
    table = read_table(out_csv) if out_csv.is_file() else pd.DataFrame(columns=COLUMNS)
    # A job is done when its rows cover every image and came from the checkpoint as it is now.
    ident = {_job_key(j): checkpoint_identity(j.get("checkpoint")) for j in jobs}
    done = {_key(*k) for k, g in table.groupby(list(JOB_KEY)) if set(names) <= set(g["image"])
            and set(g["checkpoint_digest"]) == {ident.get(_key(*k), ("",))[0]}} if len(table) else set()
    todo = [j for j in jobs if _job_key(j) not in done]
    tasks = [(job, str(recon_dir(job)) if recon_dir and "codec" not in job else None) for job in todo]
    one = partial(_evaluate_job, images=images, loader=loader or default_loader, jod=jod, check=check)
    with tqdm(total=len(todo) * len(names), disable=not progress, desc="evaluate", unit="img") as bar:
        for i, rows in parallel.imap(one, tasks, workers, ordered=True):  # the table does not depend on workers
            job = todo[i]
            bar.set_postfix_str(f"{job['method']}/{job['family']}/q{job['quality']}")
            bar.update(len(names))
            key = _job_key(job)
            rows = rows.assign(checkpoint_digest=ident[key][0], checkpoint_step=ident[key][1])
            keep = [_key(*k) != key for k in zip(*(table[c] for c in JOB_KEY))]
            table = pd.concat([table[keep], rows], ignore_index=True) if len(table) else rows
            write_table(out_csv, table)
    table = read_table(out_csv)
    if json_dir is not None:
        write_compressai_json(table, json_dir, provenance)
    return table


def _evaluate_job(task: tuple[Mapping[str, Any], str | None], images, loader, jod: bool,
                  check: bool) -> pd.DataFrame:
    """The rows of one job of ``evaluate_all``: a classical anchor or a learned model."""
    job, recon = task
    if "codec" in job:
        rows = evaluate_anchor(job["codec"], job["quality"], images, method=job["method"], jod=jod)
    else:
        ckpt = job["checkpoint"]
        model = ckpt if isinstance(ckpt, nn.Module) else loader(ckpt)
        rows = evaluate_model(model, images, method=job["method"], family=job["family"], quality=job["quality"],
                              lmbda=job.get("lmbda"), jod=jod, check=check, recon_dir=recon)
    return rows.assign(seed=int(job.get("seed", 0)))


# --------------------------------------------------------------------------- CompressAI's JSON

def compressai_json(
    df: pd.DataFrame,
    method: str,
    family: str,
    provenance: Mapping[str, Any] | None = None,
    description: str = "",
) -> dict[str, Any]:
    """One model's results in CompressAI's layout, averaged over images per quality.

    ``{"name", "description", "results": {"bpp", "psnr-rgb", "ms-ssim-rgb", ...}}``
    with points sorted by quality, as ``compressai.utils.plot`` reads them; with
    ``provenance`` the description carries its label and a "provenance" key is added.
    """
    sub = df[(df["method"] == method) & (df["family"] == family)]
    if sub.empty:
        raise ValueError(f"no rows for method {method!r}, family {family!r}")
    g = sub.groupby("quality", sort=True)
    mean = g[["bpp", "bpp_est", "psnr", "ms_ssim", "jod", "enc_s", "dec_s"]].mean()

    def col(c: str) -> list[Any]:
        return [None if not np.isfinite(v) else float(v) for v in mean[c]]

    name = CODEC_LABELS.get(method, method) if family == ANCHOR_FAMILY else f"{method}-{family}"
    text = description or f"jndlc evaluation of {name}, mean over {sub['image'].nunique()} images per quality"
    out: dict[str, Any] = {"name": name, "description": text}
    if provenance is not None:
        from ..config import provenance_label

        out["description"] = f"{text} [{provenance_label(dict(provenance))}]"
        out["provenance"] = dict(provenance)
    out["results"] = {
        "quality": [float(q) for q in mean.index],
        "bpp": col("bpp"),
        "psnr-rgb": col("psnr"),
        "ms-ssim-rgb": col("ms_ssim"),
        "bpp_est": col("bpp_est"),
        "jod": col("jod"),
        "encoding_time": col("enc_s"),
        "decoding_time": col("dec_s"),
    }
    return out


def write_compressai_json(
    df: pd.DataFrame,
    out_dir: str | os.PathLike,
    provenance: Mapping[str, Any] | None = None,
    description: str = "",
) -> list[Path]:
    """Write ``<out_dir>/<method>-<family>.json`` for every (method, family) in ``df``."""
    out = []
    for (method, family), _ in df.groupby(["method", "family"], sort=True):
        obj = compressai_json(df, method, family, provenance, description)
        out.append(write_json(Path(out_dir) / f"{method}-{family}.json", obj))
    return out


# --------------------------------------------------------------------------- one reconstruction

@torch.no_grad()
def reconstruct(
    checkpoint: str | os.PathLike | nn.Module,
    rgb: np.ndarray,
    quality: float | None = None,
    loader: Callable[[Any], nn.Module] | None = None,
) -> dict[str, Any]:
    """Code one (H, W, 3) uint8 image and return rgb (uint8), bpp, psnr, ms_ssim, ms_ssim_db.

    ``checkpoint`` is a checkpoint path (read by ``loader``), a model, or an anchor
    codec name ("jpeg", "webp", ...) used at ``quality``.
    """
    if isinstance(checkpoint, str) and checkpoint in ANCHORS:
        if quality is None:
            raise ValueError(f"anchor {checkpoint!r} needs a quality")
        r = code_anchor(rgb, checkpoint, quality)
        rec = r["rgb"]
    else:
        model = checkpoint if isinstance(checkpoint, nn.Module) else (loader or default_loader)(checkpoint)
        model.eval()
        x = to_tensor(rgb, next(model.parameters()).device)
        r = code_image(model, x, check=True, estimate=False)
        rec = M.to_uint8_array(r["x_hat"])
    m = M.image_metrics(rgb, rec)
    return {"rgb": rec, "bpp": r["bpp"], "psnr": m["psnr"], "ms_ssim": m["ms_ssim"], "ms_ssim_db": m["ms_ssim_db"]}


def decode_all(jobs: Sequence[Mapping[str, Any]], images: Mapping[str, str | os.PathLike],
               out_dir: Callable[[Mapping[str, Any]], Path], progress: bool = True,
               loader: Callable[[Any], nn.Module] | None = None) -> None:
    """Every learned model's reconstruction of every image, saved as
    ``out_dir(job) / <name>.png`` (``images``: {name: path}); present files are skipped
    and each model is loaded only when one of its images is missing, one at a time."""
    from tqdm.auto import tqdm

    loaded: dict[str, nn.Module] = {}
    for job in tqdm(jobs, desc="reconstruct", disable=not progress):
        for name, ref in images.items():
            out = out_dir(job) / f"{name}.png"
            if out.exists():
                continue
            if job["checkpoint"] not in loaded:
                loaded.clear()  # one model in memory at a time
                loaded[job["checkpoint"]] = (loader or default_loader)(job["checkpoint"])
            save_decoded(out, reconstruct(loaded[job["checkpoint"]], load_rgb(ref))["rgb"])


def jobs_from_table(models_csv: str | os.PathLike, models_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Evaluation jobs of the models a grid listed in ``models_csv`` (checkpoints relative
    to ``models_dir``)."""
    models = pd.read_csv(models_csv)
    return [dict(method=r.method, family=r.family, quality=int(r.quality), lmbda=float(r.lmbda),
                 checkpoint=str(Path(models_dir) / r.checkpoint)) for r in models.itertuples()]


def anchor_jobs(codecs: Iterable[str], qualities: Iterable[float]) -> list[dict[str, Any]]:
    """Jobs for a quality sweep of classical anchors.

    Codecs this Pillow build cannot encode are left out with a warning naming them.
    """
    codecs, qualities = list(codecs), list(qualities)
    unknown = [c for c in codecs if c not in ANCHORS]
    if unknown:
        raise ValueError(f"unknown anchor codec(s) {unknown}; choose from {sorted(ANCHORS)}")
    avail = set(available_anchors())
    missing = [c for c in codecs if c not in avail]
    if missing:
        warnings.warn(f"Pillow cannot encode {missing} here; those anchors are left out", stacklevel=2)
    return [{"method": c, "family": ANCHOR_FAMILY, "quality": q, "lmbda": None, "codec": c}
            for c in codecs if c in avail for q in qualities]
