"""The package's words, each defined once; this docstring is the glossary.

- **distortion**: what a codec is trained to minimise with its rate, the paper's d:
  ``"mse"`` or ``"ms-ssim"`` (``DISTORTIONS``). Lambdas, run folders and
  ``RunConfig.distortion`` are keyed by it. Two stored names keep their old spelling so
  that nothing already written changes: the profile knob ``metrics`` (the notebooks'
  parameters cells) and the key ``"metric"`` in a run's ``config.json`` (its identity
  digest).
- **family**: a column of the RD tables: the distortion a learned model was trained
  for, or ``ANCHOR_FAMILY`` for a classical codec.
- **metric**: a quality measured on a decoded image, the y axis of an RD curve:
  ``"psnr"``, ``"ms_ssim_db"`` (``QUALITY_METRICS``) and our ``"jod"``; each family
  is read on its own metric (``METRIC_OF``).
- **quality**: CompressAI's zoo quality 1-8, which picks lambda.
- **architecture**: a codec of the model factory (``codec.models``): CompressAI's zoo
  models (``ZOO_ARCHITECTURES``, whose pretrained weights the zoo publishes) and ours
  (``WECONV``: no zoo weights; from scratch or from our base models).
- **loss**: a fine-tuning loss (``codec.losses.LOSS_NAMES``). **method**: a table's
  row: a loss, the pretrained model (``PRETRAINED``) or a classical anchor codec.
"""
from __future__ import annotations

DISTORTIONS = ("mse", "ms-ssim")
QUALITY_METRICS = ("psnr", "ms_ssim_db")
METRIC_OF = {"mse": "psnr", "ms-ssim": "ms_ssim_db"}  # a family's own quality metric
ANCHOR_FAMILY = "anchor"

ZOO_ARCHITECTURES = ("cheng2020-attn", "scale-hyperprior", "mean-scale-hyperprior")
WECONV = "weconv-mean-scale-hyperprior"  # codec/weconv.py
ARCHITECTURES = (*ZOO_ARCHITECTURES, WECONV)

CONTROL = "baseline"  # fine-tuned with the baseline loss, same data and budget: the control
PRETRAINED = "baseline-pretrained"  # the model fine-tuning starts from, not fine-tuned (the paper's anchor)
CONTROLS = (PRETRAINED, CONTROL)

# pytorch-msssim's 5 scales (window 11) need more than 160 px per side; training patches
# are multiples of 64 (the codecs downsample by 64), so MS-SSIM runs train on 192 px.
MSSSIM_MIN_SIDE = 161
MSSSIM_PATCH = 192


def run_name(method: str, distortion: str, quality: int) -> str:
    """A run's folder name: ``<method>-<distortion>-q<quality>``."""
    return f"{method}-{distortion}-q{quality}"
