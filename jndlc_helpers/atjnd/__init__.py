"""Compress at the just-noticeable point: ``jndlc compress`` / ``decompress`` and JND targeting.

``fileformat`` is the learned codec's self-describing file, ``models`` finds trained
models (by folder, family or checkpoint digest), ``rate`` the continuous rate (a latent
quantisation-step scale on fixed models) and ``ladder`` the continuous quality over a
family, ``codecs`` codes an image through the evaluation's own paths, ``search`` the
closed-loop JND targeting, ``predictor`` and ``training`` the open-loop predictor,
``anchors`` what people use today (JPEG XL, Guetzli, a fixed QF, an SSIM target),
``judges`` the two judges, ``compress`` and ``cli`` the command line, ``steps`` what
notebook 08 calls.
"""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "fileformat": ("Header", "pack", "unpack", "FormatError"),
    "models": ("ModelRef", "model_ref", "family", "ModelError"),
    "rate": ("StepScaled", "with_step"),
    "ladder": ("ImageLadder", "image_ladder"),
    "codecs": ("Coded", "code_learned", "decode_learned", "code_jpeg", "decode_jpeg"),
    "search": ("jpeg_at_jnd", "learned_at_jnd"),
    "predictor": ("Predictor", "features"),
    "steps": ("atjnd_params",),
})
