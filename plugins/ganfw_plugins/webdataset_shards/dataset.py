"""The ``webdataset`` component: images in WebDataset tar shards (samples of files sharing a
key: ``000123.png``, ``000123.cls``), streamed by :meth:`WebDataset.iterate`: whole shards
divided between ranks and DataLoader workers when there are enough of them, else every n-th
sample; shuffled per epoch (the shards' order, then a buffer of samples) from the seed."""

from __future__ import annotations

import hashlib
import io
import itertools
import random
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any, TypeVar

import torch
from torch import Tensor

from ganfw.plugin import Dataset, Split, UserError, one_line
from ganfw_plugins.image_folder.dataset import decode
from ganfw_plugins.mnist.idx import to_unit_range
from ganfw_plugins.torchvision_sets.images import dataset_key
from ganfw_plugins.torchvision_sets.shares import worker_share
from ganfw_plugins.webdataset_shards import WebDatasetParams

from .shards import count, expand, samples

T = TypeVar("T")


def buffer_shuffle(items: Iterable[T], size: int, rng: random.Random) -> Iterator[T]:
    """``items`` shuffled through a buffer of ``size``: each item out is drawn uniformly from the
    buffer, refilled from ``items`` (size 1: the items' order)."""
    buffer: list[T] = []
    for item in items:
        buffer.append(item)
        if len(buffer) >= size:
            i = rng.randrange(len(buffer))
            buffer[i], buffer[-1] = buffer[-1], buffer[i]
            yield buffer.pop()
    rng.shuffle(buffer)
    yield from buffer


class WebDataset(Dataset):
    """The training samples of ``params.urls``, each (C, S, S) float32 in [-1, 1] with its class
    (``params.label_key``) or -1; ``params.held_out``'s shards are held out.

    Args:
        params: the recipe's ``[data.params]``.
        root: unused (``params.urls`` say where the shards are).
        limit: train on the first ``limit`` samples of the shards (in the order given) only.
    """

    def __init__(self, params: WebDatasetParams, root: str | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        if not params.urls:
            raise UserError("webdataset needs data.params.urls: the tar shards to train on")
        if bool(params.label_key) != bool(params.class_names):
            raise UserError("webdataset: data.params.label_key and data.params.class_names go together (labels 0..K-1)")
        self.params, self.limit = params, limit
        self.train = expand(params.urls, "data.params.urls")
        self.held = expand(params.held_out, "data.params.held_out")
        self.image_shape = (params.channels, params.resolution, params.resolution)
        self.class_names = tuple(params.class_names)
        digest = hashlib.sha256("\n".join(self.train + ("",) + self.held).encode()).hexdigest()[:8]
        self.key = dataset_key(f"webdataset-{digest}", params.resolution, "gray" if params.channels == 1 else "")

    def __len__(self) -> int:
        """The number of training images: ``params.size``, else counted (at most ``limit``)."""
        n = self.params.size or count(self.train, self.params.image_keys)
        return n if self.limit is None else min(n, self.limit)

    def iterate(self, shard: int, shards: int, epoch: int, seed: int) -> Iterator[tuple[Tensor, int]]:
        """This process's share of the training images of ``epoch`` (see
        :meth:`ganfw.contracts.Dataset.iterate`), divided again between DataLoader workers
        (:func:`worker_share`). The shards are shuffled by ``seed`` and ``epoch``; with at least
        as many shards as shares each share reads whole shards, else (and with ``limit``) every
        share reads them all and keeps every n-th sample. The samples then pass a shuffle buffer."""
        share, n_shares = worker_share(shard, shards)
        order = list(self.train)
        if self.limit is None:
            random.Random(f"{seed}/{epoch}").shuffle(order)
        if self.limit is None and len(order) >= n_shares:
            mine = self._samples(order[share::n_shares])
        else:
            mine = itertools.islice(itertools.islice(self._samples(order), self.limit), share, None, n_shares)
        rng = random.Random(f"{seed}/{epoch}/{share}")
        for sample in buffer_shuffle(mine, self.params.shuffle_buffer, rng):
            yield self._image(sample), self._label(sample)

    def load(self) -> Tensor:
        """The training images in the shards' order (the first ``limit``), (N, C, S, S) float32
        in [-1, 1]: every shard read into memory (small datasets only)."""
        return self._images(itertools.islice(self._samples(self.train), self.limit))

    def load_labels(self) -> Tensor | None:
        """The class of each image of :meth:`load`, (N,) int64; ``None`` when unlabelled."""
        if not self.class_names:
            return None
        rows = itertools.islice(self._samples(self.train), self.limit)
        return torch.tensor([self._label(s) for s in rows], dtype=torch.int64)

    def held_out(self) -> Split | None:
        """The held-out shards' images, read on each call; ``None`` when there are none."""
        if not self.held:
            return None
        rows = list(self._samples(self.held))
        labels = torch.tensor([self._label(s) for s in rows], dtype=torch.int64) if self.class_names else None
        return Split(self._images(rows), labels)

    @cached_property
    def _keys(self) -> frozenset[str]:
        return frozenset(self.params.image_keys)

    def _samples(self, urls: list[str] | tuple[str, ...]) -> Iterator[dict[str, Any]]:
        """The samples of ``urls`` that have an image, in order."""
        return (s for s in samples(urls) if not self._keys.isdisjoint(s))

    def _images(self, rows: Iterable[dict[str, Any]]) -> Tensor:
        """The rows' images, (N, C, S, S) float32 in [-1, 1]."""
        images = [self._image(s) for s in rows]
        if not images:
            raise UserError(f"webdataset: no sample of the shards has an image ({', '.join(self.params.image_keys)})")
        return torch.stack(images)

    def _image(self, sample: dict[str, Any]) -> Tensor:
        """A sample's image (its first extension of ``params.image_keys``), (C, S, S) float32."""
        data = next(sample[key] for key in self.params.image_keys if key in sample)
        try:
            pixels = decode(io.BytesIO(data), self.params.resolution, self.params.channels)
        except Exception as e:
            raise UserError(f"webdataset: sample {sample['__key__']} of {sample['__url__']}: {one_line(e)}") from None
        return to_unit_range(pixels)

    def _label(self, sample: dict[str, Any]) -> int:
        """A sample's class (``params.label_key``, an index as text), or -1 when unlabelled."""
        if not self.params.label_key:
            return -1
        text = sample.get(self.params.label_key, b"")
        label = int(text) if text.strip().isdigit() else -1
        if not 0 <= label < len(self.class_names):
            raise UserError(
                f"webdataset: sample {sample['__key__']} of {sample['__url__']} has {self.params.label_key} = "
                f"{text[:20]!r}, not a class index 0..{len(self.class_names) - 1}"
            )
        return label
