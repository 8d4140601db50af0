"""Where training batches come from: the whole dataset held on the training device (small
datasets, the fast path), or images streamed through a ``DataLoader`` with workers (datasets too
large to hold, or ``data.stream = "always"``).

Either way an epoch visits the rows of one permutation (``components.epoch_order``) in batches,
so a run resumed mid-epoch sees the same batches. Shapes: images (B, C, H, W) in [-1, 1],
labels (B,) int64.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import torch
from torch import Tensor

from ganfw.contracts import Batch, Dataset

#: Datasets whose float32 images exceed this many bytes stream instead of being held in memory.
IN_MEMORY_BYTES = 2 * 2**30


class InMemory:
    """The dataset as two tensors on the training device: images (N, C, H, W), labels (N,)."""

    def __init__(self, images: Tensor, labels: Tensor | None):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def batches(self, order: Tensor, batch_size: int, start: int, stop: int) -> Iterator[Batch]:
        """Batches ``start`` to ``stop - 1`` of ``order`` (rows of the dataset) cut into
        ``batch_size`` rows."""
        for b in range(start, stop):
            rows = order[b * batch_size : (b + 1) * batch_size]
            yield Batch(self.images[rows], None if self.labels is None else self.labels[rows])


class Streamed:
    """The dataset read item by item (``dataset[i] -> (image (C, H, W), label or -1)``) by
    ``DataLoader`` workers, each batch moved to the training device as it is needed."""

    def __init__(self, dataset: Dataset, device: torch.device, memory_format: torch.memory_format):
        self.dataset, self.device, self.memory_format = dataset, device, memory_format
        self.workers = max(1, min(4, (os.cpu_count() or 2) // 2))

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(self, order: Tensor, batch_size: int, start: int, stop: int) -> Iterator[Batch]:
        rows = order.cpu().tolist()
        plan = [rows[b * batch_size : (b + 1) * batch_size] for b in range(start, stop)]
        # A private generator: the loader seeds its workers from it, not from torch's global
        # stream, whose draws (dropout, augmentation) must not depend on how batches are read.
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=plan,
            num_workers=self.workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator().manual_seed(0),
        )
        labelled = self.dataset.num_classes > 0
        for images, labels in loader:
            images = images.to(self.device, non_blocking=True).contiguous(memory_format=self.memory_format)
            yield Batch(images, labels.to(self.device, non_blocking=True) if labelled else None)


def should_stream(dataset: Dataset, mode: str, limit: int | None) -> bool:
    """``data.stream``: ``"always"``, ``"never"``, or ``"auto"`` - stream an indexable dataset
    whose float32 images would take more than :data:`IN_MEMORY_BYTES`."""
    if mode == "never" or not dataset.indexable:
        return False
    if mode == "always":
        return True
    n = len(dataset) if limit is None else min(limit, len(dataset))
    return n * math.prod(dataset.image_shape) * 4 > IN_MEMORY_BYTES
