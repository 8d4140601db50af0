"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009): torchvision's python-pickle batches below the data
root (``<root>/cifar-10-batches-py/``, ``<root>/cifar-100-python/``), 50,000 training and 10,000
test images of 32x32, labelled (CIFAR-100: its 100 fine classes); the test split is held out."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import torchvision

from .base import TorchvisionSet
from .files import Files
from .images import dataset_key


class CIFAR10(TorchvisionSet):
    """CIFAR-10's training images, (N, 3, S, S) float32 in [-1, 1], labelled by class (the names
    of ``batches.meta``); see :class:`~ganfw_plugins.torchvision_sets.base.TorchvisionSet`."""

    reader = torchvision.datasets.CIFAR10
    name = "cifar10"
    files = Files(
        "CIFAR-10",
        "cifar-10-batches-py",
        ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta"),
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (unpacked into the data root)",
    )

    def __init__(self, params: Any, root: str | None = None, limit: int | None = None):
        super().__init__(params, root, limit)
        self.key = dataset_key(self.name, params.resolution)

    # Dataset's class_names is an attribute the engine only reads; this one is read from the data when asked
    @cached_property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """The class names as the dataset's meta file gives them, in label order."""
        return tuple(self._split(self.train_split)[0].classes)

    def _open(self, split: str, download: bool) -> Any:
        return self.reader(str(self.root), train=split == "train", download=download)

    def _targets(self, reader: Any) -> Sequence[int]:
        return reader.targets


class CIFAR100(CIFAR10):
    """CIFAR-100's training images, labelled by their 100 fine classes (the names of ``meta``)."""

    reader = torchvision.datasets.CIFAR100
    name = "cifar100"
    files = Files(
        "CIFAR-100",
        "cifar-100-python",
        ("train", "test", "meta"),
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (unpacked into the data root)",
    )
