"""The reference set: the dataset's held-out split (``Dataset.held_out()``, e.g. the MNIST test
digits; the quick protocol) or its training images (the paper protocol) as a feature space sees
them, computed once and cached on disk.

The cache is ``$XDG_CACHE_HOME/ganfw/reference/`` (else ``~/.cache/ganfw/reference/``), one
safetensors file per dataset key, split and feature space key (which holds the networks'
weights' hashes), so new weights or another dataset never meet stale features; the images
themselves (uint8), for metrics that read pixels, in one more file per dataset and split. Files
are written atomically; an unreadable one is computed again. Computing them is said first, in
one line on stderr (:func:`announce`): it takes seconds to minutes, once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ganfw.artifacts import to_uint8
from ganfw.atomic import atomic_path
from ganfw.contracts import Embedding, Split
from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.features import FeatureSpace
from ganfw.evaluation.images import from_uint8
from ganfw.evaluation.judges import file_name
from ganfw.paths import user_cache_dir


@dataclass(frozen=True)
class Reference:
    """The real images scored against, as a feature space sees them: ``embedding`` (M rows,
    with the images (M, C, H, W) in [-1, 1] when a metric reads pixels) and the split's name
    (``"test"`` for a dataset's own test set, ``"held-out"`` for images set aside from training,
    ``"train"`` for the training images of the paper protocol)."""

    embedding: Embedding
    split: str


def cache_dir() -> Path:
    """Where reference features are kept."""
    return user_cache_dir() / "reference"


def cache_path(key: str, data: EvalData, split: str) -> Path:
    """The cache file of ``data``'s ``split`` (``"held-out"`` or ``"train"``) under ``key``."""
    part = "" if split == "held-out" else f"-{split}"
    return cache_dir() / f"{file_name(data.key).removesuffix('.safetensors')}{part}-{key}.safetensors"


def reference_embedding(
    space: FeatureSpace, data: EvalData, split: str = "held-out", images: bool = False
) -> Reference:
    """``data``'s ``split`` (``"held-out"``: its held-out split; ``"train"``: its training images)
    embedded by ``space``: features (M, D), logits (M, K), and with ``images`` the images too; the
    dataset is only read when the cache lacks them."""
    cached = _read(cache_path(space.key, data, split), ("features", "logits"))
    pixels = _read(cache_path("images", data, split), ("images",)) if images else None
    if cached is None or (images and pixels is None):
        real = real_images(data, split)  # first: a dataset without the split is refused in one line
        announce(space, data, split)
        if cached is None:
            embedded = space.embed(real.images)
            cached = {"features": embedded.features, "logits": embedded.logits, "split": real.name}
            _write(cache_path(space.key, data, split), cached, real.name, data.key)
        if images and pixels is None:
            pixels = {"images": to_uint8(real.images), "split": real.name}
            _write(cache_path("images", data, split), pixels, real.name, data.key)
    pixel_images = from_uint8(pixels["images"]) if images and pixels is not None else None
    embedding = Embedding(cached["features"], cached["logits"], images=pixel_images)
    return Reference(embedding, cached["split"])


def announce(space: FeatureSpace, data: EvalData, split: str) -> None:
    """Say, before it starts, that ``data``'s ``split`` is read and embedded once into the cache
    (``embedding the held-out split of mnist once, in judge features (cached in ...)...``)."""
    what = "the training images" if split == "train" else "the held-out split"
    print(
        f"embedding {what} of {data.key} once, in {space.name} features (cached in {cache_dir()})...",
        file=sys.stderr,
        flush=True,
    )


def _read(path: Path, names: tuple[str, ...]) -> dict | None:
    """The tensors ``names`` and the split's name in the cache file ``path``; ``None`` when it is
    missing or unreadable."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {**{name: f.get_tensor(name) for name in names}, "split": f.metadata()["split"]}
    except (FileNotFoundError, SafetensorError, OSError, KeyError, TypeError, ValueError):
        return None


def _write(path: Path, tensors: dict, split: str, dataset: str) -> None:
    with atomic_path(path) as tmp:
        save_file(
            {k: v.contiguous() for k, v in tensors.items() if isinstance(v, torch.Tensor)},
            str(tmp),
            metadata={"split": split, "dataset": dataset},
        )


def real_images(data: EvalData, split: str) -> Split:
    """``data``'s held-out split (checked) or, for ``"train"``, its training images."""
    if split == "held-out":
        return held_out(data)
    return Split(training_images(data), name="train")


def training_images(data: EvalData) -> torch.Tensor:
    """All the training images of ``data`` (N, C, H, W) in [-1, 1]: :meth:`Dataset.load`, or
    for a dataset streamed by iteration the one pass of its epoch 0."""
    dataset = data.dataset
    if dataset.iterable:
        return torch.stack([image for image, _ in dataset.iterate(0, 1, 0, 0)])
    return dataset.load()


def split_name(split: Split) -> str:
    """The split's name in score protocols: ``"test"`` or ``"held-out"``."""
    return split.name


def held_out(data: EvalData) -> Split:
    """``data``'s held-out split, checked: images (M, C, H, W) float of the dataset's shape."""
    split = data.dataset.held_out()
    if split is None:
        raise UserError(
            f"the dataset {data.describe()} has no held-out split to score against (its held_out() gives None)"
        )
    if not isinstance(split, Split):
        raise UserError(
            f"the dataset {data.key!r} broke its contract: held_out() gave a {type(split).__name__}, "
            "expected a ganfw.plugin.Split (images, labels, name) or None"
        )
    images, shape = split.images, tuple(data.dataset.image_shape)
    if (
        not isinstance(images, torch.Tensor)
        or images.ndim != 4
        or tuple(images.shape[1:]) != shape
        or not images.is_floating_point()
        or not len(images)
    ):
        got = f"{images.dtype} {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
        raise UserError(
            f"the dataset {data.key!r} broke its contract: held_out() gave images {got}, "
            f"expected float (M, {', '.join(map(str, shape))}) with M > 0"
        )
    return split
