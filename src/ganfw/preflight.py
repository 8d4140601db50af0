"""Recipe values that validate one by one but cannot work together, found before training
(by ``ganfw check`` and by ``ganfw run`` before its first step)."""

from __future__ import annotations

from torch import nn

from ganfw.errors import UserError
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
    raise UserError(f"{recipe.path}: train.batch_size = {train.batch_size} leaves a last batch of one image "
                    f"({share} images an epoch{' per rank' if world > 1 else ''}), which batch norm cannot train on; "
                    "set train.drop_last = true, or change train.batch_size or data.limit")


def check_recipe(recipe: Recipe) -> None:
    """What ``ganfw check`` can tell without the data: with ``data.limit`` set, the last batch."""
    if recipe.data_limit is None:
        return
    dataset = recipe.data.build(root=recipe.data_root, limit=recipe.data_limit)
    shape = dataset.image_shape
    nets = (recipe.generator.build(image_shape=shape), recipe.discriminator.build(image_shape=shape))
    check_last_batch(recipe, recipe.data_limit, 1, nets)
