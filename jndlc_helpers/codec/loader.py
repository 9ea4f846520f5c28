"""A run's training data: the data set, its seeded order, and the batches of an epoch.

A resumed run reads the same batches as an uninterrupted one: the order is
DistributedSampler's seeded permutation of each epoch, the loader's generator is
reseeded every epoch (``loader_seed``), and random crops draw from torch's global
RNG, which checkpoints save and restore (bit-exact on CPU with ``num_workers=0``).
"""
from __future__ import annotations

import os
import random
from typing import Any, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler


def build_dataset(data_root: str | os.PathLike | None, unlabelled_root: str | os.PathLike | None,
                  patch_size: int, seed: int = 0, decode_cache: str | os.PathLike | None = None) -> Dataset:
    """The paper's training set: JND pairs of ``data_root/train``, mixed 1:1 with
    unlabelled images (x_j = x_o) when ``unlabelled_root`` is given (Sec. 2.4); the
    unlabelled images alone when ``data_root`` is None (base-model pretraining)."""
    from ..data import pairs  # the data layer is only needed when training from folders

    # seed=None: crops draw from torch's global RNG, which checkpoints save and restore
    unlabelled = None if unlabelled_root is None else pairs.UnlabelledDataset(
        unlabelled_root, patch_size, random_crop=True, flip=True, decode_cache=decode_cache)
    if data_root is None:
        return unlabelled
    labelled = pairs.JNDPairDataset(data_root, split="train", patch_size=patch_size, random_crop=True, flip=True,
                                    decode_cache=decode_cache)
    if unlabelled is None:
        return labelled
    return pairs.mixed_dataset(labelled, unlabelled, seed=seed)


class EpochSampler(Sampler[int]):
    """This process's share of an epoch, in DistributedSampler's seeded order, from a
    given batch on: one sampler (and one DataLoader, whose workers persist) per run."""

    def __init__(self, dataset: Dataset, world: int, rank: int, seed: int, local_batch: int):
        self.order = DistributedSampler(dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed)
        self.local_batch, self.epoch, self.skip = local_batch, 0, 0

    def start(self, epoch: int, skip_batches: int) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def __iter__(self) -> Iterator[int]:
        self.order.set_epoch(self.epoch)
        return iter(list(self.order)[self.skip * self.local_batch:])

    def __len__(self) -> int:
        return max(0, len(self.order) - self.skip * self.local_batch)


def loader_seed(seed: int, epoch: int, rank: int) -> int:
    """The seed of a process's loader generator at ``epoch``: its workers' RNG (random
    crops and flips) derives from it, so every rank gets its own."""
    return seed * 1_000_003 + epoch + rank * 2_000_000_011


def make_loader(dataset: Dataset, *, world: int, rank: int, seed: int, local_batch: int, drop_last: bool,
                num_workers: int, pin_memory: bool) -> DataLoader:
    """A run's DataLoader: built once, its workers (and their decoded-image caches) kept
    from epoch to epoch; ``batches`` picks the epoch."""
    sampler = EpochSampler(dataset, world, rank, seed, local_batch)
    return DataLoader(dataset, batch_size=local_batch, sampler=sampler, drop_last=drop_last,
                      num_workers=num_workers, persistent_workers=num_workers > 0, pin_memory=pin_memory,
                      worker_init_fn=_seed_worker,
                      # a private generator: loaders never draw from the global RNG
                      generator=torch.Generator())


def batches(loader: DataLoader, seed: int, epoch: int, skip_batches: int, rank: int) -> Iterator[Any]:
    """The batches of ``epoch`` for this process, less the first ``skip_batches``."""
    loader.sampler.start(epoch, skip_batches)
    loader.generator.manual_seed(loader_seed(seed, epoch, rank))
    return iter(loader)


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's global RNGs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    s = torch.initial_seed() % 2**32  # DataLoader seeds torch per worker; follow it
    np.random.seed(s)
    random.seed(s)
