"""Independent jobs over processes: training runs, evaluations, bootstraps.

On a CPU, single-threaded processes side by side do more work than one process with
all the threads: the quick profile's small convolutions scale poorly over threads and
entropy coding is serial. On 2 cores, two processes of one thread each did about 1.35x
the work of one process of two threads, run for run (``benchmarks/NOTES.md``); over one
quality of the quick chain, process start-up included, training went 1.27x and
evaluation 1.08x as fast (``benchmarks/results/parallel_runs.json``). Processes are spawned, not forked: the caller (a notebook
kernel) may hold torch's OpenMP threads.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable, Iterator, Sequence


def training_workers(params: dict) -> int:
    """How many training runs (or evaluations) of a profile go side by side: its
    ``parallel_runs`` knob, else ``auto_workers``'s choice for its device."""
    return auto_workers(params.get("parallel_runs"), params.get("device", "auto"))


def auto_workers(requested: int | None, device: str = "cpu") -> int:
    """How many jobs to run at once: ``requested``, or (None) one per CPU core when
    ``device`` is the CPU and one otherwise (jobs on one GPU would share it)."""
    if requested is not None:
        if int(requested) < 1:
            raise ValueError(f"parallel_runs must be >= 1 or None, got {requested!r}")
        return int(requested)
    if str(device) == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return max(1, os.cpu_count() or 1) if str(device) == "cpu" else 1


def eval_workers(requested: int | None) -> int:
    """How many models to evaluate at once: ``requested``, or (None) one per CPU core,
    GPU or not. Evaluation is CPU work: entropy coding (Cheng2020's autoregressive
    decoder above all; CompressAI advises the CPU for it), the metrics, ColorVideoVDP."""
    return auto_workers(requested, "cpu")


def few_in_process(tasks: Sequence[Any], workers: int, at_least: int = 5) -> int:
    """``workers``, or 1 (this process) for fewer than ``at_least`` tasks: starting worker
    processes (torch, models) costs more than a few short tasks gain."""
    return workers if len(tasks) >= at_least else 1


def imap(fn: Callable[[Any], Any], tasks: Sequence[Any], workers: int = 1,
         threads: int | None = None, ordered: bool = False) -> Iterator[tuple[int, Any]]:
    """``(i, fn(tasks[i]))`` for every task: in this process when ``workers`` <= 1,
    else over ``workers`` processes of ``threads`` torch threads each (default: the
    cores shared out), as they finish or, ``ordered``, in task order (a result waits
    for those before it). The first failure is raised; tasks not started are cancelled."""
    workers = min(int(workers), len(tasks))
    if workers <= 1:
        for i, task in enumerate(tasks):
            yield i, fn(task)
        return
    if ordered:
        ready, upcoming = {}, 0
        for i, result in imap(fn, tasks, workers, threads):
            ready[i] = result
            while upcoming in ready:
                yield upcoming, ready.pop(upcoming)
                upcoming += 1
        return
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    threads = threads or max(1, (os.cpu_count() or 1) // workers)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_set_threads, initargs=(threads,))
    try:
        pending = {pool.submit(fn, task): i for i, task in enumerate(tasks)}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                yield i, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _set_threads(threads: int) -> None:
    # Before torch is imported (it reads these once); jobs that never import it pay nothing.
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
