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


def weight_before(params: EMAParams, step: int, steps: int, batch: int) -> float:
    """The weight the average holds, after ``steps`` steps of ``batch`` images, on the generator
    as it was before ``step`` (the product of the later steps' ``beta``, as ``on_step_end`` takes
    them)."""
    ema, left = GeneratorEMA(params), 1.0
    for done in range(1, steps + 1):
        ema.images += batch
        beta = ema.beta(batch)
        left *= beta if done > step else 1.0
    return left


def test_the_folder_recipes_average_forgets_the_start_on_a_small_folder(tmp_path):
    (tmp_path / "photos").mkdir()
    recipe = load_recipe(RECIPES / "folder_dcgan.toml", load_registry(), [f'data.params.path="{tmp_path / "photos"}"'])
    (callback,) = recipe.callbacks
    assert callback.ref == "ema" and (callback.params.half_life_images, callback.params.rampup) == (10000, 0.05)
    batch = recipe.train.batch_size
    steps = recipe.train.epochs * math.ceil(540 / batch)  # 600 images, 10 % held out: 450 steps
    assert weight_before(callback.params, 0, steps, batch) < 1e-9  # the initial generator
    assert weight_before(callback.params, steps // 2, steps, batch) < 0.01  # the first half of training
    assert weight_before(callback.params, steps - steps // 10, steps, batch) > 0.1  # still an average, not G alone
    old = EMAParams(decay=0.999)
    assert weight_before(old, 0, steps, batch) > 0.6 and weight_before(old, steps // 2, steps, batch) > 0.75
