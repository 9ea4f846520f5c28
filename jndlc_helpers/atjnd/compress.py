"""What ``jndlc compress`` does with its options: pick the codec and its setting (given,
or searched at the JND), code the image, and say what was done in a few words."""
from __future__ import annotations

from typing import Any

import numpy as np

from . import codecs as C
from . import ladder as L
from . import models as MD
from . import search as S


def compress(rgb: np.ndarray, options: Any) -> tuple[C.Coded, str]:
    """(coded image, a note) for the command line's ``options`` (an argparse namespace)."""
    codec = options.codec or ("learned" if options.model else "jpeg")
    if codec == "jpeg":
        if options.model or options.step is not None:
            raise ValueError("--model and --step are for the learned codec, not --codec jpeg")
        return _jpeg(rgb, options)
    if not options.model:
        raise ValueError("the learned codec needs --model FOLDER")
    if options.preprocessor:
        raise ValueError("--preprocessor is for --codec jpeg")
    return _learned(rgb, options)


def _jpeg(rgb: np.ndarray, o: Any) -> tuple[C.Coded, str]:
    name = o.preprocessor
    if name and name != C.CLASSICAL:
        C.preprocessor_path(name)  # a bad name fails before any work
    if o.target == "jnd":
        found = S.jpeg_at_jnd(rgb, o.tau, name, o.display)
        return found.coded, _jnd_note(f"JPEG QF {found.setting:g}", found, o.tau)
    if o.quality is None or o.quality != int(o.quality):
        raise ValueError("--codec jpeg needs --quality QF (an integer 1..100) or --target jnd")
    coded = C.code_jpeg(rgb, int(o.quality), name)
    return coded, f"JPEG QF {int(o.quality)}" + (f", preprocessor {name}" if name else "")


def _learned(rgb: np.ndarray, o: Any) -> tuple[C.Coded, str]:
    refs = MD.family(o.model, o.distortion)
    if o.target == "jnd":
        if o.quality is not None or o.step is not None:
            raise ValueError("--target jnd chooses the rate: drop --quality / --step")
        found, _ = S.learned_at_jnd(rgb, refs, o.tau, display=o.display)
        return found.coded, _jnd_note(f"r {found.setting:.3g}", found, o.tau) + _what(found.coded)
    if len(refs) == 1:
        if o.quality is not None and o.quality != refs[0].quality:
            raise ValueError(f"--quality {o.quality:g}: {o.model} holds quality {refs[0].quality} only; "
                             "use --step to lower its rate, or a family folder")
        step = 1.0 if o.step is None else o.step
        if step < 1:
            raise ValueError(f"--step {step:g}: steps below 1 refine a latent the decoder was not trained for")
        coded = C.code_learned(refs[0], rgb, step)
        return coded, _what(coded).lstrip("; ")
    if o.step is not None:
        raise ValueError("--step applies to one model's folder; with a family folder use --quality R")
    if o.quality is None:
        raise ValueError(f"{o.model} holds qualities {[r.quality for r in refs]}: give --quality R "
                         "(continuous, between them) or --target jnd")
    lad = L.image_ladder(refs, rgb)
    if not lad.low <= o.quality <= lad.high:
        raise ValueError(f"--quality {o.quality:g}: this family spans {lad.low:g}..{lad.high:g}")
    ref, step = lad.setting(o.quality)
    coded = C.code_learned(ref, rgb, step)
    return coded, f"r {o.quality:g}" + _what(coded)


def _what(coded: C.Coded) -> str:
    s = coded.setting
    return f"; learned q{s['quality']} step {s['step']:.4g}, model {s['model']}"


def _jnd_note(what: str, found: S.Found, tau: float) -> str:
    verdict = "within the JND" if found.found else f"NOT within the JND even at the top (JOD < {10 - tau:g})"
    return f"{what}, JOD {found.jod:.3f}, {verdict}, {found.tries} encodes"
