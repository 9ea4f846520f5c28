"""Grids, the pretrained control and our base models (``codec/grid.py``)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_train import TINY, log_lines, smooth_pairs, weights

from jndlc_helpers.codec import grid, train
from jndlc_helpers.codec.checkpoint import CHECKPOINT_NAME, load_checkpoint_dict


def test_pretrain_then_grid_with_controls(tmp_path):
    data = smooth_pairs()
    base = grid.pretrain(tmp_path / "base", ["mse"], [1], dataset=data, max_steps=2, **TINY)
    base_ckpt = base["baseline-mse-q1"]
    assert base_ckpt == tmp_path / "base" / "baseline-mse-q1" / CHECKPOINT_NAME

    runs = grid.run_grid(tmp_path / "runs", ["baseline-pretrained", "baseline", "iwl-hinge", "fwl"], ["mse"], [1],
                          dataset=data, init=tmp_path / "base", max_steps=2, features="nlpd", **TINY)
    assert sorted(runs) == ["baseline-mse-q1", "baseline-pretrained-mse-q1", "fwl-mse-q1", "iwl-hinge-mse-q1"]
    pre = load_checkpoint_dict(runs["baseline-pretrained-mse-q1"])
    assert pre["meta"]["method"] == "baseline-pretrained" and pre["meta"]["steps"] == 0
    assert all(torch.equal(pre["state_dict"][k], v) for k, v in weights(base_ckpt).items())
    fwl = load_checkpoint_dict(runs["fwl-mse-q1"])["meta"]
    assert fwl["features"] == "nlpd" and any("nlpd" in label for label in fwl["labels"])
    assert any("our extension" in label for label in load_checkpoint_dict(runs["iwl-hinge-mse-q1"])["meta"]["labels"])
    assert "feature_loss" in log_lines(tmp_path / "runs" / "fwl-mse-q1")[0]

    stamps = {k: p.stat().st_mtime_ns for k, p in runs.items()}
    again = grid.run_grid(tmp_path / "runs", ["baseline-pretrained", "baseline", "iwl-hinge", "fwl"], ["mse"],
                           [1], dataset=data, init=tmp_path / "base", max_steps=2, features="nlpd", **TINY)
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == stamps  # nothing redone


def test_pretrain_trains_one_model_from_scratch_and_warm_starts_the_rest(tmp_path):
    data = smooth_pairs(n=4, size=192)
    out = grid.pretrain(tmp_path / "base", ["mse", "ms-ssim"], [1, 3, 5, 6], anchor_quality=3, dataset=data,
                        max_steps=3, warm_steps=1, **{**TINY, "batch_size": 1})
    assert sorted(out) == sorted(f"baseline-{m}-q{q}" for m in ("mse", "ms-ssim") for q in (1, 3, 5, 6))

    def done(name):
        return json.loads((tmp_path / "base" / name / train.DONE_NAME).read_text())

    def init(name):
        return load_checkpoint_dict(out[name])["meta"]["init"]

    assert done("baseline-mse-q3")["steps"] == 3 and init("baseline-mse-q3")["init"] == "scratch"  # the anchor
    for name, source in (("baseline-mse-q1", "baseline-mse-q3"), ("baseline-mse-q5", "baseline-mse-q3"),
                         ("baseline-mse-q6", "baseline-mse-q5"),  # a chain: one lambda step at a time
                         ("baseline-ms-ssim-q1", "baseline-mse-q1"), ("baseline-ms-ssim-q6", "baseline-mse-q6")):
        assert done(name)["steps"] == 1
        assert init(name)["source"] == str(out[source]), name
    with pytest.raises(FileNotFoundError, match="baseline-mse-q2 starts from baseline-mse-q4"):
        grid.pretrain(tmp_path / "other", ["mse"], [2], anchor_quality=4, dataset=data, max_steps=1, **TINY)


def test_profile_kwargs_match_train_run():
    import inspect

    from jndlc_helpers import config

    params = inspect.signature(train.train_run).parameters
    for name in config.PROFILES:
        kw = grid.profile_kwargs(config.profile(name))
        assert set(kw) <= set(params), name
    quick = grid.profile_kwargs(config.profile("quick"))
    assert quick["init"] == "data/pretrained/quick-corpus" and quick["features"] == "nlpd" and quick["N"] == 64
    assert quick["unlabelled_root"] == "data/photos/unlabelled"
    assert grid.profile_kwargs(config.profile("paper"))["init"] == "zoo"


def test_pretrain_recipe_on_a_photo_folder_with_speed_settings(tmp_path, monkeypatch):
    from jndlc_helpers import config

    folder = tmp_path / "photos"
    folder.mkdir()
    x = smooth_pairs(n=3, size=192, seed=5).tensors[0]
    for i, img in enumerate(x):
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(folder / f"p{i}.png")
    recipe = {**config.PRETRAIN["smoke"], "N": 8, "M": 12, "qualities": [1, 2], "anchor_quality": 2, "steps": 3,
              "warm_steps": 2, "msssim_steps": 1, "batch_size": 2, "msssim_batch_size": 1, "lr_schedule": "cosine"}
    out = grid.pretrain_recipe(recipe, data=folder, out=tmp_path / "base", device="cpu", progress=False)
    assert sorted(out) == sorted(f"baseline-{m}-q{q}" for m in ("mse", "ms-ssim") for q in (1, 2))
    cfg = json.loads((tmp_path / "base" / "baseline-mse-q1" / train.CONFIG_NAME).read_text())["config"]
    assert cfg["unlabelled_root"] == "../../photos" and cfg["data_root"] is None and cfg["lr"] == recipe["warm_lr"]
    assert cfg["lr_schedule"] == "cosine"
    msssim = json.loads((tmp_path / "base" / "baseline-ms-ssim-q2" / train.CONFIG_NAME).read_text())["config"]
    assert msssim["patch_size"] == 192 and msssim["batch_size"] == 1

    run = train.train_run(tmp_path / "fast", loss="baseline", metric="mse", quality=1, unlabelled_root=folder,
                          patch_size=64, max_steps=2, channels_last=True, **TINY)
    session = json.loads((run.parent / train.CONFIG_NAME).read_text())["sessions"][-1]
    assert session["channels_last"] is True and session["compile"] is False


def test_grid_over_processes_matches_one_process(tmp_path):
    data = smooth_pairs()
    kw = dict(dataset=data, init="scratch", max_steps=2, **TINY)
    losses = ["baseline-pretrained", "baseline", "iwl-hinge"]
    serial = grid.run_grid(tmp_path / "serial", losses, ["mse"], [1, 2], **kw)
    finished = []
    spread = grid.run_grid(tmp_path / "spread", losses, ["mse"], [1, 2], workers=2, on_done=finished.append, **kw)
    assert list(spread) == list(serial) and sorted(finished) == sorted(serial)  # job order, whatever finished first
    for name in serial:
        if not name.startswith("baseline-pretrained"):
            one, two = log_lines(tmp_path / "serial" / name), log_lines(tmp_path / "spread" / name)
            assert [r["step"] for r in one] == [r["step"] for r in two]
            # each run seeded alone: only the threads' summation order differs
            assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=1e-4), name


def test_pretrain_warm_steps_per_quality(tmp_path):
    data = smooth_pairs(n=4, size=192)
    kw = dict(dataset=data, max_steps=2, anchor_quality=2, **{**TINY, "batch_size": 1})
    grid.pretrain(tmp_path, ["mse", "ms-ssim"], [1, 2], warm_steps={1: 3, "2": 1}, **kw)  # text keys: JSON overrides

    def steps(name):
        return json.loads((tmp_path / name / train.DONE_NAME).read_text())["steps"]

    assert [steps(n) for n in ("baseline-mse-q2", "baseline-mse-q1", "baseline-ms-ssim-q1", "baseline-ms-ssim-q2")] == [
        2, 3, 3, 1]
    with pytest.raises(KeyError, match="quality 3"):
        grid.pretrain(tmp_path, ["mse"], [2, 3], warm_steps={1: 3}, **kw)


TORCHRUN_SCRIPT = """
import os, sys, time
import torch.distributed as dist
from jndlc_helpers.codec import distributed, train

out, mode, rank = sys.argv[1], sys.argv[2], int(os.environ["RANK"])
inits, init = [], dist.init_process_group
dist.init_process_group = lambda *a, **kw: inits.append(1) or init(*a, **kw)

if mode == "fail":  # rank 0 fails inside rank0_first: the other rank must hear why at once
    r, world, _, owns = distributed.setup("cpu")
    try:
        with distributed.rank0_first(r, world):
            if r == 0:
                raise FileNotFoundError("no weights here")
    except Exception as e:
        print(f"rank {{r}} caught {{type(e).__name__}}: {{e}}", flush=True)
    time.sleep(3 if r == 0 else 0)  # rank 0 stays: its exit must not be what frees the other
    distributed.close(owns)
else:
    train.main(["grid", f"{{out}}/runs", "--losses", "baseline-pretrained", "baseline", "--metrics", "mse",
                "--qualities", "1", "--data-root", {data!r}, "--N", "8", "--M", "12", "--init", "scratch",
                "--max-steps", "2", "--batch-size", "2", "--patch-size", "64", "--device", "cpu"])
print(f"rank {{rank}} process groups created: {{len(inits)}}", flush=True)
"""


def test_torchrun_grid_of_two_runs_in_one_gloo_launch(tmp_path):
    import json
    import subprocess
    import sys
    import textwrap

    from test_train import write_pair_folder

    data = write_pair_folder(tmp_path / "data")
    script = tmp_path / "grid_run.py"
    script.write_text(textwrap.dedent(TORCHRUN_SCRIPT.format(data=str(data))))
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), os.environ.get("PYTHONPATH", "")])}
    out = {}
    for mode in ("fail", "grid"):  # one launch each: a process group per launch
        res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                              str(script), str(tmp_path), mode], capture_output=True, text=True, timeout=240,
                             cwd=repo, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        out[mode] = res.stdout
    assert "rank 0 caught FileNotFoundError: no weights here" in out["fail"]
    assert "rank 1 caught RankFailedError: rank 1: rank 0 failed first: FileNotFoundError: no weights here" in \
        out["fail"]
    out = out["grid"]
    # one process group for the whole grid; one process prints the grid's result
    assert "rank 0 process groups created: 1" in out and "rank 1 process groups created: 1" in out
    for name in ("baseline-pretrained-mse-q1", "baseline-mse-q1"):
        assert out.count(f"{name}\t") == 1, out
        assert (tmp_path / "runs" / name / "done.json").is_file()
    sessions = json.loads((tmp_path / "runs" / "baseline-mse-q1" / "config.json").read_text())["sessions"]
    assert [s["world_size"] for s in sessions] == [2]
