"""Training throughput of ``train.train_run`` against CompressAI's examples/train.py loop.

Both train the same model (the quick profile's mean-scale hyperprior N=64, M=96, from
scratch) on the same image folder (the embedded JND set's training originals, PNG),
batch 8, 128 px random crops, the same thread count, the baseline MSE loss. The plain
loop is examples/train.py's: ``compressai.datasets.ImageFolder`` with RandomCrop and
ToTensor (each image decoded at every step), DataLoader workers, Adam + aux Adam,
clipping, one checkpoint at the end. Ours runs as the quick profile's training does:
decoded images cached in memory, ``torch.compile``, config/log/checkpoint files. Both
are timed end to end (compilation included) and alternate; medians are compared
(ratio = ours / plain images per second, higher is better). The loss is compared too:
the mean training loss of the last 20 steps of each run (same seed; crops and order
differ between the two loaders, so the check is "within the spread of repeats").

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
from jndlc_helpers import train  # noqa: E402

N, M, BATCH, PATCH, LMBDA = 64, 96, 8, 128, 0.0130
TAIL = 20  # steps whose mean loss is compared


def image_folder(tmp: Path, source: Path) -> Path:
    """``tmp/images/train/*.png`` linking to ``source``'s images (ImageFolder's layout)."""
    split = tmp / "images" / "train"
    split.mkdir(parents=True)
    for p in sorted(source.glob("*.png")):
        (split / p.name).symlink_to(p.resolve())
    return split


def plain_loop(root: Path, steps: int, out: Path, workers: int) -> tuple[float, float]:
    """examples/train.py's train_one_epoch body; (seconds, mean loss of the last TAIL steps)."""
    from compressai.datasets import ImageFolder
    from compressai.losses import RateDistortionLoss
    from compressai.models import MeanScaleHyperprior
    from torch.utils.data import DataLoader
    from torchvision import transforms

    t0 = time.perf_counter()
    torch.manual_seed(0)
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
    step, losses = 0, []
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
            step += 1
            if step >= steps:
                break
        lr_scheduler.step(out_criterion["loss"].item())
    torch.save({"epoch": 0, "state_dict": net.state_dict(), "optimizer": optimizer.state_dict(),
                "aux_optimizer": aux_optimizer.state_dict(), "lr_scheduler": lr_scheduler.state_dict()},
               out / "plain.pth.tar")
    return time.perf_counter() - t0, statistics.fmean(losses[-TAIL:])


def ours(folder: Path, steps: int, out: Path, repeat: int, compile: bool) -> tuple[float, float]:
    t0 = time.perf_counter()
    run = out / f"ours-{repeat}"
    train.train_run(run, loss="baseline", metric="mse", quality=4, lmbda=LMBDA, unlabelled_root=folder,
                    architecture="mean-scale-hyperprior", N=N, M=M, init="scratch", max_steps=steps,
                    batch_size=BATCH, patch_size=PATCH, device="cpu", checkpoint_every=10_000, compile=compile,
                    progress=False)
    seconds = time.perf_counter() - t0
    log = [json.loads(line)["loss"] for line in (run / train.LOG_NAME).read_text().splitlines()]
    return seconds, statistics.fmean(log[-TAIL:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="data/embedded/train/Ref", help="a folder of PNG images")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2, help="the plain loop's DataLoader workers")
    ap.add_argument("--no-compile", action="store_true", help="ours without torch.compile")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    source = ROOT / args.data
    compile = not args.no_compile
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        root = image_folder(out, source).parent
        plain_loop(root, 3, out, args.workers)  # warm-up: imports, allocator, thread pools
        ours(source, 3, out, -1, compile=False)
        t_plain, t_ours, l_plain, l_ours = [], [], [], []
        for r in range(args.repeats):
            t, loss = plain_loop(root, args.steps, out, args.workers)
            t_plain.append(t), l_plain.append(loss)
            t, loss = ours(source, args.steps, out, r, compile)
            t_ours.append(t), l_ours.append(loss)
            print(f"repeat {r}: plain {t_plain[-1]:.1f} s (loss {l_plain[-1]:.2f}), ours {t_ours[-1]:.1f} s "
                  f"(loss {l_ours[-1]:.2f})", file=sys.stderr)
    images = args.steps * BATCH
    value, base = images / statistics.median(t_ours), images / statistics.median(t_plain)
    path = write_result(
        name="train_throughput", metric="training images/s", unit="img/s", value=round(value, 3),
        baseline=f"CompressAI examples/train.py loop (ImageFolder, {args.workers} workers)",
        baseline_value=round(base, 3), higher_is_better=True,
        command="python benchmarks/bench_train_throughput.py" + (" --no-compile" if args.no_compile else ""),
        setup=f"MeanScaleHyperprior N={N} M={M} from scratch, batch {BATCH}, patch {PATCH}, lambda {LMBDA}, "
              f"{args.steps} steps on {args.data} ({len(list(source.glob('*.png')))} PNGs), {args.repeats} "
              f"alternating repeats, medians, end to end, CPU threads {torch.get_num_threads()}; ours: image "
              f"cache{', torch.compile' if compile else ''}",
        seconds_ours=[round(t, 2) for t in t_ours], seconds_plain=[round(t, 2) for t in t_plain],
        loss_last_steps_ours=[round(v, 3) for v in l_ours], loss_last_steps_plain=[round(v, 3) for v in l_plain],
        loss_check=f"mean training loss over the last {TAIL} steps, per repeat",
    )
    print(f"ours {value:.2f} img/s, plain {base:.2f} img/s, ratio {value / base:.3f} -> {path}")


if __name__ == "__main__":
    main()
