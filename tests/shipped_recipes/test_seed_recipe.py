"""recipes/mnist_dcgan_seed.toml is the course's run, exactly (the TensorFlow DCGAN tutorial)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganfw.contracts import Decision
from ganfw.engine import assemble
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from ganfw.training.data import epoch_order

SEED = Path(__file__).resolve().parents[2] / "recipes" / "mnist_dcgan_seed.toml"


@pytest.fixture(scope="module")
def recipe(mnist_root):
    return load_recipe(SEED, load_registry(), [f"data.root={str(mnist_root)!r}", "train.device='cpu'"])


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, recipe):
    return assemble(recipe, RunDir(tmp_path_factory.mktemp("seed")), PlainReporter())


def keras_count(module) -> int:
    """Parameters as Keras counts them: trainable ones plus BatchNorm moving mean and variance."""
    buffers = sum(b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    return sum(p.numel() for p in module.parameters()) + buffers


def test_the_course_settings(recipe, trainer):
    assert recipe.train.epochs == 50 and recipe.train.batch_size == 256 and not recipe.train.drop_last
    assert recipe.train.precision == "fp32"
    for net in ("generator", "discriminator"):
        optim = recipe.optim[net]  # Keras Adam(1e-4) defaults
        assert (optim.lr, optim.betas, optim.eps, optim.weight_decay) == (1e-4, [0.9, 0.999], 1e-7, 0.0)
    assert recipe.loss.ref == "non-saturating" and recipe.loss.params.label_smoothing == 0.0
    assert recipe.schedule.ref == "simultaneous"
    assert trainer.parts.schedule.obj.decide(0) == Decision(train_d=True, train_g=True, joint=True)
    assert recipe.output.samples == 16  # a 4x4 grid each epoch


def test_every_epoch_covers_all_60000_images_in_235_steps(recipe, trainer):
    assert len(trainer.parts.data.images) == 60_000
    assert float(trainer.parts.data.images.min()) == -1.0 and float(trainer.parts.data.images.max()) == 1.0
    assert trainer.clock.steps_per_epoch == 235  # 234 full batches of 256 and a last one of 96
    order = epoch_order(recipe.train.seed, 0, len(trainer.parts.data), trainer.ranks, trainer.device)
    assert len(order[234 * 256 :]) == 96


def test_the_course_networks(trainer):
    assert trainer.parts.G.latent_dim == 100
    assert keras_count(trainer.parts.G) == 2_330_944
    assert keras_count(trainer.parts.D) == 212_865
