"""Training throughput of ``train.train_run`` against a plain loop like CompressAI's examples/train.py.

Same model (ScaleHyperprior N=64, M=96, from scratch), same in-memory data (64 smooth
random 128x128 images), batch 8, same number of steps, the baseline MSE loss. Both are
timed end to end: building the model, the steps, one checkpoint at the end (ours also
writes config.json, log.jsonl every step, done.json, and runs update(force=True) so that
the file is eval_model-loadable). The two alternate, a few repeats each; the medians
are compared (ratio = ours / plain, higher is better).

    python benchmarks/bench_train_throughput.py [--steps 60] [--repeats 3] [--threads T]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from jndlc_helpers import train  # noqa: E402

N, M, BATCH, PATCH, LMBDA = 64, 96, 8, 128, 0.0067


def make_data(n: int = 64, size: int = PATCH) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size // 8, size // 8, generator=g)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False).clamp(0, 1)


def plain_loop(x: torch.Tensor, steps: int, out: Path) -> float:
    """examples/train.py's train_one_epoch body; one torch.save at the end, no test pass."""
    from compressai.losses import RateDistortionLoss
    from compressai.models import ScaleHyperprior

    t0 = time.perf_counter()
    torch.manual_seed(0)
    net = ScaleHyperprior(N, M)
    parameters = {n for n, p in net.named_parameters() if not n.endswith(".quantiles") and p.requires_grad}
    aux_parameters = {n for n, p in net.named_parameters() if n.endswith(".quantiles") and p.requires_grad}
    params_dict = dict(net.named_parameters())
    optimizer = torch.optim.Adam((params_dict[n] for n in sorted(parameters)), lr=1e-4)
    aux_optimizer = torch.optim.Adam((params_dict[n] for n in sorted(aux_parameters)), lr=1e-3)
    lr_scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, "min")
    criterion = RateDistortionLoss(lmbda=LMBDA)
    loader = DataLoader(TensorDataset(x), batch_size=BATCH, shuffle=True, drop_last=True)
    net.train()
    step = 0
    while step < steps:
        for i, (d,) in enumerate(loader):
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
            if i % 10 == 0:  # examples/train.py prints every 10 batches
                _ = f"{out_criterion['loss'].item():.3f} {out_criterion['mse_loss'].item():.3f} {aux_loss.item():.2f}"
            step += 1
            if step >= steps:
                break
        lr_scheduler.step(out_criterion["loss"].item())
    torch.save({"epoch": 0, "state_dict": net.state_dict(), "optimizer": optimizer.state_dict(),
                "aux_optimizer": aux_optimizer.state_dict(), "lr_scheduler": lr_scheduler.state_dict()},
               out / "plain.pth.tar")
    return time.perf_counter() - t0


def ours(x: torch.Tensor, steps: int, out: Path, repeat: int) -> float:
    t0 = time.perf_counter()
    train.train_run(out / f"ours-{repeat}", loss="baseline", metric="mse", quality=3, lmbda=LMBDA,
                    dataset=TensorDataset(x, x), N=N, M=M, init="scratch", max_steps=steps, batch_size=BATCH,
                    device="cpu", checkpoint_every=10_000)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    x = make_data()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        plain_loop(x, 3, out)  # warm-up: imports, allocator, thread pools
        ours(x, 3, out, -1)
        t_plain, t_ours = [], []
        for r in range(args.repeats):
            t_plain.append(plain_loop(x, args.steps, out))
            t_ours.append(ours(x, args.steps, out, r))
            print(f"repeat {r}: plain {t_plain[-1]:.2f} s, ours {t_ours[-1]:.2f} s", file=sys.stderr)
    images = args.steps * BATCH
    value, base = images / statistics.median(t_ours), images / statistics.median(t_plain)
    path = write_result(
        name="train_throughput", metric="training images/s", unit="img/s", value=round(value, 3),
        baseline="plain loop like compressai examples/train.py", baseline_value=round(base, 3),
        higher_is_better=True,
        command="python benchmarks/bench_train_throughput.py" + (f" --threads {args.threads}" if args.threads else ""),
        setup=f"ScaleHyperprior N={N} M={M}, batch {BATCH}, patch {PATCH}, {args.steps} steps, "
              f"{args.repeats} alternating repeats, medians, CPU threads {torch.get_num_threads()}",
        seconds_ours=[round(t, 3) for t in t_ours], seconds_plain=[round(t, 3) for t in t_plain],
    )
    print(f"ours {value:.2f} img/s, plain {base:.2f} img/s, ratio {value / base:.3f} -> {path}")


if __name__ == "__main__":
    main()
