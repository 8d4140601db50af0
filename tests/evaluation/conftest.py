"""Fixtures of the tests of Inception, DINOv2 and the paper protocol: weights files of the real
layouts, randomly initialised with fixed seeds (the real ones cannot be downloaded here), and a
small RGB dataset plugin ``probe`` with a run trained on it.

Through Inception every image costs about half a second on one CPU thread, so the ``probe``
data are small: 8 training and 6 held-out images of 16x16.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
import torch

from ganfw import engine
from ganfw.evaluation import inception
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.helpers.cli import make_distribution

PROBE_PLUGIN = '''
"""Dataset ``probe``: RGB 16x16 images, a bright square in one of two colours on noise; 8
training and 6 held-out images, unlabelled."""

from dataclasses import dataclass

import torch

from ganfw.plugin import ComponentSpec, Dataset, Split, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class ProbeParams:
    train: int = param(8, "training images")
    held_out: int = param(6, "held-out images")


def draw(n, seed):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(n, 3, 16, 16, generator=g) * 0.8 - 1
    for i in range(n):
        top, left = torch.randint(0, 9, (2,), generator=g).tolist()
        images[i, i % 2, top:top + 7, left:left + 7] = 0.9
    return images


class Probe(Dataset):
    image_shape = (3, 16, 16)
    key = "probe"

    def __init__(self, params, root=None, limit=None):
        self.params = params

    def load(self):
        return draw(self.params.train, seed=1)

    def held_out(self):
        return Split(draw(self.params.held_out, seed=2))


@hookimpl
def ganfw_datasets():
    return [ComponentSpec(name="probe", kind="dataset", summary="small RGB images",
                          factory="ganfw_probe_plugin:Probe", params=ProbeParams)]
'''


def random_inception(seed: int) -> torch.nn.Module:
    """torch-fidelity's Inception network, its weights drawn with ``seed``: convolutions He-normal,
    batch-norm statistics and affine terms near identity, so that activations keep their scale
    through the 94 layers and the features depend on the images."""
    from torch_fidelity import feature_extractor_inceptionv3 as tfi

    with pytest.MonkeyPatch.context() as mp:  # build the network without loading any weights
        mp.setattr(tfi, "load_state_dict_from_url", lambda *args, **kwargs: None)
        mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, *a, **k: None)
        net = tfi.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    g = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=g) * (2 / fan_in) ** 0.5)
        elif isinstance(module, torch.nn.BatchNorm2d):
            size = module.num_features
            module.running_mean.copy_(torch.randn(size, generator=g) * 0.1)
            module.running_var.copy_(torch.rand(size, generator=g) * 0.4 + 0.8)
            module.weight.copy_(torch.rand(size, generator=g) * 0.4 + 0.8)
            module.bias.copy_(torch.randn(size, generator=g) * 0.1)
    net.fc.weight.copy_(torch.randn(net.fc.weight.shape, generator=g) / 2048**0.5)
    net.fc.bias.copy_(torch.randn(net.fc.bias.shape, generator=g) * 0.1)
    return net


@pytest.fixture(scope="session")
def inception_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``weights-inception-2015-12-05-6726825d.pth``: torch-fidelity's Inception
    state dict (its layout, its file name), randomly initialised with seed 0."""
    folder = tmp_path_factory.mktemp("weights")
    torch.save(random_inception(0).state_dict(), folder / inception.WEIGHTS.name)
    return folder


@pytest.fixture
def offline_weights(inception_weights: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``GANFW_WEIGHTS`` pointing at :func:`inception_weights`, and no downloads (``GANFW_OFFLINE``)."""
    monkeypatch.setenv("GANFW_WEIGHTS", str(inception_weights))
    monkeypatch.setenv("GANFW_OFFLINE", "1")
    return inception_weights / inception.WEIGHTS.name


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the ``probe`` dataset plugin (put it on sys.path to use it)."""
    site = tmp_path_factory.mktemp("probe") / "site"
    make_distribution(site, "ganfw-probe", "0.1", {"ganfw_probe_plugin": PROBE_PLUGIN})
    return site


@pytest.fixture
def probe(probe_site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The ``probe`` plugin on sys.path for one test, with a fresh user cache (returned)."""
    monkeypatch.syspath_prepend(str(probe_site))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    yield tmp_path / "cache"


@pytest.fixture(scope="session")
def probe_run(probe_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory left by one step of a small MLP GAN on ``probe`` (8 images, one batch)."""
    folder = tmp_path_factory.mktemp("probe-run")
    recipe = folder / "probe.toml"
    recipe.write_text(
        tomli_w.dumps(
            {
                "generator": {"name": "mlp", "params": {"hidden": [16], "latent_dim": 4}},
                "discriminator": {"name": "mlp", "params": {"hidden": [16]}},
                "data": {"name": "probe"},
                "train": {"epochs": 1, "batch_size": 8, "device": "cpu", "precision": "fp32"},
                "output": {"samples": 4, "gif": False},
                "eval": {"every": 0},
            }
        ),
        encoding="utf-8",
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(probe_site))
        mp.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        assert engine.train(load_recipe(recipe, load_registry()), RunDir(folder / "run"), PlainReporter(), False)
    return folder / "run"
