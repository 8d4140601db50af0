"""The MNIST dataset component: the four IDX files read once, whole, into memory, with each
image's digit as its class label.

Where the files are looked for (the *root*; torchvision's layout ``<root>/MNIST/raw/``), as
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
from pathlib import Path

import torch
import torchvision
from torch import Tensor

from ganfw.contracts import Dataset
from ganfw.errors import UserError
from ganfw.paths import resolve_data_root

from . import MNISTParams

#: The four files torchvision's MNIST expects in ``<root>/MNIST/raw/``.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

_IMAGES_MAGIC = 0x00000803  # uint8, 3 dimensions
_LABELS_MAGIC = 0x00000801  # uint8, 1 dimension
_HINT = "or set data.root / GANFW_DATA"


#: The data root and where it came from (``"data.root"``, ``"GANFW_DATA"`` or ``"cache"``): the
#: core's rule, under the name this module has always exported.
resolve_root = resolve_data_root


def raw_folder(root: Path) -> Path:
    """Where the IDX files live below ``root`` (torchvision's layout)."""
    return root / "MNIST" / "raw"


def load_split(
    root: str | os.PathLike[str], train: bool, *, download: bool = False, source: str = "data.root"
) -> Tensor:
    """The images of one split as stored: (N, 28, 28) uint8 (N = 60,000 train, 10,000 test).

    ``source`` only words the error message (how ``root`` was chosen).
    """
    return _read_split(root, train, download, source).data


def load_labels(
    root: str | os.PathLike[str], train: bool, *, download: bool = False, source: str = "data.root"
) -> Tensor:
    """The digits of one split, in the order of :func:`load_split`'s images: (N,) int64 in 0..9."""
    return _read_split(root, train, download, source).targets


def _read_split(root: str | os.PathLike[str], train: bool, download: bool, source: str) -> torchvision.datasets.MNIST:
    raw = raw_folder(Path(root))
    missing = [name for name in IDX_FILES if not (raw / name).is_file()]
    if missing and not download:
        raise _not_found(raw, source, missing, "data.params.download = false")
    created = _first_missing(raw)
    try:
        mnist = torchvision.datasets.MNIST(root=str(root), train=train, download=download)
    except Exception as e:  # a failed download, or torchvision's reader choking on a broken file
        still_missing = [name for name in IDX_FILES if not (raw / name).is_file()]
        if still_missing:
            if created is not None:  # what the failed download made, partial files included
                shutil.rmtree(created, ignore_errors=True)
            raise _not_found(raw, source, still_missing, f"download failed: {_one_line(e)}") from None
        _check_split(raw, train)  # raises, naming the broken file, if that is the cause
        raise UserError(f"cannot read MNIST from {raw}: {_one_line(e)}") from None
    _check_split(raw, train)
    return mnist


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` (itself included) that does not exist yet, if any."""
    missing = None
    while not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing


class MNIST(Dataset):
    """The MNIST training digits, (N, 1, 28, 28) float32 in [-1, 1], labelled 0..9 (class ``d``
    is named ``"d"``).

    Args:
        params: the recipe's ``[data.params]``.
        root: the data root (see the module docstring); ``None``: ``GANFW_DATA`` or the cache.
        limit: keep only the first ``limit`` training images (``None``: all 60,000).
    """

    image_shape = (1, 28, 28)
    class_names = tuple(str(digit) for digit in range(10))

    def __init__(self, params: MNISTParams, root: str | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        self.params = params
        self.root, self.root_source = resolve_root(root)
        self.limit = limit

    def load(self) -> Tensor:
        """All (or the first ``limit``) training images, (N, 1, 28, 28) float32 in [-1, 1] on
        the CPU: pixel ``p`` in 0..255 becomes ``(p - 127.5) / 127.5``."""
        data = self.load_split(train=True)[: self.limit]
        return data.unsqueeze(1).to(torch.float32).sub_(127.5).div_(127.5)

    def load_labels(self) -> Tensor:
        """The digit of each image of :meth:`load`, in the same order: (N,) int64 in 0..9."""
        return load_labels(self.root, True, download=self.params.download, source=self.root_source)[: self.limit]

    def load_split(self, train: bool) -> Tensor:
        """One split as stored, (N, 28, 28) uint8: 60,000 training or 10,000 test images."""
        return load_split(self.root, train, download=self.params.download, source=self.root_source)


def _not_found(raw: Path, source: str, missing: list[str], why: str) -> UserError:
    partial = f"; missing: {', '.join(missing)}" if len(missing) < len(IDX_FILES) else ""
    return UserError(
        f"MNIST not found in {raw} (root from {source}; {why}): put the four IDX files "
        f"{', '.join(IDX_FILES)} there ({_HINT}){partial}"
    )


def _check_split(raw: Path, train: bool) -> None:
    """Raise a :class:`UserError` naming the first IDX file of the split that is not well formed."""
    prefix = "train" if train else "t10k"
    _check_idx(raw / f"{prefix}-images-idx3-ubyte", _IMAGES_MAGIC, (28, 28))
    _check_idx(raw / f"{prefix}-labels-idx1-ubyte", _LABELS_MAGIC, ())


def _check_idx(path: Path, magic: int, item_shape: tuple[int, ...]) -> None:
    """An IDX file: big-endian magic, one uint32 per dimension, then exactly that many bytes."""
    ndim = 1 + len(item_shape)
    header_size = 4 * (1 + ndim)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            header = f.read(header_size)
    except OSError as e:
        raise UserError(f"cannot read MNIST file {path}: {e.strerror or e}") from None
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
        raise UserError(
            f"corrupt MNIST file {path}: {problem}; delete it and download it again ({_HINT})"
        )


def _one_line(e: BaseException, limit: int = 300) -> str:
    """An exception's message squeezed onto one line (torchvision's download errors span several)."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
