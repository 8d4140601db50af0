"""Checkpoints of a class-conditional generator, written directly (no training), for tests of
``ganfw sample --label`` and of conditional evaluation.

The generator is a test plugin's ``templates``: one learned image per class, returned for each
label (plus a trace of the noise), so the judge reads every image as the class it was asked for
once the templates are real digits. Its fixtures (``conditional_site``, ``conditional_run``,
``unconditional_run``...) are registered for the whole suite by ``conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import tomli_w
import torch

from ganfw.checkpoint import checkpoint_name, save_checkpoint
from ganfw.evaluation.images import from_uint8
from ganfw_plugins.mlp import MLPGeneratorParams
from ganfw_plugins.mlp.models import MLPGenerator
from ganfw_plugins.mnist.dataset import load_labels, load_split
from tests.helpers.cli import make_distribution

CLASS_NAMES = [str(d) for d in range(10)]

TEMPLATES_PLUGIN = '''
"""A conditional generator that draws one learned template per class."""

import torch
from torch import nn

from ganfw import ComponentSpec, hookimpl
from ganfw.contracts import Generator

GANFW_API = 2


class TemplateGenerator(Generator):
    """images (N, C, H, W) = templates[labels] + noise[:, 0] / 1000, for z (N, 4), labels (N,)."""

    latent_dim = 4

    def __init__(self, params, image_shape, num_classes):
        super().__init__()
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        self.templates = nn.Parameter(torch.zeros(num_classes, *image_shape))

    def forward(self, z, labels=None):
        return self.templates[labels] + z[:, :1, None, None] / 1000


@hookimpl
def ganfw_generators():
    return [ComponentSpec(name="templates", kind="generator", summary="one template per class",
                          factory="ganfw_templates_plugin:TemplateGenerator", conditional=True)]
'''


def recipe_text(generator: dict[str, Any], root: Path) -> str:
    """The TOML recipe a checkpoint of ``generator`` carries (an MLP D, MNIST from ``root``)."""
    return tomli_w.dumps(
        {
            "generator": generator,
            "discriminator": {"name": "mlp", "params": {"hidden": [8]}},
            "data": {"name": "mnist", "root": str(root)},
            "train": {"device": "cpu", "precision": "fp32"},
        }
    )


def write_checkpoint(run: Path, recipe: str, modules: dict[str, torch.nn.Module], **state: Any) -> Path:
    """A checkpoint as training leaves it, in ``run/checkpoints``, holding ``modules``' weights
    and the JSON ``state`` (num_classes, class_names, sampler ...) over the training defaults."""
    path = run / "checkpoints" / checkpoint_name(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {
        "step": 1,
        "elapsed_s": 0.0,
        "steps_per_epoch": 1,
        "image_shape": [1, 28, 28],
        "world": 1,
        "scalers": {},
        "updates": {"d": 0, "g": 0},
        "recipe": recipe,
        "parts": {"loss": {}, "schedule": {}},
        "sampler": "generator",
    }
    save_checkpoint(path, modules, {}, {}, {**base, **state})
    return path


@pytest.fixture(scope="session")
def digit_templates(mnist_root: Path) -> torch.Tensor:
    """One real training digit of each class, (10, 1, 28, 28) in [-1, 1]: template ``c`` is a ``c``."""
    images, labels = load_split(mnist_root, train=True)[:500], load_labels(mnist_root, train=True)[:500]
    return from_uint8(torch.stack([images[labels == c][0] for c in range(10)]))


@pytest.fixture(scope="session")
def conditional_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the ``templates`` plugin (put it on sys.path to use it)."""
    site = tmp_path_factory.mktemp("conditional") / "site"
    make_distribution(site, "ganfw-templates", "0.1", {"ganfw_templates_plugin": TEMPLATES_PLUGIN})
    return site


@pytest.fixture
def templates_plugin(conditional_site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The ``templates`` plugin installed for one test (in this process)."""
    monkeypatch.syspath_prepend(str(conditional_site))
    return conditional_site


def template_generator(templates: torch.Tensor) -> torch.nn.Module:
    """A module whose state is a ``templates`` generator's (without importing the plugin)."""
    module = torch.nn.Module()
    module.templates = torch.nn.Parameter(templates.clone())
    return module


@pytest.fixture(scope="session")
def conditional_run(tmp_path_factory: pytest.TempPathFactory, digit_templates: torch.Tensor, mnist_root: Path) -> Path:
    """A run directory whose checkpoint holds a ``templates`` generator of real digits."""
    run = tmp_path_factory.mktemp("conditional-run") / "run"
    write_checkpoint(
        run,
        recipe_text({"name": "templates"}, mnist_root),
        {"generator": template_generator(digit_templates)},
        num_classes=10,
        class_names=CLASS_NAMES,
    )
    return run


@pytest.fixture(scope="session")
def unconditional_run(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> Path:
    """A run directory whose checkpoint holds an untrained MLP generator (of a labelled dataset)."""
    run = tmp_path_factory.mktemp("unconditional-run") / "run"
    params = {"latent_dim": 4, "hidden": [8]}
    torch.manual_seed(0)
    generator = MLPGenerator(MLPGeneratorParams(**params), image_shape=(1, 28, 28))
    write_checkpoint(
        run,
        recipe_text({"name": "mlp", "params": params}, mnist_root),
        {"generator": generator},
        num_classes=10,
        class_names=CLASS_NAMES,
    )
    return run
