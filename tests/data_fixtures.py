"""Fixtures for tests that need the real datasets.

The data lives beside the checkout, in ``../shared/data`` (torchvision's layout; CI lays it out the
same way). It is never copied into the repository. Import the fixtures you use into your test
module: ``from data_fixtures import mnist_root``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: ``<checkout>/../shared/data``.
DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"

MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The data root holding ``MNIST/raw/`` with the four uncompressed IDX files.

    Fails (never skips) when they are missing: these tests must run wherever the suite runs.
    """
    raw = DATA_ROOT / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        pytest.fail(
            f"MNIST test data missing: {raw} lacks {', '.join(missing)}; put the four uncompressed "
            "IDX files there (../shared/data/MNIST/raw beside the checkout)",
            pytrace=False,
        )
    return DATA_ROOT
