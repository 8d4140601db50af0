"""Recipe values that validate one by one but cannot work together, found before training
(by ``ganfw check`` and by ``ganfw run`` before its first step)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ganfw.contracts import Dataset
from ganfw.errors import UserError
from ganfw.paths import resolve_data_root
from ganfw.plugins import Registry
from ganfw.recipe import Recipe


def has_batchnorm(*nets: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for net in nets for m in net.modules())


def check_last_batch(recipe: Recipe, n_images: int, world: int, nets: tuple[nn.Module, ...]) -> None:
    """Refuse an epoch whose last batch holds a single image when a network has batch norm
    (its training statistics are undefined on one value per channel): one line naming the keys."""
    train = recipe.train
    share = n_images // world  # images each rank sees an epoch
    if train.drop_last or share % train.batch_size != 1 or not has_batchnorm(*nets):
        return
    raise UserError(
        f"{recipe.path}: train.batch_size = {train.batch_size} leaves a last batch of one image "
        f"({share} images an epoch{' per rank' if world > 1 else ''}), which batch norm cannot train on; "
        "set train.drop_last = true, or change train.batch_size or data.limit"
    )


def steps_per_epoch(recipe: Recipe, n_images: int, world: int, nets: tuple[nn.Module, ...]) -> int:
    """Steps in one epoch of ``n_images`` shared by ``world`` ranks; refuses an epoch with no
    step or with a last batch batch norm cannot train on."""
    n, bs = n_images // world, recipe.train.batch_size  # images each rank sees an epoch
    steps = n // bs if recipe.train.drop_last else math.ceil(n / bs)
    if steps == 0:
        raise UserError(f"train.batch_size = {bs} exceeds the {n} images with train.drop_last = true")
    check_last_batch(recipe, n_images, world, nets)
    return steps


def check_evaluation(recipe: Recipe, registry: Registry, dataset: Dataset, conditional: bool) -> None:
    """Refuse, before training, an ``[eval]`` that could not run after the first epoch: a metric
    that needs labels (``conditional-accuracy``) for an unconditional generator, a dataset
    without a held-out split or without a judge for the metrics asked (this also embeds the
    held-out split once, into the cache the evaluations read)."""
    from ganfw.evaluation.datasets import of_run
    from ganfw.evaluation.evaluate import needs_labels, prepare

    if not recipe.eval.every or not recipe.eval.metrics:
        return
    for name in recipe.eval.metrics:
        if not conditional and needs_labels(registry.resolve("metric", name)):
            raise UserError(
                f"{recipe.path}: eval.metrics: {name!r} scores a class-conditional generator, "
                f"but {recipe.generator.who} takes no labels"
            )
    try:
        with torch.random.fork_rng(devices=[]):  # a cold cache's embedding must not move training's stream
            data = of_run(dataset, recipe.data, str(recipe.path))
            prepare(data, recipe.eval.metrics, registry, features=recipe.eval.features)
    except UserError as e:
        raise UserError(
            f"{recipe.path}: [eval] cannot score this run (set eval.every = 0 to train without): {e}"
        ) from None


def check_recipe(recipe: Recipe) -> None:
    """What ``ganfw check`` can tell without the data: with ``data.limit`` set, the last batch."""
    if recipe.data_limit is None:
        return
    from ganfw.networks import build_network

    root, _ = resolve_data_root(recipe.data_root)
    dataset = recipe.data.build(root=str(root), limit=recipe.data_limit)
    shape = tuple(dataset.image_shape)
    nets = (build_network(recipe.generator, dataset, shape), build_network(recipe.discriminator, dataset, shape))
    check_last_batch(recipe, recipe.data_limit, 1, nets)
