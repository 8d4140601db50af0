"""Fixtures for tests that need the real datasets.

The data lives beside the checkout, in ``../shared/data`` (torchvision's layout; CI lays it out the
same way). It is never copied into the repository. Import the fixtures you use into your test
module: ``from data_fixtures import mnist_root``.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

#: ``<checkout>/../shared/data``.
DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"

#: The four uncompressed IDX files of MNIST and of Fashion-MNIST (the same names).
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def _root_holding(folder: str) -> Path:
    """``DATA_ROOT``, after checking that ``<DATA_ROOT>/<folder>/raw`` has the four IDX files.

    Fails (never skips) when they are missing: these tests must run wherever the suite runs.
    """
    raw = DATA_ROOT / folder / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        pytest.fail(
            f"{folder} test data missing: {raw} lacks {', '.join(missing)}; put the four uncompressed "
            f"IDX files there (../shared/data/{folder}/raw beside the checkout)",
            pytrace=False,
        )
    return DATA_ROOT


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
