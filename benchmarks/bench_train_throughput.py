"""Training throughput of ``train.train_run`` against CompressAI's examples/train.py loop.

Both train the same model (the quick profile's mean-scale hyperprior N=64, M=96, from
scratch) on the same image folder (the embedded JND set's training originals, PNG),
batch 8, 128 px random crops, the same thread count, the baseline MSE loss. The plain
loop is examples/train.py's: ``compressai.datasets.ImageFolder`` with RandomCrop and
ToTensor (each image decoded at every step), DataLoader workers, Adam + aux Adam,
clipping, one checkpoint at the end. Its plateau scheduler is stepped every 100 steps,
as ours is: examples/train.py steps it once per epoch, which on 13 images is every
step and collapses the learning rate within 150 steps (that changes the loss, not the
speed, and would spoil the loss check). Ours runs as the quick profile's training does:
decoded images cached in memory, optionally ``torch.compile``, config/log/checkpoint
files. The variants alternate, each run from a fresh compile cache.

Headline: steady-state images per second (steps after the first ``WARMUP`` steps),
ours with compile over plain (ratio, higher is better); end-to-end seconds of a whole
run (imports, compilation, checkpoint) are recorded beside it. Loss check: the mean
training loss of the last 20 steps; repeat r uses seed r in every variant, so the
spread over repeats is the noise the variants are compared with.

    python benchmarks/bench_train_throughput.py [--steps 150] [--repeats 3] [--workers 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from jndlc_helpers.codec import train  # noqa: E402
from jndlc_helpers.codec.runconfig import RunConfig  # noqa: E402
from jndlc_helpers.codec.runfolder import LOG_NAME  # noqa: E402

N, M, BATCH, PATCH, LMBDA = 64, 96, 8, 128, 0.0130
TAIL = 20  # steps whose mean loss is compared
WARMUP = 20  # steps left out of the steady-state rate (compilation, worker start-up)
PLATEAU_EVERY = 100


def image_folder(tmp: Path, source: Path) -> Path:
    """``tmp/images/train/*.png`` linking to ``source``'s images (ImageFolder's layout)."""
    split = tmp / "images" / "train"
    split.mkdir(parents=True)
    for p in sorted(source.glob("*.png")):
        (split / p.name).symlink_to(p.resolve())
    return split


def plain_loop(root: Path, steps: int, out: Path, workers: int, seed: int) -> dict[str, float]:
    """examples/train.py's train_one_epoch body; see ``summary`` for what it returns."""
    from compressai.datasets import ImageFolder
    from compressai.losses import RateDistortionLoss
    from compressai.models import MeanScaleHyperprior
    from torch.utils.data import DataLoader
    from torchvision import transforms

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    net = MeanScaleHyperprior(N, M)
    parameters = {n for n, p in net.named_parameters() if not n.endswith(".quantiles") and p.requires_grad}
    aux_parameters = {n for n, p in net.named_parameters() if n.endswith(".quantiles") and p.requires_grad}
    params_dict = dict(net.named_parameters())
    optimizer = torch.optim.Adam((params_dict[n] for n in sorted(parameters)), lr=1e-4)
    aux_optimizer = torch.optim.Adam((params_dict[n] for n in sorted(aux_parameters)), lr=1e-3)
    lr_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    criterion = RateDistortionLoss(lmbda=LMBDA)
    dataset = ImageFolder(root, split="train",
                          transform=transforms.Compose([transforms.RandomCrop(PATCH), transforms.ToTensor()]))
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, drop_last=True, num_workers=workers,
                        persistent_workers=workers > 0)
    net.train()
    step, losses, stamps = 0, [], []
    while step < steps:
        for i, d in enumerate(loader):
            optimizer.zero_grad()
            aux_optimizer.zero_grad()
            out_net = net(d)
            out_criterion = criterion(out_net, d)
            out_criterion["loss"].backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            aux_loss = net.aux_loss()
            aux_loss.backward()
            aux_optimizer.step()
            losses.append(out_criterion["loss"].item())
            stamps.append(time.perf_counter() - t0)
            step += 1
            if step % PLATEAU_EVERY == 0:
                lr_scheduler.step(statistics.fmean(losses[-PLATEAU_EVERY:]))
            if step >= steps:
                break
    torch.save({"epoch": 0, "state_dict": net.state_dict(), "optimizer": optimizer.state_dict(),
                "aux_optimizer": aux_optimizer.state_dict(), "lr_scheduler": lr_scheduler.state_dict()},
               out / "plain.pth.tar")
    return summary(time.perf_counter() - t0, stamps, losses)


def ours(folder: Path, steps: int, out: Path, seed: int, compile: bool) -> dict[str, float]:
    torch._dynamo.reset()  # every run pays its compilation, as a fresh process would
    t0 = time.perf_counter()
    run = out / f"ours-{seed}-{compile}"
    train.train_run(run, RunConfig(quality=4, lmbda=LMBDA, unlabelled_root=folder,
                                   architecture="mean-scale-hyperprior", N=N, M=M, init="scratch", max_steps=steps,
                                   batch_size=BATCH, patch_size=PATCH, device="cpu", checkpoint_every=10_000,
                                   compile=compile, seed=seed, progress=False))
    seconds = time.perf_counter() - t0
    log = [json.loads(line) for line in (run / LOG_NAME).read_text().splitlines()]
    return summary(seconds, [r["seconds"] for r in log], [r["loss"] for r in log])


def summary(seconds: float, stamps: list[float], losses: list[float]) -> dict[str, float]:
    """End-to-end seconds, steady-state images/s after WARMUP steps, mean loss of the last TAIL."""
    rate = (len(stamps) - WARMUP) * BATCH / (stamps[-1] - stamps[WARMUP - 1])
    return {"seconds": seconds, "img_s": rate, "loss": statistics.fmean(losses[-TAIL:])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/embedded/train/Ref", help="a folder of PNG images")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="the plain loop's DataLoader workers")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = ROOT / args.data
    variants = {
        "plain": lambda out, root, r: plain_loop(root, args.steps, out, args.workers, r),
        "ours": lambda out, root, r: ours(source, args.steps, out, r, compile=True),
        "ours_eager": lambda out, root, r: ours(source, args.steps, out, r, compile=False),
    }
    res: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        root = image_folder(out, source).parent
        plain_loop(root, WARMUP + 2, out, args.workers, 0)  # warm-up: imports, allocator, thread pools
        for r in range(args.repeats):
            for name, run in variants.items():
                res[name].append(run(out, root, r))
                print(f"repeat {r} {name}: " + ", ".join(f"{k} {v:.2f}" for k, v in res[name][-1].items()),
                      file=sys.stderr)

    def med(name: str, key: str) -> float:
        return round(statistics.median(x[key] for x in res[name]), 3)

    path = write_result(
        name="train_throughput", metric="steady-state training images/s", unit="img/s", value=med("ours", "img_s"),
        baseline=f"CompressAI examples/train.py loop (ImageFolder, {args.workers} workers)",
        baseline_value=med("plain", "img_s"), higher_is_better=True,
        command="python benchmarks/bench_train_throughput.py",
        setup=f"MeanScaleHyperprior N={N} M={M} from scratch, batch {BATCH}, patch {PATCH}, lambda {LMBDA}, "
              f"{args.steps} steps on {args.data} ({len(list(source.glob('*.png')))} PNGs), {args.repeats} "
              f"alternating repeats (seed = repeat), medians, steady state after {WARMUP} steps, CPU threads "
              f"{torch.get_num_threads()}; ours: decoded-image cache + torch.compile; ours_eager: cache only",
        ratio_ours_eager=round(med("ours_eager", "img_s") / med("plain", "img_s"), 3),
        end_to_end_seconds={k: [round(x["seconds"], 1) for x in v] for k, v in res.items()},
        img_s={k: [round(x["img_s"], 2) for x in v] for k, v in res.items()},
        loss_last_steps={k: [round(x["loss"], 3) for x in v] for k, v in res.items()},
        loss_check=f"mean training loss over the last {TAIL} steps, per repeat (seed = repeat)",
    )
    print(f"ours {med('ours', 'img_s')} img/s, eager {med('ours_eager', 'img_s')}, plain {med('plain', 'img_s')}"
          f" -> {path}")


if __name__ == "__main__":
    main()
