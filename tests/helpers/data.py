"""Fixtures for tests that need the real datasets, and where the suite finds them.

The data is never copied into the repository. The suite looks for each dataset's four IDX files
in ``<root>/<Folder>/raw/`` (torchvision's layout; ``<Folder>`` is ``MNIST`` or ``FashionMNIST``)
for ``<root>`` in this order: the ``GANFW_DATA`` environment variable, ``../shared/data`` beside
the checkout (CI lays it out so), the user cache (``ganfw.paths.user_cache_dir()/data``, ganfw's
own default data root). When none holds them, they are downloaded once into the user cache, as a
run with ``data.params.download = true`` downloads them; ``GANFW_TEST_OFFLINE=1`` forbids that
download. ``conftest.py`` finds MNIST before a session that holds a test marked ``mnist`` starts (stopping
it with one line when it cannot) and exports its root as ``GANFW_DATA``; Fashion-MNIST is found
when a test first asks. The fixtures are registered for the whole suite by ``conftest.py``.
"""

from __future__ import annotations

import functools
import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from ganfw.paths import user_cache_dir
from ganfw_plugins.fashion_mnist.dataset import SOURCE as FASHION_MNIST
from ganfw_plugins.mnist.dataset import SOURCE as MNIST

#: The checkout this file belongs to.
CHECKOUT = Path(__file__).resolve().parents[2]

#: Set to ``1`` to forbid downloading the data (a session without it then stops at once).
OFFLINE_ENV = "GANFW_TEST_OFFLINE"

#: The four uncompressed IDX files of MNIST and of Fashion-MNIST (the same names).
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: A place to look: its name in messages and its root (``None``: not set).
Place = tuple[str, Path | None]


class DataMissing(Exception):
    """A dataset is in none of the places and could not be downloaded; the message is one line."""


def data_places(checkout: Path = CHECKOUT) -> list[Place]:
    """Where the suite looks for the data, in order; the last one (the user cache) is where a
    download goes."""
    env = os.environ.get("GANFW_DATA")
    return [
        ("GANFW_DATA", Path(env).expanduser().absolute() if env else None),
        ("../shared/data", checkout.parent / "shared" / "data"),
        ("the user cache", user_cache_dir() / "data"),
    ]


def holds(root: Path | None, folder: str) -> bool:
    """Whether ``<root>/<folder>/raw`` has the four IDX files."""
    return root is not None and all((root / folder / "raw" / name).is_file() for name in MNIST_FILES)


def find_data_root(folder: str, places: Sequence[Place], download: Callable[[Path, str], None]) -> Path:
    """The first of ``places`` whose root holds ``folder``'s four IDX files; else the last place's
    root, after ``download(root, folder)`` has put them there.

    Raises :class:`DataMissing` (one line: where to put the files) when ``download`` raises.
    """
    for _, root in places:
        if holds(root, folder):
            return root
    cache = places[-1][1]
    try:
        download(cache, folder)
    except Exception as e:  # offline, or anything else that kept the files from coming
        where = ", ".join(f"{name} ({root or 'not set'})" for name, root in places)
        reason = " ".join(str(e).split()) or type(e).__name__
        raise DataMissing(
            f"{folder} test data not found: put the four uncompressed IDX files {', '.join(MNIST_FILES)} "
            f"in <root>/{folder}/raw/ with <root> one of: {where} (no download: {reason})"
        ) from None
    return cache


def download_with_plugin(root: Path, folder: str) -> None:
    """Download ``folder``'s files into ``root`` and check them, as a run of the mnist or
    fashion_mnist plugin with ``data.params.download = true`` does; unless ``GANFW_TEST_OFFLINE=1``."""
    if os.environ.get(OFFLINE_ENV) == "1":
        raise RuntimeError(f"{OFFLINE_ENV}=1")
    source = {s.folder: s for s in (MNIST, FASHION_MNIST)}[folder]
    for train in (True, False):
        source.load_split(root, train, download=True, source="the test suite's user cache")


#: Where this session looks: the places as the suite started, before ``GANFW_DATA`` was exported.
SESSION_PLACES = data_places()


@functools.cache
def session_data_root(folder: str) -> Path:
    """The root holding ``folder`` for this session (see :func:`find_data_root`), found once."""
    return find_data_root(folder, SESSION_PLACES, download_with_plugin)


def _root_holding(folder: str) -> Path:
    """The session's root for ``folder``; fails (never skips) the test when the data cannot be had:
    these tests must run wherever the suite runs."""
    try:
        return session_data_root(folder)
    except DataMissing as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The data root holding ``MNIST/raw/`` with the four uncompressed IDX files."""
    return _root_holding("MNIST")


@pytest.fixture(scope="session")
def fashion_mnist_root() -> Path:
    """The data root holding ``FashionMNIST/raw/`` with the four uncompressed IDX files."""
    return _root_holding("FashionMNIST")


# --- IDX files read and written by hand ---------------------------------------------------------


def read_idx_labels(path: Path, count: int | None = None) -> np.ndarray:
    """The first ``count`` (default: all) labels of an IDX label file, read by hand."""
    with open(path, "rb") as f:
        magic, n = struct.unpack(">2I", f.read(8))
        assert magic == 0x801 and n >= (count or 0)
        return np.frombuffer(f.read(count if count is not None else n), dtype=np.uint8)


def read_idx_images(path: Path, count: int | None = None) -> np.ndarray:
    """The first ``count`` (default: all) images of an IDX image file, (count, rows, cols) uint8."""
    with open(path, "rb") as f:
        magic, n, rows, cols = struct.unpack(">4I", f.read(16))
        count = n if count is None else count
        assert magic == 0x803 and n >= count
        return np.frombuffer(f.read(count * rows * cols), dtype=np.uint8).reshape(count, rows, cols)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(f">I{array.ndim}I", 0x800 + array.ndim, *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_tiny_idx_root(root: Path, folder: str) -> Path:
    """Four small, valid IDX files in ``<root>/<folder>/raw``: 3 training images (all 0, all 255,
    a 0..255 ramp) labelled 0, 1, 2, and 2 test images (all 0, all 255) labelled 3, 4. Returns
    ``root``."""
    raw = root / folder / "raw"
    ramp = np.arange(28 * 28).reshape(28, 28) % 256
    write_idx(raw / "train-images-idx3-ubyte", np.stack([np.zeros((28, 28)), np.full((28, 28), 255), ramp]))
    write_idx(raw / "train-labels-idx1-ubyte", np.array([0, 1, 2]))
    write_idx(raw / "t10k-images-idx3-ubyte", np.stack([np.zeros((28, 28)), np.full((28, 28), 255)]))
    write_idx(raw / "t10k-labels-idx1-ubyte", np.array([3, 4]))
    return root
