"""LSUN scenes (Yu et al. 2015): torchvision's lmdb databases below ``<root>/lsun/``, one per
category and split (``bedroom_train_lmdb``, ``bedroom_val_lmdb``), as LSUN's download script
unpacks them; each scene's centre square resized. Several categories are labelled by category;
each category's val set (300 images) is held out.

torchvision lists a database's keys once and saves them to ``_cache_<letters of its path>`` in
the working directory; here that file goes to ``<user cache>/lsun/`` instead, and is rebuilt
when its count of keys no longer matches the database. lmdb lets a process open a database once,
and an open database must not cross a fork: each database is opened once per process (a
DataLoader worker closes what it inherited and opens its own), shared by every dataset of the
process.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision

from ganfw.plugin import user_cache_dir
from ganfw_plugins.torchvision_sets import LSUNParams

from .base import TorchvisionSet
from .files import Files
from .images import dataset_key

#: torchvision's LSUN of one database, by the database's folder, opened by the process _OWNER[0].
_OPEN: dict[str, Any] = {}
_OWNER = [os.getpid()]
#: Held while the working directory is moved to the key cache (it is the process's).
_CWD = threading.Lock()


class LSUN(TorchvisionSet):
    """The training scenes of ``params.categories``, (N, 3, S, S) float32 in [-1, 1], in
    category order; see :class:`~ganfw_plugins.torchvision_sets.base.TorchvisionSet`."""

    train_split, held_split = "train", "val"

    def __init__(self, params: LSUNParams, root: str | None = None, limit: int | None = None):
        super().__init__(params, root, limit)
        self.root = self.root / "lsun"
        self.categories = list(dict.fromkeys(params.categories))
        self.class_names = tuple(self.categories) if len(self.categories) > 1 else ()
        self.key = dataset_key("lsun-" + "+".join(self.categories), params.resolution)
        databases = tuple(f"{c}_{s}_lmdb" for c in self.categories for s in ("train", "val"))
        origin = "LSUN's download script (https://github.com/fyu/lsun: python download.py -c CATEGORY, then unzip)"
        self.files = Files("LSUN", "", databases, origin)
        self._pid = os.getpid()

    def _split(self, split: str) -> tuple[Any, Sequence[int] | None]:
        """As the base class's, once per split and process (a forked process opens its own)."""
        if self._pid != os.getpid():
            self._readers, self._pid = {}, os.getpid()
        return super()._split(split)

    def _open(self, split: str, download: bool) -> torch.utils.data.ConcatDataset:
        """The categories' databases of ``split`` one after the other: ``[i] -> (scene, 0)``."""
        return torch.utils.data.ConcatDataset([_database(self.root, f"{c}_{split}") for c in self.categories])

    def _targets(self, reader: torch.utils.data.ConcatDataset) -> Sequence[int]:
        """Each scene's category, from the databases' cumulative sizes."""
        return _Categories(reader.cumulative_sizes)


def _database(root: Path, name: str) -> Any:
    """torchvision's LSUN of the database ``name`` (``bedroom_train``), opened once per process."""
    if _OWNER[0] != os.getpid():  # a forked process: close what it inherited, to open its own
        for reader in _OPEN.values():
            _close(reader)
        _OPEN.clear()
        _OWNER[0] = os.getpid()
    folder = str(root / f"{name}_lmdb")
    if folder not in _OPEN:
        _OPEN[folder] = _listed(root, name)
    return _OPEN[folder]


def _listed(root: Path, name: str) -> Any:
    """torchvision's LSUN of one database with its key list cached in ``<user cache>/lsun/``,
    listed again when the cached list does not match the database."""
    cache = user_cache_dir() / "lsun"
    cache.mkdir(parents=True, exist_ok=True)
    with _CWD, contextlib.chdir(cache):
        reader = torchvision.datasets.LSUN(str(root), classes=[name])
        db = reader.dbs[0]
        if len(db.keys) != db.length:  # a list cached from another database once at this path
            _close(reader)
            os.remove("_cache_" + "".join(ch for ch in db.root if ch.isascii() and ch.isalpha()))
            reader = torchvision.datasets.LSUN(str(root), classes=[name])
    return reader


def _close(reader: Any) -> None:
    for db in reader.dbs:
        db.env.close()


class _Categories(Sequence[int]):
    """The category of image ``i`` of databases whose cumulative sizes are ``ends``, without a
    list of every image's."""

    def __init__(self, ends: list[int]):
        self.ends = ends

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if not 0 <= i < len(self):
            raise IndexError(i)
        return next(c for c, end in enumerate(self.ends) if i < end)
