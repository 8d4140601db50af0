"""Fixtures for tests of evaluation: a user cache holding the reference features, and images.

Import what you use: ``from evaluation_fixtures import reference_cache, cache_home, test_images``
(``mnist_root`` comes along, from data_fixtures).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from data_fixtures import mnist_root  # noqa: F401 - a fixture
from ganfw.evaluation.features import feature_space
from ganfw.evaluation.images import from_uint8
from ganfw.evaluation.reference import reference_embedding
from ganfw_plugins.mnist.dataset import load_split


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:  # noqa: F811
    """A fresh ``XDG_CACHE_HOME`` for the session, with the judge's reference features in it
    (computed once from the real MNIST test split)."""
    home = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(home))
        reference_embedding(feature_space("judge"), str(mnist_root))
    return home


@pytest.fixture
def reference_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``XDG_CACHE_HOME`` at :func:`cache_home` for one test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    return cache_home


@pytest.fixture(scope="session")
def train_digits(mnist_root: Path) -> torch.Tensor:  # noqa: F811
    """The first 2,000 MNIST training digits, (2000, 1, 28, 28) in [-1, 1]."""
    return from_uint8(load_split(mnist_root, train=True)[:2000])
