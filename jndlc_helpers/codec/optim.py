"""The optimisers and learning-rate schedules of a run.

Adam 1e-4 on the network and Adam 1e-3 on the entropy bottleneck's ``quantiles`` (the
aux loss), as CompressAI's ``examples/train.py``.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

COSINE_WARMUP_STEPS = 500  # at most; and at most 5% of the run
COSINE_FINAL_FRACTION = 0.01  # the cosine ends at 1% of the peak lr


def configure_optimizers(model: nn.Module, lr: float = 1e-4, aux_lr: float = 1e-3):
    """Adam on the network, Adam on the ``.quantiles`` (CompressAI's examples/train.py split)."""
    params = dict(model.named_parameters())
    net = sorted(n for n, p in params.items() if p.requires_grad and not n.endswith(".quantiles"))
    aux = sorted(n for n, p in params.items() if p.requires_grad and n.endswith(".quantiles"))
    optimizer = torch.optim.Adam((params[n] for n in net), lr=lr)
    aux_optimizer = torch.optim.Adam((params[n] for n in aux), lr=aux_lr)
    return optimizer, aux_optimizer


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, total_steps: int):
    """"plateau": ReduceLROnPlateau, stepped on the mean training loss (the paper's and
    CompressAI's choice). "cosine": a linear warm-up, then a cosine down to
    ``COSINE_FINAL_FRACTION`` of the peak at ``total_steps``, stepped every step: a fixed
    schedule, so that a long run split over several sessions follows the same curve."""
    if schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    warmup = max(1, min(COSINE_WARMUP_STEPS, total_steps // 20))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        t = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return COSINE_FINAL_FRACTION + (1 - COSINE_FINAL_FRACTION) * 0.5 * (1 + math.cos(math.pi * t))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
