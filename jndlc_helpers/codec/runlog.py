"""What a run reports as it trains: one record per logged step, written to log.jsonl,
TensorBoard (optional) and the progress bar."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

import torch


def record(step: int, epoch: int, out: dict[str, torch.Tensor], aux_loss: torch.Tensor, loss_value: float,
           optimizer: torch.optim.Optimizer, seconds: float) -> dict[str, Any]:
    """One line of log.jsonl: the loss's scalars, PSNR or MS-SSIM, lr and time."""
    keys = [k for k, v in out.items() if torch.is_tensor(v) and v.dim() == 0 and k != "loss"]
    values = torch.stack([out[k].detach().float() for k in keys] + [aux_loss.detach().float()]).tolist()
    rec: dict[str, Any] = {"step": step, "epoch": epoch, "loss": loss_value}
    rec.update(zip(keys, values))
    rec["aux_loss"] = values[-1]
    if "mse_loss" in rec:
        rec["psnr"] = 10 * math.log10(1 / rec["mse_loss"]) if rec["mse_loss"] > 0 else float("inf")
    if "ms_ssim_loss" in rec:
        rec["ms_ssim"] = rec["ms_ssim_loss"]
    rec["lr"] = optimizer.param_groups[0]["lr"]
    rec["seconds"] = round(seconds, 3)
    return rec


def write(log: IO[str] | None, bar: Any, rec: dict[str, Any], board: Any = None) -> dict[str, Any]:
    """Append ``rec`` to log.jsonl (``log``: rank 0 only), to TensorBoard (``board``), and
    show it on the progress bar."""
    if log is not None:
        log.write(json.dumps(rec) + "\n")
        log.flush()
    if board is not None:
        for key, value in rec.items():
            if key not in ("step", "epoch") and isinstance(value, (int, float)) and math.isfinite(value):
                board.add_scalar(f"train/{key}", value, rec["step"])
        board.flush()
    bar.set_postfix(loss=f"{rec['loss']:.4g}", bpp=f"{rec['bpp_loss']:.3f}", refresh=False)
    return rec


def tensorboard_writer(folder: Path) -> Any:
    """A TensorBoard SummaryWriter on ``folder``; a clear error without the package."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise ModuleNotFoundError(f"tensorboard=True needs the tensorboard package ({e}): "
                                  "pip install 'jndlc[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter(log_dir=str(folder))


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, disable=not enabled, dynamic_ncols=True, leave=False)
