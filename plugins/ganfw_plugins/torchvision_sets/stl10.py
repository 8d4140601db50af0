"""STL-10 (Coates, Ng & Lee 2011): torchvision's binaries below the data root
(``<root>/stl10_binary/``), 96x96 images: 100,000 unlabelled, 5,000 labelled training images
(10 classes) and 8,000 labelled test images, the held-out split. torchvision reads a split's
binary whole into memory as uint8 (the unlabelled one: 2.8 GB), and checks every file's MD5 sum
each time it opens a split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torchvision

from ganfw_plugins.torchvision_sets import STL10Params

from .base import TorchvisionSet
from .files import Files
from .images import dataset_key


class STL10(TorchvisionSet):
    """STL-10's ``params.split`` (unlabelled unless it is ``"train"``), (N, 3, S, S) float32 in
    [-1, 1]; see :class:`~ganfw_plugins.torchvision_sets.base.TorchvisionSet`."""

    files = Files(
        "STL-10",
        "stl10_binary",
        ("train_X.bin", "train_y.bin", "unlabeled_X.bin", "test_X.bin", "test_y.bin", "class_names.txt"),
        "https://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz (unpacked into the data root)",
    )

    def __init__(self, params: STL10Params, root: str | None = None, limit: int | None = None):
        super().__init__(params, root, limit)
        self.train_split = params.split
        self.key = dataset_key("stl10", params.resolution, "" if params.split == "unlabeled" else params.split)

    # Dataset's class_names is an attribute the engine only reads; this one is read from the data when asked
    @property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """The ten classes (``class_names.txt``) when training on the labelled split; else none."""
        if self.params.split != "train":
            return ()
        return tuple(self._split(self.train_split)[0].classes)

    def _open(self, split: str, download: bool) -> Any:
        return torchvision.datasets.STL10(str(self.root), split=split, download=download)

    def _targets(self, reader: Any) -> Sequence[int] | None:
        return None if reader.split in ("unlabeled", "train+unlabeled") else reader.labels
