"""JND losses for standard JPEG: a rate-distortion-optimised preprocessor.

A network (or, as the anchor, a classical rule) changes an image before an unchanged
JPEG encoder so that the plain JPEG decoder of any viewer shows a better
rate-distortion trade-off. ``simulator`` models Pillow's libjpeg, ``bitstream`` reads
a baseline JPEG's quantised coefficients, ``rate`` estimates the JPEG size,
``preprocess`` holds the network and its relaxation of rounding, ``classical`` the
no-learning anchor, ``train`` the resumable training, ``evaluate`` the real-bitstream
evaluation and ``steps`` what notebook 07 calls.
"""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "simulator": ("simulate", "quant_tables", "analyse", "synthesise"),
    "bitstream": ("read_coefficients", "JPEGFormatError"),
    "rate": ("RateProxy", "fit_rate_proxy"),
    "preprocess": ("Preprocessor", "preprocess_image"),
    "classical": ("classical_preprocess",),
    "train": ("train_preprocessor",),
    "evaluate": ("evaluate_methods", "MethodSpec"),
    "steps": ("jpeg_params",),
})
