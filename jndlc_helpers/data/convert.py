"""Converters from the real JND datasets (downloaded by the user) to the paired layout.

- Picture-wise JPEG JND sets (MCL-JCI, KonJND-1k style): a folder of source images and
  a CSV of first-JND quality factors -> :func:`convert_jpeg_jnd`.
- VideoSet style: source clips and a CSV of first-JND x264 QPs -> :func:`convert_videoset`.

Both write ``out_root/{train,test}/{Ref,JND1}/<stem>.png``, ``split.json``,
``labels.csv`` and, last, ``manifest.json`` recording the exact encoder settings.
"""
from __future__ import annotations

import csv
import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..files import (IMAGE_SUFFIXES, ImageError, atomic_write, file_digest, list_images, load_rgb,
                    save_png, write_json)
from .labellers import JPEG_SETTING, jpeg_roundtrip, pair_quality, params_json
from .pairs import JND_DIR, REF_DIR, SPLITS
from .split import (DEFAULT_SOURCE_PATTERN, WHOLE_STEM_PATTERN, check_split, load_split, save_split,
                    source_of, split_by_source)

LABEL_COLUMNS = ("image", "split", "source", "labeller", "qf", "jod", "psnr", "ms_ssim", "bpp",
                 "width", "height", "params")
NAME_COLUMNS = ("image", "source", "name", "filename", "file")
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".y4m", ".264", ".h264", ".yuv", ".webm", ".ts")
# VideoSet's four resolutions, for raw .yuv clips that carry no size.
# The paper says only "frames extracted from VideoSet" (Sec. 2.4), not which. Ours:
# every 30th frame (0, 30, 60, ...): about one a second, 4-5 per 5-second clip, ~3,500
# training frames over VideoSet's 220 sources x 4 resolutions at 80% -- about as many as
# the JPEG-AI images they are mixed 1:1 with -- where frame 0 alone gave ~700 (22 steps
# of batch 16 per epoch after the 1:1 mix). Neighbouring frames differ little. Test
# clips give their first frame only (``test_frames``): the frames of a clip share one
# label, and each test frame is coded by every model with an autoregressive decoder.
FRAME_STRIDE = 30
RESOLUTIONS = {"1080p": (1920, 1080), "720p": (1280, 720), "540p": (960, 540), "360p": (640, 360)}
X264_SETTING: dict[str, Any] = {
    "codec": "libx264 (through ffmpeg)",
    "rate_control": "constant QP (-qp), as VideoSet",
    "preset": "medium",
    "pix_fmt": "yuv420p",
    "frames_to_png": "ffmpeg's default YUV->RGB24 conversion, the same for Ref and JND1",
}


class ConvertError(ValueError):
    """Bad converter input; the message names the CSV (and line) or the file."""


class FFmpegNotFoundError(RuntimeError):
    """No ffmpeg executable with libx264."""


# ---------------------------------------------------------------- labels CSV

@dataclass(frozen=True)
class Label:
    line: int  # line number in the CSV (header = line 1)
    key: tuple[str, ...]
    value: int


def _pick_column(path: Path, header: Sequence[str], wanted: str | None, candidates: Sequence[str],
                 what: str) -> str | None:
    lower = {h.strip().lower(): h for h in header}
    if wanted is not None:
        if wanted in header:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        raise ConvertError(f"{path}: no column {wanted!r} for the {what}; columns are {list(header)}")
    for c in candidates:
        if c in lower:
            return lower[c]
    return None


def _int_value(path: Path, line: int, column: str, text: str | None, lo: int, hi: int, key: str) -> int:
    text = (text or "").strip()
    if not text:
        raise ConvertError(f"{path} line {line}: missing {column} for {key!r}")
    try:
        v = float(text)
    except ValueError:
        raise ConvertError(f"{path} line {line}: {column}={text!r} for {key!r} is not a number") from None
    if not math.isfinite(v) or v != int(v):
        raise ConvertError(f"{path} line {line}: {column}={text!r} for {key!r} must be an integer "
                           "(round averaged JND points first)")
    if not lo <= int(v) <= hi:
        raise ConvertError(f"{path} line {line}: {column}={int(v)} for {key!r} is outside {lo}..{hi}")
    return int(v)


def read_labels(path: str | os.PathLike, key_columns: Sequence[str | None], value_column: str,
                lo: int, hi: int) -> list[Label]:
    """Rows of a JND label CSV as (key, integer value), range-checked and unique."""
    path = Path(path)
    if not path.is_file():
        raise ConvertError(f"label CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if not header:
            raise ConvertError(f"{path}: empty CSV (no header)")
        value_col = _pick_column(path, header, value_column, (), "JND value")
        keys = [_pick_column(path, header, k, (), "name") for k in key_columns if k is not None]
        labels, seen = [], {}
        for line, row in enumerate(reader, start=2):
            if not any((v or "").strip() for v in row.values()):
                continue  # blank line
            key = tuple((row.get(k) or "").strip() for k in keys)
            if not key[0]:
                raise ConvertError(f"{path} line {line}: missing {keys[0]}")
            name = "/".join(key)
            if key in seen:
                raise ConvertError(f"{path} line {line}: {name!r} already labelled on line {seen[key]}")
            seen[key] = line
            value = _int_value(path, line, value_col, row.get(value_col), lo, hi, name)
            labels.append(Label(line, key, value))
    if not labels:
        raise ConvertError(f"{path}: no label rows")
    return labels


def _header(path: Path) -> list[str]:
    if not path.is_file():
        raise ConvertError(f"label CSV not found: {path}")
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [h.strip() for h in next(csv.reader(f), [])]


def _columns(path: Path, name_column: str | None, candidates: Sequence[str]) -> str:
    header = _header(path)
    col = _pick_column(path, header, name_column, candidates, "image/source name")
    if col is None:
        raise ConvertError(f"{path}: no image/source name column (looked for {list(candidates)}; "
                           f"columns are {header}); pass name_column=")
    return col


def _stem(name: str) -> str:
    p = Path(name)
    return p.stem if p.suffix.lower() in IMAGE_SUFFIXES + VIDEO_SUFFIXES else p.name


# ---------------------------------------------------------------- outputs

def write_labels(path: str | os.PathLike, rows: Iterable[dict[str, Any]], extra: Sequence[str] = ()) -> Path:
    """labels.csv with :data:`LABEL_COLUMNS` (+ ``extra``), atomically."""
    rows = list(rows)
    cols = list(LABEL_COLUMNS) + [c for c in extra if c not in LABEL_COLUMNS]

    def cell(v: Any) -> Any:
        if isinstance(v, dict):
            return params_json(v)
        if isinstance(v, float) and math.isnan(v):
            return ""
        return v

    def write(p: Path) -> None:
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({c: cell(r.get(c, "")) for c in cols})

    return atomic_write(path, write)


def _resolve_split(split: Any, stems: list[str], test_fraction: float, seed: int,
                   pattern: str) -> dict[str, Any]:
    if split is None:
        return split_by_source(stems, test_fraction, seed, pattern)
    if isinstance(split, str) and split in SPLITS:
        return {"train": stems if split == "train" else [], "test": stems if split == "test" else [],
                "pattern": pattern, "note": f"everything in {split}"}
    if isinstance(split, (str, os.PathLike)):
        split = load_split(split)
    split = check_split(dict(split))
    missing = sorted(set(stems) - set(split["train"]) - set(split["test"]))
    if missing:
        raise ConvertError(f"split does not assign {len(missing)} image(s), e.g. {missing[:3]}")
    return split


def _prepare_out(out_root: Path) -> None:
    out_root.mkdir(parents=True, exist_ok=True)
    (out_root / "manifest.json").unlink(missing_ok=True)  # no stale claim of completeness
    for s in SPLITS:
        for d in (REF_DIR, JND_DIR):
            shutil.rmtree(out_root / s / d, ignore_errors=True)


# ---------------------------------------------------------------- JPEG JND sets

def _jpeg_labels(labels_csv: Path, col: str, qf_column: str, images: dict[str, Path], src_dir: Path) -> dict[str, int]:
    """{image stem: first-JND QF}: one label for every image of ``src_dir``, none for another."""
    qf: dict[str, int] = {}
    for lab in read_labels(labels_csv, [col], qf_column, 1, 100):
        stem = _stem(lab.key[0])
        if stem not in images:
            raise ConvertError(f"{labels_csv} line {lab.line}: unknown image {lab.key[0]!r} "
                               f"(not in {src_dir})")
        if stem in qf:
            raise ConvertError(f"{labels_csv} line {lab.line}: image {stem!r} labelled twice")
        qf[stem] = lab.value
    unlabelled = sorted(set(images) - set(qf))
    if unlabelled:
        raise ConvertError(f"{labels_csv}: no label for {len(unlabelled)} image(s) of {src_dir}, "
                           f"e.g. {images[unlabelled[0]].name}")
    return qf


def convert_jpeg_jnd(src_dir: str | os.PathLike, labels_csv: str | os.PathLike,
                     out_root: str | os.PathLike, split: Any = None, *, name_column: str | None = None,
                     qf_column: str = "qf", test_fraction: float = 0.2, seed: int = 0,
                     source_pattern: str = WHOLE_STEM_PATTERN, progress: bool = True) -> Path:
    """Picture-wise JPEG JND set -> paired layout.

    ``labels_csv`` names each source image (column ``name_column``, or the first of
    image/source/name/filename/file) and its first-JND quality factor (``qf_column``,
    1..100). JND1 = the source encoded at that QF with :data:`JPEG_SETTING` and decoded,
    stored as PNG; Ref = the source as PNG. ``split`` is None (split by source:
    ``source_pattern``, default each image its own source), "train"/"test" (all
    there), a split dict or a split.json path.
    """
    src_dir, labels_csv, out_root = Path(src_dir), Path(labels_csv), Path(out_root)
    images = {p.stem: p for p in list_images(src_dir)} if src_dir.is_dir() else None
    if not images:
        raise ConvertError(f"{src_dir}: no source images" if images is not None
                           else f"source folder not found: {src_dir}")
    col = _columns(labels_csv, name_column, NAME_COLUMNS)
    qf = _jpeg_labels(labels_csv, col, qf_column, images, src_dir)
    stems = sorted(qf)
    sp = _resolve_split(split, stems, test_fraction, seed, source_pattern)
    side = {s: k for k in SPLITS for s in sp[k]}
    _prepare_out(out_root)
    rows = []
    for stem in tqdm(stems, desc="JPEG JND", disable=not progress):
        try:
            ref = load_rgb(images[stem])
        except ImageError as e:
            raise ConvertError(str(e)) from e
        jnd, nbytes = jpeg_roundtrip(ref, qf[stem])
        base = out_root / side[stem]
        save_png(base / REF_DIR / f"{stem}.png", ref)
        save_png(base / JND_DIR / f"{stem}.png", jnd)
        source = source_of(stem, sp.get("pattern", source_pattern))
        rows.append({"image": stem, "split": side[stem], "source": source,
                     "labeller": f"human ({labels_csv.name})", "qf": qf[stem], "jod": float("nan"),
                     **pair_quality(ref, jnd), "bpp": nbytes * 8.0 / (ref.shape[0] * ref.shape[1]),
                     "width": ref.shape[1], "height": ref.shape[0], "params": {"jpeg_qf": qf[stem]}})
    save_split(out_root / "split.json", sp)
    write_labels(out_root / "labels.csv", rows)
    write_json(out_root / "manifest.json", {
        "kind": "jpeg_jnd", "complete": True, "src_dir": str(src_dir), "labels_csv": str(labels_csv),
        "labels_digest": file_digest(labels_csv), "name_column": col, "qf_column": qf_column,
        "jpeg": {**JPEG_SETTING, "quality": "first-JND QF from the CSV"},
        "n_images": len(rows), "n_train": len(sp["train"]), "n_test": len(sp["test"]),
    })
    return out_root


# ---------------------------------------------------------------- VideoSet style

def find_ffmpeg() -> str:
    """An ffmpeg executable: imageio-ffmpeg's bundled one, else ``ffmpeg`` on PATH."""
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and Path(exe).is_file():
            return exe
    except (ImportError, RuntimeError, OSError):
        pass
    exe = shutil.which("ffmpeg")
    if exe:
        return exe
    raise FFmpegNotFoundError("ffmpeg not found: `pip install imageio-ffmpeg` (bundles an ffmpeg with "
                              "libx264) or install it system-wide (e.g. `apt install ffmpeg`)")


def ffmpeg_version(exe: str) -> str:
    out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True)
    return (out.stdout.splitlines() or ["unknown"])[0]


def has_libx264(exe: str) -> bool:
    out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True)
    return "libx264" in out.stdout


def _run(cmd: list[str], what: str) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        tail = "\n".join(res.stderr.strip().splitlines()[-5:])
        raise ConvertError(f"ffmpeg failed on {what}:\n{tail}")


def _input_args(clip: Path, resolution: str | None) -> list[str]:
    if clip.suffix.lower() != ".yuv":
        return ["-i", str(clip)]
    size = RESOLUTIONS.get(resolution or "")
    m = re.fullmatch(r"(\d+)x(\d+)", resolution or "")
    if size is None and m:
        size = (int(m.group(1)), int(m.group(2)))
    if size is None:
        raise ConvertError(f"{clip}: raw .yuv needs a resolution ({sorted(RESOLUTIONS)} or WxH), "
                           f"got {resolution!r}")
    return ["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{size[0]}x{size[1]}", "-i", str(clip)]


def _find_clip(clips_dir: Path, source: str, resolution: str | None) -> Path:
    names = [f"{source}_{resolution}", f"{resolution}/{source}"] if resolution else [source]
    for name in names:
        for suffix in VIDEO_SUFFIXES:
            p = clips_dir / f"{name}{suffix}"
            if p.is_file():
                return p
    raise ConvertError(f"{clips_dir}: no clip for source {source!r}"
                       + (f" at {resolution!r}" if resolution else "")
                       + f" (looked for {', '.join(n + '.<video ext>' for n in names)})")


def _extract_frames(exe: str, inp: list[str], frames: Sequence[int], what: str) -> dict[int, np.ndarray]:
    """Decode the wanted frames (0-based indices) to RGB; only those are written out."""
    select = "+".join(f"eq(n\\,{f})" for f in frames)
    with tempfile.TemporaryDirectory(prefix="jndlc_frames_") as tmp:
        _run([exe, "-hide_banner", "-loglevel", "error", "-y", *inp, "-frames:v", str(max(frames) + 1),
              "-vf", f"select={select}", "-fps_mode", "passthrough",
              "-pix_fmt", "rgb24", "-start_number", "0", f"{tmp}/%06d.png"], what)
        got = sorted(Path(tmp).glob("*.png"))  # the selected frames, in order
        if len(got) < len(frames):
            raise ConvertError(f"{what}: frame {frames[len(got)]} requested, the clip has "
                               f"{_count_frames(exe, inp, what)} frame(s)")
        return {f: load_rgb(p) for f, p in zip(frames, got)}


def _count_frames(exe: str, inp: list[str], what: str) -> int:
    """The number of frames of a clip (ffmpeg's final count, decoding nothing to disk)."""
    res = subprocess.run([exe, "-hide_banner", *inp, "-map", "0:v:0", "-f", "null", "-"],
                         capture_output=True, text=True)
    counts = re.findall(r"frame=\s*(\d+)", res.stderr)
    if res.returncode != 0 or not counts:
        raise ConvertError(f"ffmpeg could not count the frames of {what}")
    return int(counts[-1])


def _keep_test_frames(jobs: list, clip_frames: dict[int, list[int]], sp: dict[str, Any], side: dict[str, str],
                      test_frames: Sequence[int]) -> dict[str, Any]:
    """Test clips keep only ``test_frames`` (their first frame when none is there):
    ``clip_frames`` is updated in place; returns the split without the dropped stems."""
    for lab, source, resolution, _ in jobs:
        if side.get(videoset_stem(source, resolution, clip_frames[lab.line][0])) == "test":
            clip_frames[lab.line] = [f for f in clip_frames[lab.line] if f in set(test_frames)] or \
                clip_frames[lab.line][:1]
    kept = {videoset_stem(s, r, f) for lab, s, r, _ in jobs for f in clip_frames[lab.line]}
    return {**sp, "test": [t for t in sp["test"] if t in kept]}


def _safe(text: str) -> str:
    # "_" separates source, resolution and frame in a stem; keep it out of the parts.
    return re.sub(r"[^A-Za-z0-9.-]+", "-", text).strip("-")


def videoset_stem(source: str, resolution: str | None, frame: int) -> str:
    """SRC005_1080p_f0001 (or SRC005_f0001 without a resolution)."""
    parts = [_safe(source)] + ([_safe(resolution)] if resolution else []) + [f"f{frame:04d}"]
    return "_".join(parts)


def _convert_clip(exe: str, lab: Label, source: str, resolution: str | None, clip: Path, wanted: list[int],
                  labels_csv: Path, preset: str, out_root: Path, side: dict[str, str]) -> list[dict[str, Any]]:
    """One clip's ``wanted`` frames and those of its x264 encode at the label's QP, as
    PNG pairs on their side of the split; returns their labels.csv rows."""
    rows = []
    qp = lab.value
    what = f"{clip} (line {lab.line} of {labels_csv})"
    inp = _input_args(clip, resolution)
    refs = _extract_frames(exe, inp, wanted, what)
    with tempfile.TemporaryDirectory(prefix="jndlc_x264_") as tmp:
        enc = Path(tmp) / "enc.264"
        _run([exe, "-hide_banner", "-loglevel", "error", "-y", *inp, "-frames:v", str(max(wanted) + 1),
              "-an", "-c:v", "libx264", "-preset", preset, "-qp", str(qp), "-pix_fmt", "yuv420p",
              "-f", "h264", str(enc)], what)
        jnds = _extract_frames(exe, ["-i", str(enc)], wanted, f"x264 encode of {what}")
        nbits = enc.stat().st_size * 8
    for f in wanted:
        ref, jnd = refs[f], jnds[f]
        if ref.shape != jnd.shape:
            raise ConvertError(f"{what}: frame {f} changed size in the encode")
        stem = videoset_stem(source, resolution, f)
        base = out_root / side[stem]
        save_png(base / REF_DIR / f"{stem}.png", ref)
        save_png(base / JND_DIR / f"{stem}.png", jnd)
        h, w = ref.shape[:2]
        rows.append({"image": stem, "split": side[stem], "source": source_of(stem),
                     "labeller": f"human ({labels_csv.name})", "qf": float("nan"), "qp": qp,
                     "resolution": resolution or "", "frame": f, "jod": float("nan"),
                     **pair_quality(ref, jnd), "bpp": nbits / ((max(wanted) + 1) * w * h),
                     "width": w, "height": h, "params": {"x264_qp": qp, "bpp": "clip average"}})
    return rows


def _check_frames(frames: Sequence[int] | None, frame_stride: int, clips_dir: Path) -> list[int] | None:
    """``frames`` sorted without repeats (None stays None); refuse a bad stride or a missing folder."""
    if frames is not None:
        frames = sorted({int(f) for f in frames})
        if not frames or frames[0] < 0:
            raise ConvertError(f"frames must be non-negative frame indices, got {frames}")
    if int(frame_stride) < 1:
        raise ConvertError(f"frame_stride must be >= 1, got {frame_stride}")
    if not clips_dir.is_dir():
        raise ConvertError(f"clip folder not found: {clips_dir}")
    return frames


def _videoset_jobs(clips_dir: Path, labels_csv: Path, source_column: str, resolution_column: str | None,
                   qp_column: str) -> list[tuple[Label, str, str | None, Path]]:
    """(label, source, resolution, clip) for every row of ``labels_csv``, each clip found."""
    header = _header(labels_csv)
    res_col = resolution_column if resolution_column and resolution_column in header else None
    jobs = []
    for lab in read_labels(labels_csv, [source_column, res_col], qp_column, 0, 51):
        source, resolution = lab.key[0], (lab.key[1] or None) if res_col else None
        try:
            clip = _find_clip(clips_dir, source, resolution)
        except ConvertError as e:
            raise ConvertError(f"{labels_csv} line {lab.line}: unknown source {source!r}: {e}") from None
        jobs.append((lab, source, resolution, clip))
    return jobs


def convert_videoset(clips_dir: str | os.PathLike, labels_csv: str | os.PathLike,
                     out_root: str | os.PathLike, frames: Sequence[int] | None = None, split: Any = None, *,
                     frame_stride: int = FRAME_STRIDE, test_frames: Sequence[int] | None = (0,),
                     source_column: str = "source", resolution_column: str | None = "resolution",
                     qp_column: str = "qp", test_fraction: float = 0.2, seed: int = 0,
                     preset: str = "medium", ffmpeg: str | None = None, progress: bool = True) -> Path:
    """VideoSet-style clips + first-JND QPs -> paired frames.

    ``labels_csv`` has a source column, an optional resolution column (e.g. 1080p; the
    clip is then ``<source>_<resolution>.<ext>`` or ``<resolution>/<source>.<ext>``)
    and the first-JND QP (0..51). For each row the listed ``frames`` (0-based; by
    default every ``frame_stride``-th frame of the clip, see ``FRAME_STRIDE``, of which
    test clips keep only ``test_frames``, by default the first: every frame of a clip shares
    its label, and Cheng2020's autoregressive decoder takes minutes per 1080p frame and
    model on a CPU core; None keeps them all) are
    taken from the source and from its libx264 encode at constant QP (-qp QP,
    yuv420p), as PNG. Stems look like ``SRC005_1080p_f0001``, so the default split
    keeps every frame and resolution of a source on one side.
    """
    clips_dir, labels_csv, out_root = Path(clips_dir), Path(labels_csv), Path(out_root)
    frames = _check_frames(frames, frame_stride, clips_dir)
    jobs = _videoset_jobs(clips_dir, labels_csv, source_column, resolution_column, qp_column)
    exe = ffmpeg or find_ffmpeg()
    if not has_libx264(exe):
        raise FFmpegNotFoundError(f"{exe} has no libx264 encoder: `pip install imageio-ffmpeg` or "
                                  "install an ffmpeg built with libx264")
    clip_frames = {lab.line: frames or list(range(0, _count_frames(exe, _input_args(clip, res), f"{clip}"),
                                                  int(frame_stride))) for lab, _, res, clip in jobs}
    stems = [videoset_stem(s, r, f) for lab, s, r, _ in jobs for f in clip_frames[lab.line]]
    if len(set(stems)) != len(stems):
        raise ConvertError(f"{labels_csv}: two rows give the same frame names; sources and resolutions "
                           "must stay distinct after replacing '_' by '-'")
    sp = _resolve_split(split, stems, test_fraction, seed, DEFAULT_SOURCE_PATTERN)
    side = {s: k for k in SPLITS for s in sp[k]}
    if frames is None and test_frames is not None:  # test clips: coding a frame costs minutes per model
        sp = _keep_test_frames(jobs, clip_frames, sp, side, test_frames)
    _prepare_out(out_root)
    rows = []
    for lab, source, resolution, clip in tqdm(jobs, desc="VideoSet", disable=not progress):
        rows += _convert_clip(exe, lab, source, resolution, clip, clip_frames[lab.line], labels_csv, preset,
                              out_root, side)
    save_split(out_root / "split.json", sp)
    write_labels(out_root / "labels.csv", rows, extra=("qp", "resolution", "frame"))
    write_json(out_root / "manifest.json", {
        "kind": "videoset", "complete": True, "clips_dir": str(clips_dir), "labels_csv": str(labels_csv),
        "labels_digest": file_digest(labels_csv),
        "frames": frames if frames is not None else f"every {int(frame_stride)}th frame of each clip (frame_stride)",
        "x264": {**X264_SETTING, "preset": preset, "qp": "first-JND QP from the CSV",
                 "frames_encoded": "0..the last frame taken (-frames:v)",
                 "ffmpeg": ffmpeg_version(exe)},
        "n_images": len(rows), "n_train": len(sp["train"]), "n_test": len(sp["test"]),
    })
    return out_root
