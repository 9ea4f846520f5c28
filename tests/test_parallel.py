"""Jobs over processes (``parallel.py``)."""
from __future__ import annotations

import math
import os

import pytest

from jndlc_helpers import parallel


def test_imap_gives_every_result_with_its_index_serial_or_over_processes():
    tasks = [4.0, 9.0, 16.0, 25.0]
    serial = list(parallel.imap(math.sqrt, tasks, workers=1))
    assert serial == [(0, 2.0), (1, 3.0), (2, 4.0), (3, 5.0)]  # in order, in this process
    assert sorted(parallel.imap(math.sqrt, tasks, workers=2, threads=1)) == serial


def test_imap_raises_the_first_failure():
    with pytest.raises(ValueError, match="math domain error"):
        list(parallel.imap(math.sqrt, [1.0, -1.0, 4.0], workers=2, threads=1))


def test_auto_workers_one_per_core_on_cpu_one_on_gpu():
    assert parallel.auto_workers(None, "cpu") == max(1, os.cpu_count() or 1)
    assert parallel.auto_workers(None, "cuda") == 1
    assert parallel.auto_workers(3, "cuda") == 3
    with pytest.raises(ValueError, match="parallel_runs"):
        parallel.auto_workers(0)


def test_imap_ordered_yields_in_task_order():
    tasks = [float(n * n) for n in range(8)]
    assert list(parallel.imap(math.sqrt, tasks, workers=2, threads=1, ordered=True)) == [
        (n, float(n)) for n in range(8)]


def test_evaluation_on_a_gpu_machine_uses_one_worker_per_core(tmp_path, monkeypatch):
    import pandas as pd
    import torch

    from jndlc_helpers import config, pipeline
    from jndlc_helpers.evaluation import evaluate, metrics

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    params = {**config.profile("paper"), "run_dir": str(tmp_path)}
    (tmp_path / "results").mkdir()
    seen = []
    monkeypatch.setattr(pipeline, "test_pairs", lambda p: [])
    monkeypatch.setattr(pipeline, "model_jobs", lambda p: [])
    monkeypatch.setattr(evaluate, "evaluate_all", lambda *a, workers, **kw: seen.append(workers) or pd.DataFrame())
    monkeypatch.setattr(metrics, "jnd_quality_table", lambda *a, **kw: pd.DataFrame({"image": []}))
    pipeline.evaluate_rd(params, progress=False)
    assert seen == [max(1, os.cpu_count() or 1)]
    assert parallel.training_workers(params) == 1  # training: one run at a time on the GPU
    assert parallel.eval_workers(3) == 3
