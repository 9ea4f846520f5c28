"""Grids and the pretrained control (``codec/grid.py``)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from test_train import TINY, log_lines, smooth_pairs, weights

from jndlc_helpers.codec import grid, pretrain
from jndlc_helpers.codec.checkpoint import CHECKPOINT_NAME, load_checkpoint_dict
from jndlc_helpers.codec.runconfig import RunConfig


def test_pretrain_then_grid_with_controls(tmp_path):
    data = smooth_pairs()
    base = pretrain.pretrain(tmp_path / "base", ["mse"], [1], RunConfig(max_steps=2, **TINY), dataset=data)
    base_ckpt = base["baseline-mse-q1"]
    assert base_ckpt == tmp_path / "base" / "baseline-mse-q1" / CHECKPOINT_NAME

    cfg = RunConfig(init=tmp_path / "base", max_steps=2, features="nlpd", **TINY)
    runs = grid.run_grid(tmp_path / "runs", ["baseline-pretrained", "baseline", "iwl-hinge", "fwl"], ["mse"], [1],
                         cfg, dataset=data)
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
                          [1], cfg, dataset=data)
    assert {k: p.stat().st_mtime_ns for k, p in again.items()} == stamps  # nothing redone


def test_grid_over_processes_matches_one_process(tmp_path):
    data = smooth_pairs()
    cfg = RunConfig(init="scratch", max_steps=2, **TINY)
    losses = ["baseline-pretrained", "baseline", "iwl-hinge"]
    serial = grid.run_grid(tmp_path / "serial", losses, ["mse"], [1, 2], cfg, dataset=data)
    finished = []
    spread = grid.run_grid(tmp_path / "spread", losses, ["mse"], [1, 2], cfg, dataset=data, workers=2,
                           on_done=finished.append)
    assert list(spread) == list(serial) and sorted(finished) == sorted(serial)  # job order, whatever finished first
    for name in serial:
        if not name.startswith("baseline-pretrained"):
            one, two = log_lines(tmp_path / "serial" / name), log_lines(tmp_path / "spread" / name)
            assert [r["step"] for r in one] == [r["step"] for r in two]
            # each run seeded alone: only the threads' summation order differs
            assert [r["loss"] for r in two] == pytest.approx([r["loss"] for r in one], rel=1e-4), name


TORCHRUN_SCRIPT = """
import os, sys, time
import torch.distributed as dist
from jndlc_helpers.codec import cli, distributed

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
    cli.main(["grid", f"{{out}}/runs", "--losses", "baseline-pretrained", "baseline", "--distortions", "mse",
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
