"""Evaluation: 8-bit metrics, coding test images with a model or a classical anchor,
BD-rate, BS_JND, and the sanity check of the base models."""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "metrics": ("psnr", "ms_ssim", "ms_ssim_db", "image_metrics"),
    "evaluate": ("evaluate_model", "evaluate_anchor", "evaluate_all", "reconstruct", "write_compressai_json",
                 "decode_all"),
    "bdrate": ("bd_rate", "bd_rate_table"),
    "bsjnd": ("bsjnd_per_image", "bsjnd_summary", "jod_threshold"),
    "replicates": ("bd_rate_for", "bsjnd_against", "is_replicated", "seed_mean", "first_seed_rows", "has_jod"),
    "basecheck": ("base_model_report",),
})
