"""Opening a Hugging Face dataset as the recipe names it (a folder saved with ``save_to_disk``,
or a name for ``datasets.load_dataset``), checking its columns, and turning one image cell into
pixels; every failure is one line."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from torch import Tensor

from ganfw.plugin import UserError, one_line
from ganfw_plugins.hf_datasets import HFDatasetParams
from ganfw_plugins.image_folder.dataset import decode
from ganfw_plugins.torchvision_sets.images import dataset_key

#: At most this many shards when a saved dataset is streamed (shards are what ranks and
#: DataLoader workers divide between them).
STREAM_SHARDS = 64


def datasets_module() -> Any:
    """The ``datasets`` package, or a one-line error saying how to install it."""
    try:
        import datasets
    except ImportError:
        raise UserError("hf-dataset needs the datasets package: pip install 'ganfw[hf]'") from None
    return datasets


class HFSource:
    """Where the recipe's Hugging Face dataset comes from, and what its columns mean.

    Args:
        params: the recipe's ``[data.params]``; exactly one of ``path`` and ``name`` is set.
    """

    def __init__(self, params: HFDatasetParams):
        if bool(params.path.strip()) == bool(params.name.strip()):
            raise UserError("hf-dataset needs exactly one of data.params.path (a saved dataset) and data.params.name")
        self.params = params
        self.folder = Path(params.path).expanduser().resolve() if params.path.strip() else None
        self.where = f"the dataset saved in {self.folder}" if self.folder else f"the dataset {params.name!r}"

    @property
    def key(self) -> str:
        """``hf-<name>`` (with ``:config``) or ``hf-disk-<8 hex digits of the folder>``, then the
        resolution and what else changes the images: ``hf-uoft-cs/cifar10-32``."""
        p = self.params
        if self.folder is not None:
            ident = "disk-" + hashlib.sha256(str(self.folder).encode()).hexdigest()[:8]
        else:
            ident = p.name + (f":{p.config}" if p.config else "")
        gray = "gray" if p.channels == 1 else ""
        split = "" if p.split == "train" else p.split
        held = "" if p.held_out in ("test", "") else f"held-{p.held_out}"
        return dataset_key(f"hf-{ident}", p.resolution, gray, split, held)

    def open(self, split: str, streaming: bool) -> Any:
        """``split`` as a ``datasets.Dataset`` (or, ``streaming``, an ``IterableDataset``) with
        its columns checked and its images left encoded; ``None`` when a saved single dataset is
        asked for another split than the trained one (it has no other)."""
        table = self._saved(self.folder, split) if self.folder is not None else self._loaded(split, streaming)
        if table is None:
            return None
        if streaming and self.folder is not None:
            table = table.to_iterable_dataset(num_shards=max(1, min(STREAM_SHARDS, len(table))))
        return self._checked(table, split)

    def class_names(self, table: Any) -> tuple[str, ...]:
        """The names of the label column's ClassLabel feature; empty without a label column."""
        column = self.params.label_column
        if not column:
            return ()
        feature = (table.features or {}).get(column)
        names = getattr(feature, "names", None)
        if not names:
            raise UserError(
                f"hf-dataset: data.params.label_column {column!r} of {self.where} is a {feature!r}, "
                "not a ClassLabel feature (its names would name the classes)"
            )
        return tuple(str(name) for name in names)

    def picture(self, cell: Any) -> Tensor:
        """One image cell (an Image feature's ``{"bytes", "path"}``, encoded bytes, or a file
        path) -> (C, S, S) uint8, decoded as ``image-folder`` decodes a file."""
        if isinstance(cell, dict):
            cell = cell.get("bytes") or cell.get("path")
        if isinstance(cell, bytes | bytearray):
            cell = io.BytesIO(cell)
        elif not isinstance(cell, str):
            raise UserError(
                f"hf-dataset: data.params.image_column {self.params.image_column!r} of {self.where} "
                f"holds {type(cell).__name__} values, not images"
            )
        try:
            return decode(cell, self.params.resolution, self.params.channels)
        except Exception as e:
            raise UserError(f"hf-dataset: an image of {self.where} cannot be decoded: {one_line(e)}") from None

    def _saved(self, folder: Path, split: str) -> Any:
        datasets = datasets_module()
        if not folder.is_dir():
            raise UserError(f"hf-dataset: {folder} is not a folder (data.params.path = {self.params.path!r})")
        try:
            saved = datasets.load_from_disk(str(folder))
        except Exception as e:
            raise UserError(f"hf-dataset: {folder} holds no dataset saved with save_to_disk: {one_line(e)}") from None
        if not isinstance(saved, datasets.DatasetDict):
            return saved if split == self.params.split else None
        if split not in saved:
            raise UserError(f"hf-dataset: {self.where} has no split {split!r} (it has {', '.join(saved)})")
        return saved[split]

    def _loaded(self, split: str, streaming: bool) -> Any:
        datasets = datasets_module()
        p = self.params
        try:
            return datasets.load_dataset(p.name, p.config or None, split=split, streaming=streaming)
        except Exception as e:
            raise UserError(
                f"hf-dataset: datasets.load_dataset({p.name!r}, split={split!r}) failed: {one_line(e)}"
            ) from None

    def _checked(self, table: Any, split: str) -> Any:
        """The table with its image column found (and its images left encoded) and its label
        column a ClassLabel; columns are checked where the features are known."""
        datasets = datasets_module()
        features = table.features
        if features is None:
            return table
        for what, column in (("image_column", self.params.image_column), ("label_column", self.params.label_column)):
            if column and column not in features:
                raise UserError(
                    f"hf-dataset: split {split!r} of {self.where} has no column {column!r} (data.params.{what}); "
                    f"it has {', '.join(features)}"
                )
        self.class_names(table)
        if isinstance(features[self.params.image_column], datasets.Image):
            table = table.cast_column(self.params.image_column, datasets.Image(decode=False))
        return table
