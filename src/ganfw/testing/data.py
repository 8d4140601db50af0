"""Contract checks for datasets."""

from __future__ import annotations

import torch

from ganfw.contracts import Dataset, Split
from ganfw.testing.contract import ContractError, check_tensor, expect


def check_dataset(dataset: Dataset, limit: int | None = None) -> None:
    """Check a built dataset: a :class:`ganfw.contracts.Dataset` with an ``image_shape``
    (C, H, W) whose ``load()`` returns at least one (and, when it was built with ``limit``, at
    most ``limit``) image: (N, C, H, W) float32 in [-1, 1], on the CPU. Its ``class_names`` are
    distinct non-empty strings; ``load_labels()`` is ``None`` when there are none, else (N,) int64
    in [0, K) on the CPU, one label per image. ``held_out()`` (what evaluation scores against) is
    ``None`` or a :class:`ganfw.contracts.Split` of images (M, C, H, W) float32 in [-1, 1] on the
    CPU, M >= 1, with labels as ``load_labels()`` gives them (or ``None``); ``key`` is a string."""
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
    _check_held_out(dataset, shape)
    expect(isinstance(dataset.key, str), f"key is {dataset.key!r}, expected a string (empty: the component's name)")


def _check_held_out(dataset: Dataset, shape: tuple[int, ...]) -> None:
    split = dataset.held_out()
    if split is None:
        return
    expect(isinstance(split, Split), f"held_out() returned a {type(split).__name__}, expected a Split or None")
    m = len(split.images) if isinstance(split.images, torch.Tensor) and split.images.dim() == 4 else 0
    expect(m >= 1, f"held_out().images is {getattr(split.images, 'shape', split.images)!r}, expected (M, C, H, W)")
    check_tensor("held_out().images", split.images, (m, *shape), dtype=torch.float32, low=-1.0, high=1.0)
    expect(split.images.device.type == "cpu", f"held_out().images are on {split.images.device}, expected the CPU")
    if split.labels is not None:
        k = dataset.num_classes
        expect(k > 0, "held_out() gave labels, but class_names is empty (an unlabelled dataset)")
        check_tensor("held_out().labels", split.labels, (m,), dtype=torch.int64, low=0, high=k - 1)
    expect(isinstance(split.name, str) and split.name, f"held_out().name is {split.name!r}, expected a string")


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
    if labels is None:
        raise ContractError(f"load_labels() returned None for a dataset with {len(names)} class names")
    check_tensor("load_labels()", labels, (n,), dtype=torch.int64, low=0, high=len(names) - 1)
    expect(labels.device.type == "cpu", f"load_labels() returned labels on {labels.device}, expected the CPU")
