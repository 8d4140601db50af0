"""Fixtures for tests of evaluation: a user cache holding MNIST's reference features, MNIST as
evaluation sees it, real digits, and a tiny dataset plugin of another shape.

Its fixtures (``reference_cache``, ``cache_home``, ``mnist_data``, ``train_digits``, ``tiny_plugin``)
are registered for the whole suite by ``conftest.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from ganfw.evaluation import datasets
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.features import feature_space
from ganfw.evaluation.images import from_uint8
from ganfw.evaluation.reference import reference_embedding
from ganfw.plugins import load_registry
from ganfw_plugins.mnist.dataset import load_split
from tests.helpers.cli import make_distribution


@pytest.fixture(scope="session")
def mnist_data(mnist_root: Path) -> EvalData:
    """The ``mnist`` dataset component, built from the real data, as evaluation names it."""
    return datasets.from_argument("mnist", load_registry(), str(mnist_root))


@pytest.fixture(scope="session")
def cache_home(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """A fresh ``XDG_CACHE_HOME`` for the session, with the MNIST judge's reference features in
    it (computed once from the real MNIST test split)."""
    home = tmp_path_factory.mktemp("cache")
    data = datasets.from_argument("mnist", load_registry(), str(mnist_root))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(home))
        reference_embedding(feature_space("judge", data), data)
    return home


@pytest.fixture
def reference_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``XDG_CACHE_HOME`` at :func:`cache_home` for one test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    return cache_home


@pytest.fixture(scope="session")
def train_digits(mnist_root: Path) -> torch.Tensor:
    """The first 2,000 MNIST training digits, (2000, 1, 28, 28) in [-1, 1]."""
    return from_uint8(load_split(mnist_root, train=True)[:2000])


TINY_PLUGIN = '''
"""Dataset ``tiny``: small images of K classes, each class a brighter square in its own place
and colour, on noise; 200 training and 50 held-out images per class."""

from dataclasses import dataclass

import torch

from ganfw import ComponentSpec, hookimpl, param
from ganfw.contracts import Dataset, Split

GANFW_API = 2


@dataclass(frozen=True)
class TinyParams:
    channels: int = param(3, "1 or 3")
    size: int = param(16, "height and width")
    classes: int = param(3, "number of classes")
    labelled: bool = param(True, "hand out labels")
    held_out: bool = param(True, "offer a held-out split")
    key: str = param("tiny", "the dataset key")


def draw(params, n_per_class, seed):
    """(K * n, C, S, S) images in [-1, 1] and their labels."""
    g = torch.Generator().manual_seed(seed)
    c, s, k = params.channels, params.size, params.classes
    labels = torch.arange(k).repeat_interleave(n_per_class)
    images = torch.rand(len(labels), c, s, s, generator=g) * 0.6 - 1
    for i, label in enumerate(labels.tolist()):
        top, left = (label * 5) % (s - 6), (label * 3) % (s - 6)
        images[i, label % c, top:top + 6, left:left + 6] = 0.9
    return images, labels


class Tiny(Dataset):
    def __init__(self, params, root=None, limit=None):
        self.params = params
        self.image_shape = (params.channels, params.size, params.size)
        self.class_names = tuple(f"class{k}" for k in range(params.classes)) if params.labelled else ()
        self.key = params.key

    def load(self):
        return draw(self.params, 200, seed=1)[0]

    def load_labels(self):
        return draw(self.params, 200, seed=1)[1] if self.params.labelled else None

    def held_out(self):
        if not self.params.held_out:
            return None
        images, labels = draw(self.params, 50, seed=2)
        return Split(images, labels if self.params.labelled else None)


@hookimpl
def ganfw_datasets():
    return [ComponentSpec(name="tiny", kind="dataset", summary="tiny images of a few classes",
                          factory="ganfw_tiny_plugin:Tiny", params=TinyParams)]
'''


@pytest.fixture(scope="session")
def tiny_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the ``tiny`` dataset plugin (put it on sys.path to use it); beside
    it, ``probed/``: a user cache in which ``train.precision = "auto"`` (as ``ganfw train-judge``
    asks for) has been resolved on the CPU, once a session. Where the CPU needs a probe (vector
    bf16 without AMX) the probe reads as a quiet machine's and is cached (a busy one's is never
    cached, and every test would probe again); it is taken afresh (``refresh``), as a probe this
    worker took earlier on a busy machine is held for the process and would not be cached. On a
    CPU whose flags decide (AMX, AVX2 only) nothing is probed and the cache stays empty."""
    from ganfw import precision

    site = tmp_path_factory.mktemp("tiny") / "site"
    make_distribution(site, "ganfw-tiny", "0.1", {"ganfw_tiny_plugin": TINY_PLUGIN})
    probed = site.parent / "probed"
    probed.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(probed))
        mp.setattr(precision, "_measure", lambda device, dtype: precision.Probe(1.5))
        precision.resolve_precision("auto", torch.device("cpu"), refresh=True)
    return site


@pytest.fixture
def tiny_plugin(tiny_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``tiny`` plugin installed for one test (in this process), with a fresh user cache
    (no judge of it yet; the precision probe's result in it); returns the cache."""
    monkeypatch.syspath_prepend(str(tiny_site))
    shutil.copytree(tiny_site.parent / "probed", tmp_path / "cache", dirs_exist_ok=True)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"
