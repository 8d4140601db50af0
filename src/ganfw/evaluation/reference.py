"""The reference set: the dataset's held-out split (``Dataset.held_out()``, e.g. the MNIST test
digits) as a feature space sees it, computed once and cached on disk.

The cache is ``$XDG_CACHE_HOME/ganfw/reference/`` (else ``~/.cache/ganfw/reference/``), one
safetensors file per dataset key and feature space key (which holds the judge weights' hash), so
new weights or another dataset never meet stale features. Files are written atomically; an
unreadable one is computed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ganfw.atomic import atomic_path
from ganfw.contracts import Embedding, Split
from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.features import FeatureSpace
from ganfw.evaluation.judges import file_name
from ganfw.paths import user_cache_dir


@dataclass(frozen=True)
class Reference:
    """The held-out split as a feature space sees it: ``embedding`` (M rows) and the split's
    name (``"test"`` for a dataset's own test set, else ``"held-out"``)."""

    embedding: Embedding
    split: str


def cache_dir() -> Path:
    """Where reference features are kept."""
    return user_cache_dir() / "reference"


def cache_path(space: FeatureSpace, data: EvalData) -> Path:
    return cache_dir() / f"{file_name(data.key).removesuffix('.safetensors')}-{space.key}.safetensors"


def reference_embedding(space: FeatureSpace, data: EvalData) -> Reference:
    """The held-out split of ``data`` embedded by ``space``: features (M, D), logits (M, K);
    the dataset is only read when the cache lacks them."""
    path = cache_path(space, data)
    try:
        with safe_open(str(path), framework="pt") as f:
            return Reference(Embedding(f.get_tensor("features"), f.get_tensor("logits")), f.metadata()["split"])
    except (FileNotFoundError, SafetensorError, OSError, KeyError, TypeError, ValueError):
        pass
    split = held_out(data)
    reference = Reference(space.embed(split.images), split_name(split))
    with atomic_path(path) as tmp:
        save_file(
            {"features": reference.embedding.features.contiguous(), "logits": reference.embedding.logits.contiguous()},
            str(tmp),
            metadata={"split": reference.split, "dataset": data.key},
        )
    return reference


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
