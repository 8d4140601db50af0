"""The reference set: the MNIST test split (10,000 digits) as a feature space sees it, computed
once and cached on disk.

The cache is ``$XDG_CACHE_HOME/ganfw/reference/`` (else ``~/.cache/ganfw/reference/``), one
safetensors file per feature space, named by its key (which holds the judge weights' hash), so
new weights never meet stale features. Files are written atomically; an unreadable one is
computed again.
"""

from __future__ import annotations

from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganfw.atomic import atomic_path
from ganfw.contracts import Embedding
from ganfw.evaluation.features import FeatureSpace
from ganfw.evaluation.images import from_uint8
from ganfw.paths import user_cache_dir
from ganfw_plugins.mnist.dataset import load_split, resolve_root


def cache_dir() -> Path:
    """Where reference features are kept."""
    return user_cache_dir() / "reference"


def cache_path(space: FeatureSpace) -> Path:
    return cache_dir() / f"mnist-test-{space.key}.safetensors"


def reference_embedding(space: FeatureSpace, data_root: str | None = None) -> Embedding:
    """The MNIST test split embedded by ``space``: features (10000, D), logits (10000, 10).

    ``data_root``: where MNIST is (see :mod:`ganfw_plugins.mnist.dataset`; default ``GANFW_DATA``,
    then the user cache, downloading when missing); only read when the cache lacks the features.
    """
    path = cache_path(space)
    try:
        saved = load_file(str(path))
        return Embedding(saved["features"], saved["logits"])
    except (FileNotFoundError, SafetensorError, OSError, KeyError, ValueError):
        pass
    root, source = resolve_root(data_root)
    embedding = space.embed(from_uint8(load_split(root, train=False, download=True, source=source)))
    with atomic_path(path) as tmp:
        save_file({"features": embedding.features.contiguous(), "logits": embedding.logits.contiguous()}, str(tmp))
    return embedding
