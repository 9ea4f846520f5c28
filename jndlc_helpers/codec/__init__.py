"""Codec: the CompressAI models, the baseline and JND losses with their feature
extractors, checkpoints, training one run (``train``) and many (``grid``: grids, the
pretrained control, our base models)."""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "models": ("build_model", "load_checkpoint", "ARCHITECTURES"),
    "losses": ("make_loss", "LOSS_NAMES"),
    "features": ("get_features",),
    "checkpoint": ("save_checkpoint", "load_checkpoint_dict", "fetch_weights", "WeightsUnavailableError"),
    "train": ("train_run", "NonFiniteLossError", "RunConfigError"),
    "grid": ("run_grid", "export_pretrained", "pretrain", "pretrain_recipe"),
})
