"""Datasets of two splits read item by item: a training split and a held-out split, each a
*reader* (``reader[i] -> (picture, target)``, ``len(reader)``: a torchvision dataset, or rows of
a Hugging Face dataset) whose pictures are squared to ``resolution`` and scaled to [-1, 1].

Memory: building the dataset opens nothing. Each split is opened the first time it is needed
(``len()``, ``load()``, ``dataset[i]``, ``held_out()``) and kept open; what the reader holds then
is its own (CIFAR and STL-10: the pixels as uint8 arrays; CelebA: the file list; LSUN: the lmdb
keys; a Hugging Face dataset: its memory-mapped Arrow files). ``dataset[i]`` converts one image,
the path by which the engine streams the large ones; ``load()`` and ``held_out()`` convert every
image of their split.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ganfw.plugin import Dataset, Split, resolve_data_root
from ganfw_plugins.mnist.idx import to_unit_range

from .files import Files
from .images import square

#: Images converted per batch of :meth:`SplitDataset._convert` (each batch's files are open at once).
CHUNK = 256


class SplitDataset(Dataset):
    """A training split and a held-out split, as (N, C, S, S) float32 images in [-1, 1] with
    ``S = params.resolution`` and ``C = params.channels`` where declared, else 3 (RGB).

    Subclasses set :attr:`train_split`, :attr:`held_split` and ``key``, and implement
    :meth:`_reader` (a split's reader) and :meth:`_targets`.

    Args:
        params: the recipe's ``[data.params]`` (``resolution``, maybe ``channels``, and the subclass's).
        root: the data root (``data.root``; ``None``: ``GANFW_DATA`` or the user cache).
        limit: keep only the first ``limit`` training images; the held-out split is always whole.
    """

    #: The names of the training and held-out splits (a subclass may set them per instance).
    train_split: str = "train"
    held_split: str = "test"

    def __init__(self, params: Any, root: str | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        self.params = params
        self.root, self.root_source = resolve_data_root(root)
        self.limit = limit
        self.image_shape = (getattr(params, "channels", 3), params.resolution, params.resolution)
        self._readers: dict[str, tuple[Any, Sequence[int] | None]] = {}

    @abstractmethod
    def _reader(self, split: str) -> Any:
        """The reader of ``split``: ``reader[i] -> (picture, target)``, ``len(reader)``."""

    @abstractmethod
    def _targets(self, reader: Any) -> Sequence[int] | None:
        """The class of each image of ``reader`` (0..K-1), or ``None`` when unlabelled."""

    def _picture(self, image: Image.Image) -> Tensor:
        """One picture as the reader gives it (here an RGB PIL image) -> (C, S, S) uint8."""
        return square(image, self.params.resolution)

    def _split(self, split: str) -> tuple[Any, Sequence[int] | None]:
        """The reader of ``split`` and its classes (:meth:`_targets`), opened once."""
        if split not in self._readers:
            reader = self._reader(split)
            self._readers[split] = reader, self._targets(reader)
        return self._readers[split]

    def __len__(self) -> int:
        """The number of training images (at most ``limit``)."""
        n = len(self._split(self.train_split)[0])
        return n if self.limit is None else min(n, self.limit)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        """Training image ``i`` converted now, (C, S, S) float32 in [-1, 1], and its class (-1
        when unlabelled)."""
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"image {i} of {n}")
        i %= n
        reader, targets = self._split(self.train_split)
        return to_unit_range(self._picture(reader[i][0])), -1 if targets is None else int(targets[i])

    def load(self) -> Tensor:
        """All training images (the first ``limit``), (N, C, S, S) float32 in [-1, 1] on the CPU."""
        return self._convert(self._split(self.train_split)[0], len(self))

    def load_labels(self) -> Tensor | None:
        """The class of each image of :meth:`load`, (N,) int64; ``None`` when unlabelled."""
        return self._labels(self._split(self.train_split)[1], len(self))

    def held_out(self) -> Split | None:
        """The held-out split, converted on each call: (M, C, S, S) float32 in [-1, 1] and, for
        a labelled dataset, the labels (M,) int64. Always a split here; a subclass may have none."""
        reader, targets = self._split(self.held_split)
        name = "test" if self.held_split == "test" else "held-out"
        return Split(self._convert(reader, len(reader)), self._labels(targets, len(reader)), name=name)

    def _labels(self, targets: Sequence[int] | None, n: int) -> Tensor | None:
        """The first ``n`` classes as (n,) int64; ``None`` for an unlabelled dataset."""
        if not self.class_names or targets is None:
            return None
        return torch.tensor(list(targets[:n]), dtype=torch.int64)

    def _convert(self, reader: Any, n: int) -> Tensor:
        """The first ``n`` images of ``reader``, (n, C, S, S) float32 in [-1, 1]: read in order (a
        reader may not be shared between threads), resized on threads (Pillow frees the GIL)."""
        out = torch.empty(n, *self.image_shape, dtype=torch.uint8)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            for start in range(0, n, CHUNK):
                pictures = [reader[i][0] for i in range(start, min(n, start + CHUNK))]
                out[start : start + len(pictures)] = torch.stack(list(pool.map(self._picture, pictures)))
        return to_unit_range(out)


class TorchvisionSet(SplitDataset):
    """A :class:`SplitDataset` whose readers are torchvision's dataset classes on the files of
    :attr:`files` below the data root; subclasses implement :meth:`_open`."""

    #: Set by each subclass, or per instance (LSUN's depend on its categories).
    files: Files

    @abstractmethod
    def _open(self, split: str, download: bool) -> Any:
        """torchvision's dataset of ``split`` on :attr:`root` (``download``: fetch missing files)."""

    def _reader(self, split: str) -> Any:
        """torchvision's dataset of ``split``, downloaded first where ``params.download`` allows."""
        download = getattr(self.params, "download", False)
        return self.files.open(self.root, lambda fetch: self._open(split, fetch), download, self.root_source)
