"""FWL at a chosen share of D: the feature term's scale c, set on the training images.

Eq. 8 is D = w P + (1 - w) c F with P = s * d(x_o, x_hat) and F = MSE(F(x_hat), F(x_j)),
c = 1 in the paper. The paper states neither why w = 0.9 nor F's scale, and the share of
D the feature term takes depends on both (and on the extractor's input: ``features.py``).
So a run can ask for a share instead (``RunConfig.feature_share`` = sh): before training,
with its initial model in training mode (noisy quantisation, as the loss sees it at step
0), one pass over its training set (one random crop each, in batches of the run's size)
gives the means P0 and F0, and

    c = sh / (1 - sh) * w P0 / ((1 - w) F0),    so that (1 - w) c F0 / (w P0 + (1 - w) c F0) = sh.

With w = 1 - sh (the grid's choice for such methods, ``RunConfig.for_run``) D starts equal
to P0, the control's distortion, so lambda keeps its meaning: setting w alone would divide D
by up to ~100 for MSE and move the run along its RD curve instead of changing what it
optimises.

The pass draws its crops and noise from a forked RNG with its own seed: the run's stream,
and so the common random numbers it shares with the control of its seed, is unchanged. The
calibration is written beside the run (``fwl_calibration.json``) and read back on resume.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import torch
import torch.nn as nn
from torch.utils.data import Dataset

from ..files import read_json, write_json

CALIBRATION_NAME = "fwl_calibration.json"
CALIBRATION_SEED = 20240214  # the calibration's own crops and noise


def mean_terms(model: nn.Module, criterion: nn.Module, dataset: Dataset, batch_size: int,
               device: torch.device | str = "cpu") -> tuple[float, float, int]:
    """(P0, F0, n): eq. 8's unweighted terms averaged over one random crop of each of the
    ``n`` training items, in batches of ``batch_size``, with ``model`` as it is now."""
    sums, count = [0.0, 0.0], 0
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(CALIBRATION_SEED)
        was_training = model.training
        model.train()
        for start in range(0, len(dataset), batch_size):
            items = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            x_o = torch.stack([a for a, _ in items]).to(device)
            x_j = torch.stack([b for _, b in items]).to(device)
            pixel, feat = criterion.terms(model(x_o)["x_hat"], x_o, x_j, {})
            sums[0] += float(pixel) * len(items)
            sums[1] += float(feat) * len(items)
            count += len(items)
        model.train(was_training)
    return sums[0] / count, sums[1] / count, count


def scale_for(share: float, weight: float, pixel: float, feature: float) -> float:
    """c such that the feature term is ``share`` of D where the terms are ``pixel`` and ``feature``."""
    if not (pixel > 0 and feature > 0):
        raise ValueError(f"cannot calibrate FWL's share: pixel term {pixel}, feature term {feature} "
                         "(an identical reconstruction or JND image throughout)")
    return share / (1.0 - share) * weight * pixel / ((1.0 - weight) * feature)


def calibrate(run_dir: str | Path, model: nn.Module, criterion: nn.Module, dataset: Dataset, share: float,
              batch_size: int, device: torch.device | str = "cpu", write: bool = True) -> dict[str, Any]:
    """Set ``criterion.feature_scale`` for ``share`` (read from the run's
    ``fwl_calibration.json`` when the run has one for this share, else measured and,
    with ``write``, written there); returns the calibration."""
    path = Path(run_dir) / CALIBRATION_NAME
    found = read_json(path) if path.is_file() else None
    if found is None or found.get("share") != share or found.get("fwl_weight") != criterion.weight:
        pixel, feature, n = mean_terms(model, criterion, dataset, batch_size, device)
        found = {"share": share, "fwl_weight": criterion.weight,
                 "feature_scale": scale_for(share, criterion.weight, pixel, feature),
                 "pixel_term": pixel, "feature_term": feature, "n_crops": n, "seed": CALIBRATION_SEED,
                 "what": "c = share/(1-share) * w*pixel_term / ((1-w)*feature_term): the feature term is "
                         "`share` of D at the start, on the training crops with the initial model"}
        if write:
            write_json(path, found)
    criterion.feature_scale = float(found["feature_scale"])
    return found


def share_of_log(records: Iterable[dict[str, Any]], weight: float, scale: float = 1.0) -> float:
    """The feature term's mean share of D over a run's log: its logged ``feature_share``, or
    for runs logged before that key, (1 - w) c feature_loss / distortion."""
    shares = []
    for r in records:
        if r.get("feature_share") is not None:
            shares.append(float(r["feature_share"]))
        elif r.get("feature_loss") is not None and r.get("distortion"):
            shares.append((1.0 - weight) * scale * float(r["feature_loss"]) / float(r["distortion"]))
    good = [s for s in shares if math.isfinite(s)]
    return sum(good) / len(good) if good else math.nan
