"""Where training batches come from: the whole dataset held on the training device (small
datasets, the fast path), images read by index through a ``DataLoader`` with workers (datasets
too large to hold, or ``data.stream = "always"``), or images iterated from a stream (tar shards,
a streamed hub dataset: :meth:`ganfw.contracts.Dataset.iterate`).

Each source yields the batches of an epoch by number (``batches(epoch, start, stop)``), the same
ones for the same epoch, so a run resumed mid-epoch sees the same batches. Shapes: images
(B, C, H, W) in [-1, 1], labels (B,) int64.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from typing import Protocol

import torch
from torch import Tensor

from ganfw.blame import blame
from ganfw.contracts import Batch, Dataset
from ganfw.distributed import Ranks
from ganfw.errors import UserError
from ganfw.recipe import ComponentChoice, ComponentError, Recipe

#: Datasets whose float32 images exceed this many bytes stream instead of being held in memory.
IN_MEMORY_BYTES = 2 * 2**30


class DataSource(Protocol):
    """The batches of an epoch, by number; ``len()``: the images of the whole dataset."""

    def __len__(self) -> int: ...

    def batches(self, epoch: int, start: int, stop: int) -> Iterator[Batch]:
        """Batches ``start`` to ``stop - 1`` of ``epoch`` (0-based) on this rank."""
        ...


def epoch_order(seed: int, epoch: int, n: int, ranks: Ranks, device: torch.device) -> Tensor:
    """This rank's share of a permutation of the ``n`` images, (n / world,), the same for a given
    (seed, epoch) - so a run resumed mid-epoch sees the same batches."""
    rng = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)
    order = torch.randperm(n, generator=rng)
    return order[ranks.rank :: ranks.world][: n // ranks.world].to(device)


class Shuffled:
    """What the indexed sources share: each epoch visits this rank's share of a seeded
    permutation of the rows, in batches of ``batch_size``."""

    def __init__(self, n: int, seed: int, batch_size: int, ranks: Ranks, device: torch.device):
        self.n, self.seed, self.batch_size, self.ranks, self.device = n, seed, batch_size, ranks, device

    def __len__(self) -> int:
        return self.n

    def plan(self, epoch: int, start: int, stop: int) -> list[Tensor]:
        """The rows (B,) of batches ``start`` to ``stop - 1`` of ``epoch``."""
        order, bs = epoch_order(self.seed, epoch, self.n, self.ranks, self.device), self.batch_size
        return [order[b * bs : (b + 1) * bs] for b in range(start, stop)]


class InMemory(Shuffled):
    """The dataset as two tensors on the training device: images (N, C, H, W), labels (N,)."""

    def __init__(self, images: Tensor, labels: Tensor | None, seed: int, batch_size: int, ranks: Ranks):
        super().__init__(len(images), seed, batch_size, ranks, images.device)
        self.images, self.labels = images, labels

    def batches(self, epoch: int, start: int, stop: int) -> Iterator[Batch]:
        for rows in self.plan(epoch, start, stop):
            yield Batch(self.images[rows], None if self.labels is None else self.labels[rows])


class Streamed(Shuffled):
    """The dataset read item by item (``dataset[i] -> (image (C, H, W), label or -1)``) by
    ``DataLoader`` workers, each batch moved to the training device as it is needed."""

    def __init__(self, dataset: Dataset, device: torch.device, memory_format: torch.memory_format, seed: int,
                 batch_size: int, ranks: Ranks):  # fmt: skip
        super().__init__(len(dataset), seed, batch_size, ranks, torch.device("cpu"))  # type: ignore[arg-type]
        self.dataset, self.target, self.memory_format = dataset, device, memory_format
        self.workers = max(1, min(4, (os.cpu_count() or 2) // 2))

    def batches(self, epoch: int, start: int, stop: int) -> Iterator[Batch]:
        plan = [rows.tolist() for rows in self.plan(epoch, start, stop)]
        # A private generator: the loader seeds its workers from it, not from torch's global
        # stream, whose draws (dropout, augmentation) must not depend on how batches are read.
        loader: torch.utils.data.DataLoader[tuple[Tensor, Tensor]] = torch.utils.data.DataLoader(
            self.dataset,  # type: ignore[arg-type]
            batch_sampler=plan,
            num_workers=self.workers,
            pin_memory=self.target.type == "cuda",
            generator=torch.Generator().manual_seed(0),
        )
        yield from (self._to_device(images, labels) for images, labels in loader)

    def _to_device(self, images: Tensor, labels: Tensor) -> Batch:
        images = images.to(self.target, non_blocking=True).contiguous(memory_format=self.memory_format)
        labelled = self.dataset.num_classes > 0
        return Batch(images, labels.to(self.target, non_blocking=True) if labelled else None)


class Iterated:
    """A dataset read by :meth:`~ganfw.contracts.Dataset.iterate`: this rank's share of each epoch's
    stream, cut into batches; batch ``b`` of an epoch is the same on every read (a resumed run reads
    past the batches it has seen). A stream shorter than its share of ``len()`` starts a new pass
    (the next seed) to fill the epoch, so that every rank takes the same number of steps."""

    def __init__(self, dataset: Dataset, choice: ComponentChoice, device: torch.device,
                 memory_format: torch.memory_format, seed: int, batch_size: int, ranks: Ranks):  # fmt: skip
        self.dataset, self.choice, self.device, self.memory_format = dataset, choice, device, memory_format
        self.seed, self.batch_size, self.ranks = seed, batch_size, ranks

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def _items(self, epoch: int) -> Iterator[tuple[Tensor, int]]:
        """This rank's images of ``epoch``, pass after pass."""
        for attempt in itertools.count():
            empty = True
            with blame(self.choice, "iterate"):
                for item in self.dataset.iterate(self.ranks.rank, self.ranks.world, epoch, self.seed + attempt):
                    empty = False
                    yield item
            if empty:
                raise ComponentError(f"{self.choice.who} broke the dataset contract: iterate() gave no image")

    def batches(self, epoch: int, start: int, stop: int) -> Iterator[Batch]:
        bs, labelled = self.batch_size, self.dataset.num_classes > 0
        items = itertools.islice(self._items(epoch), start * bs, None)
        for _ in range(start, stop):
            chunk = list(itertools.islice(items, bs))
            images = torch.stack([image for image, _ in chunk]).to(self.device)
            labels = torch.tensor([label for _, label in chunk], dtype=torch.int64, device=self.device)
            yield Batch(images.contiguous(memory_format=self.memory_format), labels if labelled else None)


def should_stream(dataset: Dataset, mode: str, limit: int | None) -> bool:
    """``data.stream``: ``"always"``, ``"never"``, or ``"auto"`` - stream an indexable dataset
    whose float32 images would take more than :data:`IN_MEMORY_BYTES`."""
    if mode == "never" or not dataset.indexable:
        return False
    if mode == "always":
        return True
    n = len(dataset) if limit is None else min(limit, len(dataset))  # type: ignore[arg-type]
    return n * math.prod(dataset.image_shape) * 4 > IN_MEMORY_BYTES


def data_source(recipe: Recipe, dataset: Dataset, ranks: Ranks, device: torch.device,
                memory_format: torch.memory_format) -> DataSource:  # fmt: skip
    """Iterate a dataset that only streams, stream an indexable one (``data.stream``, or by
    size), or load it whole onto the device."""
    seed, bs, choice = recipe.train.seed, recipe.train.batch_size, recipe.data
    if dataset.iterable and not dataset.indexable and recipe.data_stream != "never":
        return Iterated(dataset, choice, device, memory_format, seed, bs, ranks)
    if recipe.data_stream == "always" and not dataset.indexable:
        raise UserError(
            f'{choice.who}: data.stream = "always" needs a dataset with __len__ and '
            "__getitem__ (this one only loads whole)"
        )
    with blame(choice, "__len__"):
        streamed = should_stream(dataset, recipe.data_stream, recipe.data_limit)
    if streamed:
        return Streamed(dataset, device, memory_format, seed, bs, ranks)
    with blame(choice, "load"):
        images = dataset.load()
    labels = _labels(choice, dataset, len(images))
    images = images.to(device).contiguous(memory_format=memory_format)
    return InMemory(images, None if labels is None else labels.to(device), seed, bs, ranks)


def _labels(choice: ComponentChoice, dataset: Dataset, n: int) -> Tensor | None:
    """The dataset's labels (N,) int64, checked against its class names."""
    with blame(choice, "load_labels"):
        labels = dataset.load_labels()
    if labels is None:
        return None
    k = dataset.num_classes
    if tuple(labels.shape) != (n,) or labels.dtype != torch.int64 or k == 0:
        raise ComponentError(
            f"{choice.who} broke the dataset contract: load_labels() gave {labels.dtype} "
            f"{tuple(labels.shape)} for {n} images and {k} class names; expected int64 ({n},)"
        )
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ComponentError(f"{choice.who} broke the dataset contract: labels outside [0, {k}) for {k} class names")
    return labels
