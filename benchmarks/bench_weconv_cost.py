"""What the WeConv blocks cost: the WeConv mean-scale hyperprior against the plain one.

Both at the base-model size (N=64, M=96), from scratch, take the base-model recipe's
training step (``config.PRETRAIN["quick"]``: batch 8 of 128 px crops of the quick
profile's unlabelled photographs, the baseline MSE loss at the anchor's lambda, Adam
4e-4 and the aux Adam, clipping; eager) on the same batches, step by step in turn (who
goes first alternates), so that both see the same load of a shared machine: ``--steps``
timed steps each after ``--warmup``, with one torch thread (as the grid's runs), then
with two (``--steps ONE TWO``: two threads crawl on an oversubscribed machine). Beside
it: parameter counts, and the encode and decode times of one 512 px test photograph (the
evaluator's real bitstreams, round trip checked, best of ``--repeats``, one thread) with
the models as these steps left them: *briefly trained* weights, not a trained codec
(entropy coding's time follows the latents' statistics). Read the ratios.

    python benchmarks/bench_weconv_cost.py [--steps 50 [50]] [--warmup 5] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from common import write_result

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from jndlc_helpers import config  # noqa: E402
from jndlc_helpers.codec import loader, losses, models, optim  # noqa: E402
from jndlc_helpers.evaluation.evaluate import code_image, to_tensor  # noqa: E402
from jndlc_helpers.files import load_rgb  # noqa: E402
from jndlc_helpers.vocab import WECONV  # noqa: E402

PLAIN = "mean-scale-hyperprior"
ARCHS = (PLAIN, WECONV)
DATA = ROOT / "data" / "photos" / "unlabelled"
TEST_IMAGE = ROOT / "data" / "photos" / "bridge_512.png"  # a test image of the embedded set


class Trainer:
    """One model with the recipe's optimisers and loss; ``step`` times one training step."""

    def __init__(self, architecture: str, recipe: dict) -> None:
        q = recipe["anchor_quality"]
        self.model = models.build_model(architecture, q, "mse", recipe["N"], recipe["M"], pretrained="scratch")
        self.optimizer, self.aux_optimizer = optim.configure_optimizers(self.model, recipe["lr"])
        self.criterion = losses.make_loss("baseline", "mse", config.lambda_for("mse", q))

    def step(self, x: torch.Tensor) -> float:
        t0 = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        self.aux_optimizer.zero_grad(set_to_none=True)
        self.criterion(self.model(x), x, x)["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.model.aux_loss().backward()
        self.aux_optimizer.step()
        return time.perf_counter() - t0


def batches(n: int, batch_size: int, patch: int, seed: int) -> list[torch.Tensor]:
    """``n`` batches of random crops of the unlabelled photographs, the same for both models."""
    dataset = loader.build_dataset(None, DATA, patch, seed)
    g = torch.Generator().manual_seed(seed)
    return [torch.stack([dataset[int(i)][0] for i in torch.randint(len(dataset), (batch_size,), generator=g)])
            for _ in range(n)]


def timed_steps(trainers: dict[str, Trainer], data: list[torch.Tensor], warmup: int) -> dict[str, float]:
    """Median seconds per step of each trainer after ``warmup``, the two taking turns."""
    times: dict[str, list[float]] = {a: [] for a in trainers}
    for i, x in enumerate(data):
        for arch in (ARCHS if i % 2 == 0 else ARCHS[::-1]):
            t = trainers[arch].step(x)
            if i >= warmup:
                times[arch].append(t)
    return {a: statistics.median(ts) for a, ts in times.items()}


def coding_seconds(model: torch.nn.Module, repeats: int) -> dict:
    """Best-of-``repeats`` encode and decode seconds of the test image (round trip checked)."""
    model = model.eval()
    model.update(force=True)
    x = to_tensor(load_rgb(TEST_IMAGE))
    runs = [code_image(model, x) for _ in range(repeats)]
    return {"enc_s": round(min(r["enc_s"] for r in runs), 4), "dec_s": round(min(r["dec_s"] for r in runs), 4),
            "bpp": round(runs[0]["bpp"], 4), "size": list(x.shape[-2:])}


def parameters(model: torch.nn.Module) -> dict[str, int]:
    """Parameter counts: all, the transforms (g_a, g_s, h_a, h_s) and the entropy models."""
    total = sum(p.numel() for p in model.parameters())
    transforms = sum(p.numel() for n in ("g_a", "g_s", "h_a", "h_s") for p in getattr(model, n).parameters())
    return {"total": total, "transforms": transforms, "entropy_models": total - transforms}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[50], help="timed steps (one thread, two threads)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    recipe = config.PRETRAIN["quick"]
    torch.manual_seed(recipe["seed"])
    trainers = {arch: Trainer(arch, recipe) for arch in ARCHS}
    params = {arch: parameters(t.model) for arch, t in trainers.items()}
    steps = dict(zip((1, 2), args.steps * 2 if len(args.steps) == 1 else args.steps))
    data = batches(args.warmup + max(steps.values()), recipe["batch_size"], recipe["patch_size"], recipe["seed"])
    entries = []
    for threads, n in steps.items():
        torch.set_num_threads(threads)
        s = timed_steps(trainers, data[:args.warmup + n], args.warmup)
        entries.append({"threads": threads, "steps": n, "plain_s_per_step": round(s[PLAIN], 4),
                        "weconv_s_per_step": round(s[WECONV], 4), "ratio": round(s[WECONV] / s[PLAIN], 3)})
        print(entries[-1], flush=True)
    torch.set_num_threads(1)
    coding = {arch: coding_seconds(t.model, args.repeats) for arch, t in trainers.items()}
    one = entries[0]
    write_result(
        "weconv_cost",
        metric=f"seconds per training step of the WeConv mean-scale hyperprior (N={recipe['N']}, M={recipe['M']}), "
               f"batch {recipe['batch_size']} at {recipe['patch_size']} px, one thread, eager (median)",
        unit="s", value=one["weconv_s_per_step"],
        baseline=f"the plain mean-scale hyperprior (N={recipe['N']}, M={recipe['M']}), the same batches, "
                 "steps taken in turn in the same process",
        baseline_value=one["plain_s_per_step"], higher_is_better=False,
        command=f"python benchmarks/bench_weconv_cost.py --steps {' '.join(map(str, args.steps))} "
                f"--warmup {args.warmup} --repeats {args.repeats}",
        entries=entries,
        parameters={**params, "ratio": round(params[WECONV]["total"] / params[PLAIN]["total"], 3)},
        coding={"image": str(TEST_IMAGE.relative_to(ROOT)), "threads": 1,
                "weights": f"briefly trained ({sum(args.warmup + n for n in steps.values())} steps from scratch): "
                           "not a trained codec",
                **coding, "enc_ratio": round(coding[WECONV]["enc_s"] / coding[PLAIN]["enc_s"], 3),
                "dec_ratio": round(coding[WECONV]["dec_s"] / coding[PLAIN]["dec_s"], 3)},
        note="timed with the machine's other work running (a shared 2-core CPU, load average above 10 at times); "
             "the ratios, measured step by step in turn, are the numbers to read",
    )


if __name__ == "__main__":
    main()
