"""recipes/folder_dcgan.toml's generator average on a small folder (issue 22): an EMA of decay
0.999 from the first step kept most of its weight on the initial generator after a 600-image
folder's 50 epochs; by half-life in images with a ramp-up it follows the generator's late weights."""

from __future__ import annotations

import math

from ganfw.plugins import load_registry
from ganfw.recipe import load_recipe
from ganfw_plugins.callbacks import EMAParams
from ganfw_plugins.callbacks.ema import GeneratorEMA
from tests.helpers.cli import RECIPES


def weight_left_on_the_start(ema: GeneratorEMA, steps: int, batch: int) -> float:
    """The weight the average still gives the generator it started from after ``steps`` steps of
    ``batch`` images (the product of each step's ``beta``), as ``on_step_end`` counts them."""
    left = 1.0
    for _ in range(steps):
        ema.images += batch
        left *= ema.beta(batch)
    return left


def test_the_folder_recipes_average_forgets_the_start_on_a_small_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    recipe = load_recipe(RECIPES / "folder_dcgan.toml", load_registry(), [f'data.params.path="{tmp_path / "photos"}"'])
    (callback,) = recipe.callbacks
    params = callback.params
    assert callback.ref == "ema" and (params.half_life_images, params.rampup) == (10000, 0.05)
    batch, epochs = recipe.train.batch_size, recipe.train.epochs
    steps = epochs * math.ceil(540 / batch)  # 600 images, 10 % held out
    assert weight_left_on_the_start(GeneratorEMA(params), steps, batch) < 1e-6
    last_epoch = weight_left_on_the_start(GeneratorEMA(params), steps - steps // epochs, batch)
    assert last_epoch < 1e-6  # already forgotten an epoch before the end
    assert weight_left_on_the_start(GeneratorEMA(EMAParams(decay=0.999)), steps, batch) > 0.6  # what it was
