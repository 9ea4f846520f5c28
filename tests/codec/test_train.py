"""Training one run: learning, exact resume after a kill, NaN stop, finished runs, DDP, schedule, AMP, CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import TensorDataset

from jndlc_helpers.codec import cli, loader, models, optim, runlog, train
from jndlc_helpers.codec.checkpoint import CHECKPOINT_NAME, load_checkpoint_dict
from jndlc_helpers.codec.runconfig import RunConfig
from jndlc_helpers.codec.runfolder import CONFIG_NAME, DONE_NAME, LOG_NAME, RunConfigError

REPO = Path(__file__).resolve().parents[2]
TINY = dict(N=8, M=12, batch_size=2, progress=False, device="cpu")


def train_run(run_dir, dataset=None, callback=None, **settings) -> Path:
    """``train.train_run`` with ``settings`` as the run's RunConfig."""
    return train.train_run(run_dir, RunConfig(**settings), dataset=dataset, callback=callback)


def smooth_pairs(n: int = 6, size: int = 64, seed: int = 0) -> TensorDataset:
    """Smooth random images (x_o) and slightly noisy versions of them (x_j)."""
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(n, 3, size // 8, size // 8, generator=g), size=size, mode="bilinear",
                      align_corners=False)
    x_j = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return TensorDataset(x, x_j)


def log_lines(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / LOG_NAME).read_text().splitlines()]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint_dict(path)["state_dict"]


# ----------------------------------------------------------------------------- learning


def test_short_training_lowers_the_loss_and_compressai_evaluates_it(tmp_path):
    run = tmp_path / "baseline-mse-q6"
    ckpt = train_run(run, loss="baseline", distortion="mse", quality=6, dataset=smooth_pairs(), max_steps=25,
                     lr=2e-3, checkpoint_every=100, **TINY)
    log = log_lines(run)
    assert [r["step"] for r in log] == list(range(1, 26))
    assert {"loss", "bpp_loss", "mse_loss", "psnr", "distortion", "aux_loss", "lr", "seconds"} <= set(log[0])
    first = np.mean([r["loss"] for r in log[:5]])
    last = np.mean([r["loss"] for r in log[-5:]])
    assert last < 0.8 * first
    done = json.loads((run / DONE_NAME).read_text())
    assert done["steps"] == 25 and done["method"] == "baseline"
    config = json.loads((run / CONFIG_NAME).read_text())
    assert config["config"]["lambda"] == 0.0483 and config["versions"]["compressai"] == "1.2.8"
    assert config["sessions"][0]["device"] == "cpu"

    images = tmp_path / "images"
    images.mkdir()
    x = smooth_pairs(2, 192, seed=5).tensors[0]
    for i, img in enumerate(x):  # eval_model computes MS-SSIM too: > 160 px
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(images / f"{i}.png")
    res = subprocess.run([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(images),
                          "-a", models.COMPRESSAI_ARCH["scale-hyperprior"], "-p", str(ckpt)],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr[-2000:]
    results = json.loads(res.stdout[res.stdout.index("{"):])["results"]
    assert results["bpp"][0] > 0 and results["psnr-rgb"][0] > 10


# ----------------------------------------------------------------------------- resume


class Killed(Exception):
    pass


def test_resume_after_a_kill_is_exact(tmp_path):
    cfg = dict(loss="iwl", distortion="mse", quality=3, max_steps=5, checkpoint_every=2, **TINY)
    # 6 pairs, batch 2: 3 steps per epoch -- resume mid-epoch, then cross an epoch boundary
    whole = train_run(tmp_path / "whole", dataset=smooth_pairs(), **cfg)

    def kill_after_step_3(step, model, record):
        if step == 3:
            raise Killed

    run = tmp_path / "killed"
    with pytest.raises(Killed):
        train_run(run, dataset=smooth_pairs(), callback=kill_after_step_3, **cfg)
    assert load_checkpoint_dict(run / CHECKPOINT_NAME)["step"] == 2
    assert not (run / DONE_NAME).exists()

    resumed = train_run(run, dataset=smooth_pairs(), **cfg)
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in r.items() if k != "seconds"} for r in log_lines(tmp_path / "whole")]
    assert strip == [{k: v for k, v in r.items() if k != "seconds"} for r in log_lines(run)]
    ck_a, ck_b = load_checkpoint_dict(whole), load_checkpoint_dict(resumed)
    assert ck_a["lr_scheduler"] == ck_b["lr_scheduler"] and ck_b["step"] == 5
    assert len(json.loads((run / CONFIG_NAME).read_text())["sessions"]) == 2


def test_finished_run_is_not_redone(tmp_path):
    cfg = dict(loss="baseline", distortion="mse", quality=1, max_steps=2, dataset=smooth_pairs(), **TINY)
    ckpt = train_run(tmp_path / "r", **cfg)
    stamp, log = ckpt.stat().st_mtime_ns, (tmp_path / "r" / LOG_NAME).read_text()
    assert train_run(tmp_path / "r", **cfg) == ckpt
    assert ckpt.stat().st_mtime_ns == stamp and (tmp_path / "r" / LOG_NAME).read_text() == log
    with pytest.raises(RunConfigError, match="lr: 0.0001 -> 0.001"):
        train_run(tmp_path / "r", **{**cfg, "lr": 1e-3})
    train_run(tmp_path / "r", overwrite=True, **{**cfg, "lr": 1e-3})
    assert load_checkpoint_dict(ckpt)["meta"]["complete"] is True


def test_a_larger_budget_extends_a_finished_run(tmp_path):
    cfg = dict(loss="baseline", distortion="mse", quality=2, dataset=smooth_pairs(), checkpoint_every=1, **TINY)
    longer = train_run(tmp_path / "five", max_steps=5, **cfg)
    extended = train_run(tmp_path / "three", max_steps=3, **cfg)
    assert load_checkpoint_dict(extended)["step"] == 3
    train_run(tmp_path / "three", max_steps=5, **cfg)
    a, b = weights(longer), weights(extended)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((tmp_path / "three" / DONE_NAME).read_text())["steps"] == 5


def test_stripped_checkpoint_loads_but_refuses_to_resume(tmp_path):
    from jndlc_helpers.codec.checkpoint import strip_training_state

    cfg = dict(loss="baseline", distortion="mse", quality=2, dataset=smooth_pairs(), **TINY)
    ckpt = train_run(tmp_path / "r", max_steps=2, **cfg)
    before = ckpt.stat().st_size
    strip_training_state(ckpt)
    assert ckpt.stat().st_size < before and load_checkpoint_dict(ckpt)["optimizer"] is None
    model, meta = models.load_checkpoint(ckpt)
    assert meta["training_state"] == "stripped" and not model.training
    assert train_run(tmp_path / "r", max_steps=2, **cfg) == ckpt  # finished: nothing to resume
    with pytest.raises(RunConfigError, match="stripped"):
        train_run(tmp_path / "r", max_steps=3, **cfg)


def test_iwl_fine_tuning_is_baseline_fine_tuning(tmp_path):
    """Eq. 7 only shifts the loss by a constant: same seed, same data, same weights."""
    cfg = dict(distortion="mse", quality=3, dataset=smooth_pairs(), max_steps=4, **TINY)
    base = weights(train_run(tmp_path / "baseline", loss="baseline", **cfg))
    iwl = weights(train_run(tmp_path / "iwl", loss="iwl", **cfg))
    assert all(torch.equal(base[k], iwl[k]) for k in base)
    pwl = weights(train_run(tmp_path / "pwl", loss="pwl", **cfg))
    assert not all(torch.equal(base[k], pwl[k]) for k in base)  # a loss that does change training


class RandomFlips(torch.utils.data.Dataset):
    """``smooth_pairs`` flipped at random from torch's global RNG, as the folder datasets crop."""

    def __init__(self):
        self.pairs = smooth_pairs()

    def __len__(self):
        return len(self.pairs)

    def __getitem__(self, i):
        x_o, x_j = self.pairs[i]
        return (x_o.flip(-1), x_j.flip(-1)) if torch.rand(()) < 0.5 else (x_o, x_j)


def test_every_loss_of_a_seed_sees_its_controls_crops_and_noise(tmp_path, monkeypatch):
    """Common random numbers: a feature extractor's random initialisation must not shift
    the crops and the quantisation noise away from the control's, or a loss's effect
    would carry the noise of another draw."""
    monkeypatch.setattr(train, "_features", lambda *a: torch.nn.Conv2d(3, 4, 3).requires_grad_(False))
    cfg = dict(distortion="mse", quality=3, dataset=RandomFlips(), max_steps=3, seed=5, **TINY)
    train_run(tmp_path / "baseline", loss="baseline", **cfg)
    train_run(tmp_path / "fwl", loss="fwl", **cfg)
    base, fwl = log_lines(tmp_path / "baseline"), log_lines(tmp_path / "fwl")
    assert base[0]["bpp_loss"] == fwl[0]["bpp_loss"]  # the first forward pass precedes any update
    assert base[0]["mse_loss"] == fwl[0]["mse_loss"]
    other = tmp_path / "baseline-seed6"
    train_run(other, loss="baseline", **{**cfg, "seed": 6})
    assert log_lines(other)[0]["bpp_loss"] != base[0]["bpp_loss"]  # another seed, another draw


# ----------------------------------------------------------------------------- NaN


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    make_loss = train.losses.make_loss

    class PoisonedAtCall4(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.calls = inner, 0

        def forward(self, out_net, x_o, x_j):
            out = self.inner(out_net, x_o, x_j)
            self.calls += 1
            if self.calls == 4:
                out["loss"] = out["loss"] * float("nan")
            return out

    monkeypatch.setattr(train.losses, "make_loss", lambda *a, **k: PoisonedAtCall4(make_loss(*a, **k)))
    run = tmp_path / "baseline-mse-q2"
    with pytest.raises(train.NonFiniteLossError, match=r"run baseline-mse-q2 .*loss is nan at step 4"):
        train_run(run, loss="baseline", distortion="mse", quality=2, dataset=smooth_pairs(), max_steps=6,
                  checkpoint_every=2, **TINY)
    assert not (run / DONE_NAME).exists()
    model, meta = models.load_checkpoint(run / CHECKPOINT_NAME)
    assert meta["steps"] == 2 and meta["complete"] is False
    assert all(torch.isfinite(p).all() for p in model.parameters())


# ----------------------------------------------------------------------------- checks


def test_patch_size_checks_name_the_parameter():
    with pytest.raises(ValueError, match="patch_size=128 px is too small for MS-SSIM"):
        train_run("unused", loss="iwl", distortion="ms-ssim", quality=1, data_root="unused", patch_size=128,
                  max_steps=1)
    with pytest.raises(ValueError, match="patch_size=100 px: must be a multiple of 64"):
        train_run("unused", loss="iwl", distortion="mse", quality=1, data_root="unused", patch_size=100,
                  max_steps=1)
    with pytest.raises(ValueError, match="training images of 64 px .*patch_size >= 192"):
        train_run("unused", loss="iwl", distortion="ms-ssim", quality=1, dataset=smooth_pairs(),
                  max_steps=1, **TINY)
    with pytest.raises(ValueError, match="budget"):
        train_run("unused", loss="iwl", distortion="mse", quality=1, dataset=smooth_pairs())


# ----------------------------------------------------------------------------- controls, grid, base models


def write_pair_folder(root: Path, n: int = 4, size: int = 64) -> Path:
    x, x_j = smooth_pairs(n, size, seed=3).tensors
    for sub, imgs in (("Ref", x), ("JND1", x_j)):
        (root / "train" / sub).mkdir(parents=True)
        for i, img in enumerate(imgs):
            arr = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            Image.fromarray(arr).save(root / "train" / sub / f"img{i}.png")
    return root


def test_cli_run_on_a_folder(tmp_path, capsys):
    pytest.importorskip("jndlc_helpers.data.pairs")
    root = write_pair_folder(tmp_path / "data")
    rc = cli.main(["run", str(tmp_path / "runs" / "pwl-mse-q1"), "--loss", "pwl", "--distortion", "mse",
                     "--quality", "1", "--data-root", str(root), "--N", "8", "--M", "12", "--max-steps", "2",
                     "--batch-size", "2", "--patch-size", "64", "--device", "cpu", "--no-progress",
                     "--decode-cache", str(tmp_path / "decoded")])
    assert rc == 0 and len(list((tmp_path / "decoded").glob("*.npy"))) == 8  # 4 pairs, decoded once
    ckpt = Path(capsys.readouterr().out.strip().splitlines()[-1])
    meta = load_checkpoint_dict(ckpt)["meta"]
    assert meta["loss"] == "pwl" and meta["patch_size"] == 64
    assert meta["data"] == "../../data"  # outside the repository: relative to the run folder


def test_cli_grid_trains_runs_side_by_side(tmp_path, monkeypatch, capsys):
    from jndlc_helpers.codec import grid

    seen = []
    monkeypatch.setattr(grid, "run_grid", lambda *a, workers=1, **kw: seen.append(workers) or {})
    args = ["grid", str(tmp_path), "--losses", "baseline", "--distortions", "mse", "--qualities", "1", "--device", "cpu",
            "--max-steps", "1"]
    assert cli.main(args + ["--parallel-runs", "3"]) == 0 and cli.main(args) == 0
    assert seen == [3, os.cpu_count() or 1]  # default: one per core on a CPU
    with pytest.raises(SystemExit, match="error: parallel_runs"):
        cli.main(args + ["--parallel-runs", "0"])


# ----------------------------------------------------------------------------- DDP


DDP_SCRIPT = """
import os, sys, torch
sys.path.insert(0, {tests!r})
from test_train import smooth_pairs
from jndlc_helpers.codec import train
from jndlc_helpers.codec.runconfig import RunConfig

out = sys.argv[1]
rank = int(os.environ["RANK"])

def keep(step, model, record):
    if step == 3:
        torch.save({{k: v.detach().clone() for k, v in model.state_dict().items()}}, f"{{out}}/rank{{rank}}.pt")

train.train_run(f"{{out}}/run", RunConfig(loss="iwl", distortion="mse", quality=1, N=8, M=12, max_steps=3,
                batch_size=4, checkpoint_every=2, progress=False, device="cpu"), dataset=smooth_pairs(8),
                callback=keep)
"""


def test_ddp_two_processes_on_gloo(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(tests=str(Path(__file__).parent))))
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(script), str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    assert res.returncode == 0, res.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # the two replicas stayed identical
    saved = load_checkpoint_dict(tmp_path / "run" / CHECKPOINT_NAME)
    assert saved["step"] == 3 and saved["meta"]["complete"]
    assert json.loads((tmp_path / "run" / CONFIG_NAME).read_text())["sessions"][0]["world_size"] == 2
    for k, v in r0.items():
        if not k.endswith(("_quantized_cdf", "_offset", "_cdf_length", "scale_table")):  # set by update()
            assert torch.equal(saved["state_dict"][k], v), k  # rank 0 wrote its weights
    assert not list(tmp_path.glob("run/*.tmp"))


# ----------------------------------------------------------------------------- schedule, AMP, recipe


def test_cosine_schedule_warms_up_then_decays_to_its_floor():
    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-3)
    sched = optim.make_scheduler(opt, "cosine", total_steps=2000)
    lrs = []
    for _ in range(2000):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    warm = min(optim.COSINE_WARMUP_STEPS, 2000 // 20)
    assert lrs[0] == pytest.approx(1e-3 / warm) and lrs[warm] == pytest.approx(1e-3, rel=1e-3)
    assert all(a >= b for a, b in zip(lrs[warm:], lrs[warm + 1:]))  # never rises after the warm-up
    assert lrs[-1] == pytest.approx(1e-3 * optim.COSINE_FINAL_FRACTION, rel=0.05)
    assert isinstance(optim.make_scheduler(opt, "plateau", 10), torch.optim.lr_scheduler.ReduceLROnPlateau)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_run("unused", loss="baseline", distortion="mse", quality=1, dataset=smooth_pairs(), max_steps=1,
                  lr_schedule="linear")


def test_bf16_autocast_training_on_cpu_is_finite_and_close_to_float32(tmp_path):
    kw = dict(loss="baseline", distortion="mse", quality=3, dataset=smooth_pairs(), max_steps=4, seed=1, **TINY)
    train_run(tmp_path / "fp32", **kw)
    train_run(tmp_path / "bf16", amp=True, **kw)
    fp32, bf16 = log_lines(tmp_path / "fp32"), log_lines(tmp_path / "bf16")
    for a, b in zip(fp32, bf16):
        assert np.isfinite(b["loss"]) and np.isfinite(b["bpp_loss"])
        assert b["bpp_loss"] == pytest.approx(a["bpp_loss"], rel=0.1)
        assert b["loss"] == pytest.approx(a["loss"], rel=0.1)


def test_fine_tuning_data_mixes_jnd_pairs_1_to_1_with_the_committed_unlabelled_photos(make_pairs):
    from jndlc_helpers.data import corpus, embedded

    root = make_pairs(["a", "b", "c"], size=(128, 160))
    data = loader.build_dataset(root, REPO / corpus.UNLABELLED_DIR, patch_size=128, seed=0)
    assert (data.n_labelled, data.n_unlabelled) == (3, 3)  # as many unlabelled as labelled (Sec. 2.4)
    for i in range(len(data)):
        x_o, x_j = data[i]
        assert x_o.shape == (3, 128, 128)
        assert torch.equal(x_o, x_j) == (i >= 3)  # an unlabelled image is its own JND image
    n_train = sum(s.split == "train" for s in embedded.embedded_images())
    assert len(list((REPO / corpus.UNLABELLED_DIR).glob("*.png"))) >= n_train  # enough for the quick set


def test_cli_bad_data_root_is_one_line_naming_it(tmp_path, capsys):
    missing = tmp_path / "MISSING"
    with pytest.raises(SystemExit) as e:
        cli.main(["run", str(tmp_path / "runs" / "r"), "--loss", "baseline", "--distortion", "mse", "--quality", "1",
                    "--data-root", str(missing), "--max-steps", "1", "--init", "scratch", "--device", "cpu",
                    "--no-progress"])
    msg = str(e.value.code)
    assert msg.startswith("error: ") and str(missing) in msg and "\n" not in msg


def test_resume_on_a_run_whose_device_is_not_the_cpu_is_exact(tmp_path, monkeypatch):
    """As on a GPU: the run's device is not where the checkpoint's RNG states can live
    (simulated with the meta device while the checkpoint is read back)."""
    cfg = dict(loss="baseline", distortion="mse", quality=2, max_steps=4, checkpoint_every=2, **TINY)
    whole = train_run(tmp_path / "whole", dataset=smooth_pairs(), **cfg)

    def kill_after_step_3(step, model, record):
        if step == 3:
            raise Killed

    with pytest.raises(Killed):
        train_run(tmp_path / "killed", dataset=smooth_pairs(), callback=kill_after_step_3, **cfg)
    resume = train._resume

    def on_another_device(run, cfg_, digest):
        run.dev = torch.device("meta")
        resume(run, cfg_, digest)
        run.dev = torch.device("cpu")

    monkeypatch.setattr(train, "_resume", on_another_device)
    resumed = train_run(tmp_path / "killed", dataset=smooth_pairs(), **cfg)
    a, b = weights(whole), weights(resumed)
    assert all(torch.equal(a[k], b[k]) for k in a)


class _WhoLoads(torch.utils.data.Dataset):
    """Items say which worker process loaded them and with what torch seed."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, i: int):
        return torch.tensor([os.getpid(), torch.initial_seed() % 2**31, i])


def _loader_run(rank: int, world: int = 2, workers: int = 1):
    return dict(world=world, rank=rank, seed=0, local_batch=2, drop_last=True, num_workers=workers, pin_memory=False)


def test_each_rank_draws_its_own_crops_and_workers_persist_over_epochs():
    seen = {}
    for rank in (0, 1):
        data = loader.make_loader(_WhoLoads(), **_loader_run(rank))
        seen[rank] = [torch.cat(list(loader.batches(data, 0, epoch, 0, rank))) for epoch in (0, 1)]
    pid, worker_seed = {r: {int(v) for e in seen[r] for v in e[:, 0]} for r in seen}, \
        {r: {int(v) for v in seen[r][0][:, 1]} for r in seen}
    assert worker_seed[0].isdisjoint(worker_seed[1])  # the ranks' workers are seeded apart
    assert len(pid[0]) == 1 and len(pid[1]) == 1  # one worker process for both epochs: its cache stays
    idx = {r: [set(e[:, 2].tolist()) for e in seen[r]] for r in seen}
    assert idx[0][0].isdisjoint(idx[1][0]) and len(idx[0][0] | idx[1][0]) == 8  # the data split over ranks
    data = loader.make_loader(_WhoLoads(), **_loader_run(0, world=1, workers=0))
    assert [int(v) for v in torch.cat(list(loader.batches(data, 0, 0, 3, 0)))[:, 2]] == \
        [int(v) for v in torch.cat(list(loader.batches(data, 0, 0, 0, 0)))[6:, 2]]  # a resume skips batches


def test_bf16_amp_keeps_latents_means_scales_and_context_in_float32(tmp_path):
    parts = ("g_a", "h_a", "h_s", "context_prediction", "entropy_parameters", "g_s")
    seen: dict[str, torch.dtype] = {}

    def watch(step, model, record):
        if step == 1:  # the next step's forward passes are recorded
            for name in parts:
                getattr(model, name).register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.dtype))
            model.gaussian_conditional.register_forward_pre_hook(
                lambda m, args, kwargs: seen.update(y=args[0].dtype, scales=args[1].dtype,
                                                    means=kwargs["means"].dtype), with_kwargs=True)

    train_run(tmp_path / "r", loss="baseline", distortion="mse", quality=1, dataset=smooth_pairs(4),
              architecture="cheng2020-attn", N=16, init="scratch", max_steps=2, amp=True, batch_size=2,
                    progress=False, device="cpu", callback=watch)
    assert seen["g_s"] == torch.bfloat16  # the autocast still runs the transforms' bulk in bf16
    assert {k: v for k, v in seen.items() if k != "g_s"} == {
        k: torch.float32 for k in ("g_a", "h_a", "h_s", "context_prediction", "entropy_parameters", "y", "scales",
                                   "means")}


def test_tensorboard_scalars_beside_the_log(tmp_path, monkeypatch):
    written: list[tuple[str, float, int]] = []

    class Board:
        def __init__(self, folder):
            self.folder = folder

        def add_scalar(self, tag, value, step):
            written.append((tag, value, step))

        def flush(self):
            pass

        def close(self):
            written.append(("closed", 0.0, 0))

    monkeypatch.setattr(runlog, "tensorboard_writer", Board)
    run = tmp_path / "r"
    train_run(run, loss="baseline", distortion="mse", quality=1, dataset=smooth_pairs(4), max_steps=3,
              tensorboard=True, **TINY)
    log = log_lines(run)
    assert [(t, v, s) for t, v, s in written if t == "train/loss"] == [("train/loss", r["loss"], r["step"])
                                                                        for r in log]
    assert {"train/bpp_loss", "train/mse_loss", "train/lr", "train/aux_loss"} <= {t for t, _, _ in written}
    assert written[-1][0] == "closed"


def test_tensorboard_without_the_package_says_how_to_get_it(tmp_path):
    try:
        import tensorboard  # noqa: F401
        pytest.skip("tensorboard is installed here")
    except ImportError:
        pass
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'jndlc\[tensorboard\]'"):
        train_run(tmp_path / "r", loss="baseline", distortion="mse", quality=1, dataset=smooth_pairs(4),
                  max_steps=1, tensorboard=True, **TINY)
