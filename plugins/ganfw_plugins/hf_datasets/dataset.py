"""The ``hf-dataset`` component: a Hugging Face dataset read by index from its Arrow files
(:class:`HFDataset`, which the engine streams through a DataLoader when it is large), or as a
stream (:class:`HFStream`, ``params.streaming``: an ``IterableDataset`` shuffled in a buffer and
divided between ranks by :meth:`HFStream.iterate`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any

import torch
from torch import Tensor

from ganfw.plugin import Dataset, Split, UserError
from ganfw_plugins.hf_datasets import HFDatasetParams
from ganfw_plugins.mnist.idx import to_unit_range
from ganfw_plugins.torchvision_sets.base import SplitDataset
from ganfw_plugins.torchvision_sets.shares import worker_share

from .source import HFSource


def hf_dataset(params: HFDatasetParams, root: str | None = None, limit: int | None = None) -> Dataset:
    """The factory: an :class:`HFStream` when ``params.streaming``, else an :class:`HFDataset`."""
    return (HFStream if params.streaming else HFDataset)(params, root, limit)


def _split_name(split: str) -> str:
    """How score protocols name a held-out split: ``"test"`` or ``"held-out"``."""
    return "test" if split == "test" else "held-out"


class _Rows:
    """A split's rows as the base class reads them: ``rows[i] -> (image cell, None)`` (the
    labels come whole from the label column)."""

    def __init__(self, table: Any, image_column: str):
        self.table, self.image_column = table, image_column

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int) -> tuple[Any, None]:
        return self.table[i][self.image_column], None


class HFDataset(SplitDataset):
    """A Hugging Face dataset's ``params.split``, (N, C, S, S) float32 in [-1, 1], labelled by
    ``params.label_column``; ``params.held_out`` is held out. Indexable: ``dataset[i]`` decodes
    one row's image. See :class:`~ganfw_plugins.torchvision_sets.base.SplitDataset`."""

    def __init__(self, params: HFDatasetParams, root: str | None = None, limit: int | None = None):
        self.source = HFSource(params)
        super().__init__(params, root, limit)
        self.train_split, self.held_split = params.split, params.held_out
        self.key = self.source.key

    # Dataset's class_names is an attribute the engine only reads; this one is read from the data when asked
    @cached_property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """The label column's ClassLabel names; empty when unlabelled."""
        return self.source.class_names(self._split(self.train_split)[0].table)

    def held_out(self) -> Split | None:
        """The ``params.held_out`` split (see the base class); ``None`` when it is empty or the
        saved dataset is a single split."""
        if not self.params.held_out or self._split(self.held_split)[0] is None:
            return None
        return super().held_out()

    def _reader(self, split: str) -> _Rows | None:
        table = self.source.open(split, streaming=False)
        return None if table is None else _Rows(table, self.params.image_column)

    def _targets(self, reader: _Rows | None) -> Sequence[int] | None:
        column = self.params.label_column
        return list(reader.table[column]) if column and reader is not None else None

    def _picture(self, cell: Any) -> Tensor:
        return self.source.picture(cell)


class HFStream(Dataset):
    """A Hugging Face dataset's ``params.split`` streamed (``datasets.IterableDataset``): images
    (C, S, S) float32 in [-1, 1] from :meth:`iterate`, labelled by ``params.label_column``.
    ``load()`` and ``held_out()`` read their whole split into memory (small streams only).

    Args:
        params: the recipe's ``[data.params]`` (``streaming = true``).
        root: unused (``params.path`` or ``params.name`` says where the data is).
        limit: train on the first ``limit`` images of the stream only (read once, kept in
            memory, shuffled and divided by :meth:`iterate` like the stream).
    """

    def __init__(self, params: HFDatasetParams, root: str | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        self.params, self.limit, self.source = params, limit, HFSource(params)
        self.image_shape = (params.channels, params.resolution, params.resolution)
        self.key = self.source.key

    # Dataset's class_names is an attribute the engine only reads; this one is read from the data when asked
    @cached_property
    def class_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """The label column's ClassLabel names; empty when unlabelled."""
        return self.source.class_names(self._stream(self.params.split))

    def __len__(self) -> int:
        """The number of training images: ``params.size``, else the dataset's own count (at
        most ``limit``)."""
        n = self.params.size or self._counted
        return n if self.limit is None else min(n, self.limit)

    def iterate(self, shard: int, shards: int, epoch: int, seed: int) -> Iterator[tuple[Tensor, int]]:
        """This process's share of the training images of ``epoch`` (see
        :meth:`ganfw.contracts.Dataset.iterate`): the stream shuffled by ``seed`` and ``epoch``
        (its shards' order and a buffer of ``params.shuffle_buffer`` images), then divided by
        ``datasets.distributed.split_dataset_by_node`` (whole shards when their number divides
        by ``shards``, else every ``shards``-th image). Inside a DataLoader worker, ``datasets``
        divides this share again between the workers, by shards."""
        if self.limit is not None:
            yield from self._first_images(shard, shards, epoch, seed)
            return
        from datasets.distributed import split_dataset_by_node

        stream = self._stream(self.params.split).shuffle(seed=seed, buffer_size=self.params.shuffle_buffer)
        stream = split_dataset_by_node(stream, rank=shard, world_size=shards)
        stream.set_epoch(epoch)
        for row in stream:
            yield self._item(row)

    def load(self) -> Tensor:
        """The training images in stream order (the first ``limit``), (N, C, S, S) float32 in
        [-1, 1]: the whole split in memory."""
        return torch.stack([image for image, _ in self._rows(self.params.split, self.limit)])

    def load_labels(self) -> Tensor | None:
        """The class of each image of :meth:`load`, (N,) int64; ``None`` when unlabelled."""
        if not self.class_names:
            return None
        column = self.params.label_column
        labels = (row[column] for row in self._stream(self.params.split).select_columns([column]))
        return torch.tensor(list(itertools.islice(labels, self.limit)), dtype=torch.int64)

    def held_out(self) -> Split | None:
        """The ``params.held_out`` split, read whole on each call; ``None`` when there is none."""
        held = self.params.held_out
        if not held or self._stream(held) is None:
            return None
        rows = list(self._rows(held, None))
        labels = torch.tensor([label for _, label in rows], dtype=torch.int64) if self.class_names else None
        return Split(torch.stack([image for image, _ in rows]), labels, name=_split_name(held))

    def _stream(self, split: str) -> Any:
        return self.source.open(split, streaming=True)

    @cached_property
    def _counted(self) -> int:
        """The training split's size from the dataset's info (a saved dataset: its row count)."""
        if self.source.folder is not None:
            return len(self.source.open(self.params.split, streaming=False))
        splits = self._stream(self.params.split).info.splits or {}
        if self.params.split in splits and splits[self.params.split].num_examples:
            return splits[self.params.split].num_examples
        raise UserError(
            f"hf-dataset: {self.source.where} does not say how many images split {self.params.split!r} holds: "
            "set data.params.size"
        )

    def _rows(self, split: str, limit: int | None) -> Iterator[tuple[Tensor, int]]:
        """The first ``limit`` (``None``: all) images of ``split`` in stream order, converted."""
        return map(self._item, itertools.islice(self._stream(split), limit))

    def _item(self, row: dict[str, Any]) -> tuple[Tensor, int]:
        column = self.params.label_column
        label = int(row[column]) if column else -1
        return to_unit_range(self.source.picture(row[self.params.image_column])), label

    def _first_images(self, shard: int, shards: int, epoch: int, seed: int) -> Iterator[tuple[Tensor, int]]:
        """``limit``: the first ``limit`` images in an order drawn from ``seed`` and ``epoch``,
        every ``shares``-th from ``share`` on (:func:`worker_share`: DataLoader workers included)."""
        share, shares = worker_share(shard, shards)
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
        rows = self._limited
        for i in order[share::shares].tolist():
            yield rows[i]

    @cached_property
    def _limited(self) -> list[tuple[Tensor, int]]:
        return list(self._rows(self.params.split, self.limit))
