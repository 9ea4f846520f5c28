"""Codec: the CompressAI models and ours (``weconv``: wavelet-domain convolution on the
Haar pair of ``haar``), the baseline and JND losses with their feature extractors,
checkpoints, a run's configuration (``runconfig``) and folder (``runfolder``), training
one run (``train``) and many (``grid``: grids and the pretrained control; ``pretrain``:
our base models). Command line: ``python -m jndlc_helpers.codec``."""
from .._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "models": ("build_model", "load_checkpoint", "ARCHITECTURES"),
    "losses": ("make_loss", "LOSS_NAMES"),
    "features": ("get_features",),
    "checkpoint": ("save_checkpoint", "load_checkpoint_dict", "fetch_weights", "WeightsUnavailableError"),
    "runconfig": ("RunConfig",),
    "runfolder": ("RunFolder", "RunConfigError"),
    "train": ("train_run", "NonFiniteLossError"),
    "grid": ("run_grid", "export_pretrained"),
    "pretrain": ("pretrain", "pretrain_recipe", "ensure_base_models"),
})
