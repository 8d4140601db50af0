"""Checking a streamed dataset's ``iterate``: which rows of ``load()`` it yielded, alone and
through DataLoader worker processes (shared by the streamed datasets' tests)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import Tensor

from ganfw.plugin import Dataset


def rows_of(items: Iterable[tuple[Tensor, int]], reference: Tensor) -> list[int]:
    """The row of ``reference`` (N, C, H, W) each yielded image equals exactly, in order."""
    flat = reference.flatten(1)
    rows = []
    for image, _ in items:
        matches = (flat == image.flatten()).all(dim=1).nonzero().flatten().tolist()
        assert len(matches) == 1, f"a yielded image is {len(matches)} rows of the reference"
        rows.append(matches[0])
    return rows


class Iterated(torch.utils.data.IterableDataset):
    """``dataset.iterate(shard, shards, epoch, seed)`` as a torch IterableDataset, as an engine
    would feed DataLoader workers with it."""

    def __init__(self, dataset: Dataset, shard: int, shards: int, epoch: int, seed: int):
        self.dataset, self.args = dataset, (shard, shards, epoch, seed)

    def __iter__(self) -> Iterator[tuple[Tensor, int]]:
        return self.dataset.iterate(*self.args)


def through_workers(dataset: Dataset, shard: int, shards: int, workers: int = 2) -> list[tuple[Tensor, int]]:
    """What DataLoader ``workers`` yield of ``shard`` of ``shards`` (epoch 0, seed 7), one by one."""
    loader = torch.utils.data.DataLoader(Iterated(dataset, shard, shards, 0, 7), batch_size=None, num_workers=workers)
    return [(image, int(label)) for image, label in loader]
