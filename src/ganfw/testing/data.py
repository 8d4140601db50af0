"""Contract checks for datasets."""

from __future__ import annotations

import torch

from ganfw.contracts import Dataset
from ganfw.testing.contract import check_tensor, expect


def check_dataset(dataset: Dataset, limit: int | None = None) -> None:
    """Check a built dataset: a :class:`ganfw.contracts.Dataset` with an ``image_shape``
    (C, H, W) whose ``load()`` returns at least one (and, when it was built with ``limit``, at
    most ``limit``) image: (N, C, H, W) float32 in [-1, 1], on the CPU. Its ``class_names`` are
    distinct non-empty strings; ``load_labels()`` is ``None`` when there are none, else (N,) int64
    in [0, K) on the CPU, one label per image."""
    expect(isinstance(dataset, Dataset), f"is a {type(dataset).__name__}, not a ganfw.contracts.Dataset")
    shape = tuple(dataset.image_shape)
    expect(
        len(shape) == 3 and all(isinstance(n, int) and n >= 1 for n in shape),
        f"image_shape is {dataset.image_shape!r}, expected (C, H, W)",
    )
    images = dataset.load()
    n = len(images) if isinstance(images, torch.Tensor) and images.dim() == 4 else 0
    expect(n >= 1, f"load() returned {getattr(images, 'shape', images)!r}, expected (N, C, H, W) with N >= 1")
    expect(limit is None or n <= limit, f"load() returned {n} images, more than limit={limit}")
    check_tensor("load()", images, (n, *shape), dtype=torch.float32, low=-1.0, high=1.0)
    expect(images.device.type == "cpu", f"load() returned images on {images.device}, expected the CPU")
    _check_labels(dataset, n)


def _check_labels(dataset: Dataset, n: int) -> None:
    names = dataset.class_names
    expect(
        isinstance(names, tuple) and all(isinstance(x, str) and x for x in names) and len(set(names)) == len(names),
        f"class_names is {names!r}, expected a tuple of distinct non-empty strings",
    )
    labels = dataset.load_labels()
    if not names:
        expect(labels is None, "load_labels() returned labels, but class_names is empty (an unlabelled dataset)")
        return
    expect(labels is not None, f"load_labels() returned None for a dataset with {len(names)} class names")
    check_tensor("load_labels()", labels, (n,), dtype=torch.int64, low=0, high=len(names) - 1)
    expect(labels.device.type == "cpu", f"load_labels() returned labels on {labels.device}, expected the CPU")
