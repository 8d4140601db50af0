"""MNIST-format datasets (MNIST, Fashion-MNIST): four IDX files in torchvision's layout, read
whole into memory, checked, downloaded by torchvision when missing, and every failure reported
as one line.

Where the files are looked for (the *root*; torchvision's layout ``<root>/<Folder>/raw/``, with
``<Folder>`` the torchvision class's name: ``MNIST``, ``FashionMNIST``), as
:func:`ganfw.paths.resolve_data_root` decides (the engine passes its result as ``root``):

1. the ``root`` argument (the recipe's ``data.root``),
2. the environment variable ``GANFW_DATA``,
3. the user cache: ``$XDG_CACHE_HOME/ganfw/data``, else ``~/.cache/ganfw/data``.

Missing files are downloaded by torchvision when ``params.download`` is true. Missing files that
cannot be had, and corrupt or truncated ones, are reported as one-line :class:`UserError`\\ s.
"""

from __future__ import annotations

import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from ganfw.plugin import Dataset, Split, UserError, resolve_data_root

#: The four files torchvision expects in ``<root>/<Folder>/raw/``.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
_LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
_HINT = "or set data.root / GANFW_DATA"
#: How an error names where the root came from (the sources of :func:`resolve_data_root`).
SOURCES = {"data.root": "the recipe's data.root", "GANFW_DATA": "GANFW_DATA", "cache": "the user cache"}


def root_and_source(root: str | os.PathLike[str] | None) -> tuple[Path, str]:
    """The data root and where it came from, as :func:`resolve_data_root` says, except that a
    ``root`` equal to the one ``GANFW_DATA`` or the user cache gives is credited to them: the
    engine passes the root it resolved, which the recipe may not have set."""
    path, source = resolve_data_root(root)
    default, default_source = resolve_data_root(None)
    return (path, default_source) if source == "data.root" and path == default else (path, source)


def to_unit_range(pixels: Tensor) -> Tensor:
    """uint8 pixels (any shape) -> float32 in [-1, 1]: ``p`` in 0..255 becomes
    ``(p - 127.5) / 127.5``."""
    return pixels.to(torch.float32).sub_(127.5).div_(127.5)


@dataclass(frozen=True)
class IdxSource:
    """One MNIST-format dataset: its name in messages (``"Fashion-MNIST"``) and the name of the
    torchvision class that downloads it, which is also its folder below the root (``"FashionMNIST"``).

    The files are read here, not by torchvision: importing torchvision costs every command about
    a second and a half, so it is imported only to download missing files.
    """

    title: str
    folder: str

    def raw_folder(self, root: str | os.PathLike[str]) -> Path:
        """Where the IDX files live below ``root``: ``<root>/<Folder>/raw``."""
        return Path(root) / self.folder / "raw"

    def load_split(
        self, root: str | os.PathLike[str], train: bool, *, download: bool = False, source: str = "data.root"
    ) -> Tensor:
        """The images of one split as stored: (N, 28, 28) uint8 (N = 60,000 train, 10,000 test).

        ``source`` only words the error message (how ``root`` was chosen).
        """
        return self._read(root, train, download, source, "images")

    def load_labels(
        self, root: str | os.PathLike[str], train: bool, *, download: bool = False, source: str = "data.root"
    ) -> Tensor:
        """The classes of one split, in the order of :meth:`load_split`'s images: (N,) int64 in 0..9."""
        return self._read(root, train, download, source, "labels").to(torch.int64)

    def _read(self, root: str | os.PathLike[str], train: bool, download: bool, source: str, what: str) -> Tensor:
        """One IDX file of a split (``what``: ``"images"`` or ``"labels"``), checked, as a uint8
        tensor of the shape its header gives; missing files are downloaded first if allowed."""
        raw = self.raw_folder(root)
        missing = [name for name in IDX_FILES if not (raw / name).is_file()]
        if missing and not download:
            raise self._not_found(raw, source, missing, "data.params.download = false")
        if missing:
            self._download(root, raw, source, train)
        self._check_split(raw, train)
        path = raw / f"{'train' if train else 't10k'}-{what}-idx{3 if what == 'images' else 1}-ubyte"
        try:
            data = bytearray(path.read_bytes())
        except OSError as e:
            raise UserError(f"cannot read {self.title} file {path}: {e.strerror or e}") from None
        ndim = 3 if what == "images" else 1
        dims = struct.unpack_from(f">{ndim}I", data, 4)
        return torch.frombuffer(data, dtype=torch.uint8, offset=4 * (1 + ndim)).view(*dims)

    def _download(self, root: str | os.PathLike[str], raw: Path, source: str, train: bool) -> None:
        """Fetch the missing files with torchvision; a failed download leaves nothing behind and
        is one line naming what is still missing."""
        import torchvision  # here only: see the class docstring

        created = _first_missing(raw)
        try:
            getattr(torchvision.datasets, self.folder)(root=str(root), train=train, download=True)
        except Exception as e:  # a failed download, or torchvision's reader choking on a broken file
            still_missing = [name for name in IDX_FILES if not (raw / name).is_file()]
            if still_missing:
                if created is not None:  # what the failed download made, partial files included
                    shutil.rmtree(created, ignore_errors=True)
                raise self._not_found(raw, source, still_missing, f"download failed: {_one_line(e)}") from None
            # the files arrived: the checks that follow name a broken one

    def _not_found(self, raw: Path, source: str, missing: list[str], why: str) -> UserError:
        partial = f"; missing: {', '.join(missing)}" if len(missing) < len(IDX_FILES) else ""
        return UserError(
            f"{self.title} not found in {raw} (root from {SOURCES.get(source, source)}; {why}): put the four IDX files "
            f"{', '.join(IDX_FILES)} there ({_HINT}){partial}"
        )

    def _check_split(self, raw: Path, train: bool) -> None:
        """Raise a :class:`UserError` naming the first IDX file of the split that is not well formed."""
        prefix = "train" if train else "t10k"
        self._check_idx(raw / f"{prefix}-images-idx3-ubyte", _IMAGES_MAGIC, (28, 28))
        self._check_idx(raw / f"{prefix}-labels-idx1-ubyte", _LABELS_MAGIC, ())

    def _check_idx(self, path: Path, magic: int, item_shape: tuple[int, ...]) -> None:
        """An IDX file: big-endian magic, one uint32 per dimension, then exactly that many bytes."""
        ndim = 1 + len(item_shape)
        header_size = 4 * (1 + ndim)
        try:
            size = path.stat().st_size
            with open(path, "rb") as f:
                header = f.read(header_size)
        except OSError as e:
            raise UserError(f"cannot read {self.title} file {path}: {e.strerror or e}") from None
        problem = None
        if len(header) < header_size:
            problem = f"only {size} bytes, shorter than its header"
        else:
            found, *dims = struct.unpack(f">{1 + ndim}I", header)
            n_bytes = 1
            for d in dims:
                n_bytes *= d
            if found != magic:
                problem = f"magic number 0x{found:08x}, expected 0x{magic:08x}"
            elif tuple(dims[1:]) != item_shape:
                problem = f"items of shape {tuple(dims[1:])}, expected {item_shape}"
            elif size != header_size + n_bytes:
                problem = f"{size} bytes, expected {header_size + n_bytes} for {dims[0]} items (truncated?)"
        if problem:
            raise UserError(f"corrupt {self.title} file {path}: {problem}; delete it and download it again ({_HINT})")


class IdxDataset(Dataset):
    """A training split of :attr:`source`, (N, 1, 28, 28) float32 in [-1, 1], with its labels;
    the test split (10,000 images) is the held-out split, read when asked for.

    Subclasses set ``source``, ``key`` and ``class_names``.

    Args:
        params: the recipe's ``[data.params]`` (``download``).
        root: the data root (see the module docstring); ``None``: ``GANFW_DATA`` or the cache.
        limit: keep only the first ``limit`` training images (``None``: all 60,000); the
            held-out split is always whole.
    """

    source: ClassVar[IdxSource]
    image_shape = (1, 28, 28)

    def __init__(self, params: Any, root: str | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        self.params = params
        self.root, self.root_source = root_and_source(root)
        self.limit = limit

    def load(self) -> Tensor:
        """All (or the first ``limit``) training images, (N, 1, 28, 28) float32 in [-1, 1] on
        the CPU (see :func:`to_unit_range`)."""
        return to_unit_range(self.load_split(train=True)[: self.limit].unsqueeze(1))

    def load_labels(self) -> Tensor:
        """The class of each image of :meth:`load`, in the same order: (N,) int64 in 0..9."""
        return self._labels(train=True)[: self.limit]

    def held_out(self) -> Split:
        """The test split, read from disk on each call: images (10,000, 1, 28, 28) float32 in
        [-1, 1] and their labels (10,000,) int64."""
        return Split(to_unit_range(self.load_split(train=False).unsqueeze(1)), self._labels(train=False), name="test")

    def load_split(self, train: bool) -> Tensor:
        """One split as stored, (N, 28, 28) uint8: 60,000 training or 10,000 test images."""
        return self.source.load_split(self.root, train, download=self.params.download, source=self.root_source)

    def _labels(self, train: bool) -> Tensor:
        return self.source.load_labels(self.root, train, download=self.params.download, source=self.root_source)


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` (itself included) that does not exist yet, if any."""
    missing = None
    while not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing


def _one_line(e: BaseException, limit: int = 300) -> str:
    """An exception's message squeezed onto one line (torchvision's download errors span several)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
