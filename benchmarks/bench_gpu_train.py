"""Training throughput of Cheng2020-attention on a GPU: ``train.train_run`` against the
loop of CompressAI's examples/train.py, on the same device, model, data and batch.

Both train ``Cheng2020Attention`` from scratch (the zoo's size at ``--quality``), or
another architecture of the factory (``--architecture``: the WeConv or the plain
mean-scale hyperprior, at the zoo's mbt2018-mean size of ``--quality``), with
the baseline MSE loss, batch 16 of 256 px random crops (the paper's protocol), on a
folder of made-up photo-like PNGs (no dataset needs to be on the machine). The plain
loop is examples/train.py's body (``compressai.datasets.ImageFolder``, RandomCrop,
ToTensor, DataLoader workers, Adam + aux Adam, clipping); ours is ``train_run`` with
AMP off (the same arithmetic) and on (bf16). Headline: steady-state steps per second
after ``WARMUP`` steps, ours (AMP off) over plain, higher is better.

    python benchmarks/bench_gpu_train.py [--steps 60] [--quality 6] [--architecture cheng2020-attn]

writes benchmarks/results/gpu_train_throughput.json (``_weconv.json``, ``_mean_scale.json``
for the other architectures). On a CPU (``--device cpu`` with
small ``--batch``/``--patch``/``--N``) it runs as a check of the script itself and
only prints its rates.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from jndlc_helpers import config  # noqa: E402
from jndlc_helpers.codec import models, train  # noqa: E402
from jndlc_helpers.codec.runconfig import RunConfig  # noqa: E402
from jndlc_helpers.codec.runfolder import LOG_NAME  # noqa: E402
from jndlc_helpers.vocab import WECONV  # noqa: E402

WARMUP = 10  # steps left out of the steady-state rate (cuDNN autotuning, allocator, workers)
# Result file and label of each architecture measured.
RESULT_NAMES = {"cheng2020-attn": "gpu_train_throughput", WECONV: "gpu_train_throughput_weconv",
                "mean-scale-hyperprior": "gpu_train_throughput_mean_scale"}
LABELS = {"cheng2020-attn": "Cheng2020-attention", WECONV: "WeConv mean-scale hyperprior",
          "mean-scale-hyperprior": "mean-scale hyperprior"}


def photo_folder(folder: Path, n: int, size: int) -> Path:
    """``n`` smooth, photo-like PNGs of ``size`` px (ImageFolder's ``train/`` layout)."""
    from PIL import Image

    split = folder / "train"
    split.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        f = rng.uniform(1, 6, 3)
        img = np.stack([np.sin(f[c] * xx + c + i) * np.cos(f[(c + 1) % 3] * yy - c) for c in range(3)], -1)
        img = (img + 1) * 110 + rng.normal(0, 6, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(split / f"img{i:03d}.png")
    return split


def plain_loop(root: Path, a: argparse.Namespace, lmbda: float) -> list[float]:
    """examples/train.py's train_one_epoch body; returns the time stamp of every step."""
    from compressai.datasets import ImageFolder
    from compressai.losses import RateDistortionLoss
    from torch.utils.data import DataLoader
    from torchvision import transforms

    torch.manual_seed(0)
    dev = torch.device(a.device)
    net = models.model_class(a.architecture)(*sizes(a)).to(dev)
    params = dict(net.named_parameters())
    optimizer = torch.optim.Adam((p for n, p in params.items() if not n.endswith(".quantiles")), lr=1e-4)
    aux_optimizer = torch.optim.Adam((p for n, p in params.items() if n.endswith(".quantiles")), lr=1e-3)
    criterion = RateDistortionLoss(lmbda=lmbda)
    dataset = ImageFolder(root, split="train", transform=transforms.Compose(
        [transforms.RandomCrop(a.patch), transforms.ToTensor()]))
    loader = DataLoader(dataset, batch_size=a.batch, shuffle=True, drop_last=True, num_workers=a.workers,
                        persistent_workers=a.workers > 0, pin_memory=dev.type == "cuda")
    net.train()
    stamps: list[float] = []
    t0 = time.perf_counter()
    while len(stamps) < a.steps:
        for d in loader:
            d = d.to(dev)
            optimizer.zero_grad()
            aux_optimizer.zero_grad()
            out = criterion(net(d), d)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            aux_loss = net.aux_loss()
            aux_loss.backward()
            aux_optimizer.step()
            out["loss"].item()  # examples/train.py logs it: a sync per step, as ours
            stamps.append(time.perf_counter() - t0)
            if len(stamps) >= a.steps:
                break
    return stamps


def ours(root: Path, out: Path, a: argparse.Namespace, lmbda: float, amp: bool) -> list[float]:
    run = out / f"ours-amp{int(amp)}"
    train.train_run(run, RunConfig(quality=a.quality, lmbda=lmbda, unlabelled_root=root,
                                   architecture=a.architecture, N=a.N, M=a.M, init="scratch", max_steps=a.steps,
                                   batch_size=a.batch, patch_size=a.patch, device=a.device, amp=amp,
                                   num_workers=a.workers, checkpoint_every=10**9, progress=False))
    return [json.loads(line)["seconds"] for line in (run / LOG_NAME).read_text().splitlines()]


def sizes(a: argparse.Namespace) -> tuple[int, ...]:
    return (a.N,) if a.M is None else (a.N, a.M)


def steps_per_second(stamps: list[float]) -> float:
    return (len(stamps) - WARMUP) / (stamps[-1] - stamps[WARMUP - 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--architecture", default="cheng2020-attn", choices=sorted(RESULT_NAMES))
    ap.add_argument("--quality", type=int, default=6, help="zoo quality: its lambda and (unless --N) its size")
    ap.add_argument("--N", type=int, default=None)
    ap.add_argument("--M", type=int, default=None, help="hyperpriors' M (default: mbt2018-mean's at --quality)")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--patch", type=int, default=256)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--images", type=int, default=64)
    a = ap.parse_args()
    if a.steps <= WARMUP + 1:
        raise SystemExit(f"--steps must exceed {WARMUP + 1}")
    if a.architecture == "cheng2020-attn":
        a.N, a.M = a.N or models.zoo_sizes("cheng2020-attn", a.quality)[0], None
    else:  # the mean-scale hyperprior's zoo size, for WeConv too (the zoo has no WeConv)
        n, m = models.zoo_sizes("mean-scale-hyperprior", a.quality)
        a.N, a.M = a.N or n, a.M or m
    lmbda = config.lambda_for("mse", a.quality)
    if a.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    with tempfile.TemporaryDirectory() as tmp:
        split = photo_folder(Path(tmp) / "images", a.images, max(a.patch * 2, 512))
        rates = {}
        for name, fn in (("plain", lambda: plain_loop(split.parent, a, lmbda)),
                         ("ours", lambda: ours(split, Path(tmp), a, lmbda, amp=False)),
                         ("ours_amp", lambda: ours(split, Path(tmp), a, lmbda, amp=True))):
            rates[name] = round(steps_per_second(fn()), 3)
            print(f"{name}: {rates[name]} steps/s", file=sys.stderr)
    if not a.device.startswith("cuda"):
        print(json.dumps(rates))  # a check of the script: no result file from a CPU
        return
    arch = "" if a.architecture == "cheng2020-attn" else f" --architecture {a.architecture}"
    model = models.model_class(a.architecture).__name__ + f" N={a.N}" + (f", M={a.M}" if a.M else "")
    path = write_result(
        name=RESULT_NAMES[a.architecture], metric=f"steady-state training steps/s ({LABELS[a.architecture]})",
        unit="steps/s", value=rates["ours"], baseline="CompressAI examples/train.py loop, same device and data",
        baseline_value=rates["plain"], higher_is_better=True,
        command=f"python benchmarks/bench_gpu_train.py --steps {a.steps} --quality {a.quality}{arch}",
        setup=f"{model} from scratch, lambda {lmbda} (MSE q{a.quality}), batch {a.batch}, "
              f"{a.patch} px random crops of {a.images} made-up PNGs, {a.workers} loader workers, {a.steps} steps, "
              f"steady state after {WARMUP}; ours: AMP off (value) and bf16 AMP (ours_amp)",
        steps_s=rates, ratio_ours_amp=round(rates["ours_amp"] / rates["plain"], 3))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
