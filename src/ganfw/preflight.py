"""Recipe values that validate one by one but cannot work together, found before training
(by ``ganfw check`` and by ``ganfw run`` before its first step), and what the recipe's dataset
holds (:class:`DataSummary`: ``ganfw check`` inspects it, ``ganfw run`` says it in one line)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from ganfw.contracts import Dataset, Penalty, as_image_shape
from ganfw.errors import UserError
from ganfw.paths import resolve_data_root
from ganfw.plugins import Registry
from ganfw.recipe import ComponentChoice, Recipe

#: How many class names a summary shows before "...".
SHOWN_CLASSES = 6


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


def check_penalties(recipe: Recipe, penalties: list[Penalty], conditional: bool) -> None:
    """Refuse, before training, a loss with a penalty that reads class labels (``needs_labels``)
    around a discriminator that takes none."""
    for penalty in penalties:
        if penalty.needs_labels and not conditional:
            raise UserError(
                f"{recipe.path}: {recipe.loss.who} adds the penalty {penalty.name!r}, which reads class labels, "
                f"but {recipe.discriminator.who} takes none (use a class-conditional G and D on labelled data)"
            )


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


@dataclass(frozen=True)
class DataSummary:
    """What a run trains on: ``images`` training images of ``shape`` (C, H, W) from the dataset
    ``name``, its ``class_names`` (empty: unlabelled) and how many images its held-out split
    sets aside for evaluation (``held_out``: 0 for none; ``None``: not counted, for a dataset
    streamed by iteration, whose split may be large)."""

    name: str
    images: int
    shape: tuple[int, ...]
    class_names: tuple[str, ...]
    held_out: int | None

    def line(self) -> str:
        """``mnist: 60,000 training images of 1x28x28, 10 classes (0, 1, 2, 3, 4, 5, ...),
        10,000 held out for evaluation (14 % of 70,000)``."""
        return f"{self.name}: {self.images:,} training images of {'x'.join(map(str, self.shape))}, " + ", ".join(
            (self._classes(), self._held_out())
        )

    def _classes(self) -> str:
        k = len(self.class_names)
        if not k:
            return "unlabelled"
        names = ", ".join(self.class_names[:SHOWN_CLASSES]) + (", ..." if k > SHOWN_CLASSES else "")
        return f"{k} class{'es' if k > 1 else ''} ({names})"

    def _held_out(self) -> str:
        if self.held_out is None:
            return "held-out split not counted (a streamed dataset)"
        if not self.held_out:
            return "nothing held out for evaluation"
        total = self.images + self.held_out
        return f"{self.held_out:,} held out for evaluation ({self.held_out / total:.0%} of {total:,})"


def summarize(dataset: Dataset, images: int, name: str) -> DataSummary:
    """The :class:`DataSummary` of a built ``dataset`` of ``images`` training images, named
    ``name`` (the recipe's ``data.name``); reads its held-out split to count it, unless the
    dataset streams by iteration."""
    held: int | None = None
    if not dataset.iterable:
        split = dataset.held_out()
        held = 0 if split is None else len(split.images)
    return DataSummary(name, images, tuple(dataset.image_shape), tuple(dataset.class_names), held)


def describe_data(dataset: Dataset, images: int, name: str) -> str:
    """The line ``ganfw run`` prints before training: ``data: `` and :meth:`DataSummary.line`."""
    return "data: " + summarize(dataset, images, name).line()


def count_images(dataset: Dataset) -> int:
    """The training images of a built dataset: its ``len()`` when it streams, else what
    :meth:`Dataset.load` returns."""
    return len(dataset) if dataset.indexable or dataset.iterable else len(dataset.load())  # type: ignore[arg-type]


@dataclass(frozen=True)
class DataCheck:
    """What ``ganfw check`` found of the recipe's data: the ``summary`` (``None`` when it could
    not be read without downloading it: ``unread`` says why), and whether the dataset reads the
    data root (``uses_root``: a dataset that does keeps it as ``root``, as mnist, fashion-mnist
    and the torchvision sets do; an image folder reads ``data.params.path`` instead)."""

    summary: DataSummary | None
    unread: str
    uses_root: bool


def _without_download(choice: ComponentChoice) -> tuple[ComponentChoice, bool]:
    """``choice`` with ``download = false`` when its params have that switch on (``ganfw check``
    looks at the files there are, and never fetches them), and whether it was on."""
    params = choice.params
    if not dataclasses.is_dataclass(params) or getattr(params, "download", None) is not True:
        return choice, False
    return dataclasses.replace(choice, params=dataclasses.replace(params, download=False)), True  # type: ignore[type-var]


def inspect_data(recipe: Recipe) -> tuple[DataCheck, Dataset]:
    """Build the recipe's dataset (without downloading anything) and read it: count its images,
    classes and held-out split. A dataset that fails to build or read is a :class:`UserError`,
    unless what is missing would be downloaded by the run (``data.params.download = true``)."""
    root, _ = resolve_data_root(recipe.data_root)
    choice, downloads = _without_download(recipe.data)
    dataset = choice.build(root=str(root), limit=recipe.data_limit)
    uses_root = getattr(dataset, "root", None) is not None
    try:
        summary = summarize(dataset, count_images(dataset), recipe.data.ref)
    except UserError as e:
        if not downloads:
            raise
        unread = f"{recipe.data.ref}: not read, as ganfw check downloads nothing ({e}); a run downloads what is missing"
        return DataCheck(None, unread, uses_root), dataset
    return DataCheck(summary, "", uses_root), dataset


def check_recipe(recipe: Recipe) -> DataCheck:
    """What ``ganfw check`` can tell before training: the data (:func:`inspect_data`), the
    networks built for it and the steps of an epoch (a batch larger than the data with
    ``drop_last``, a last batch of one image under batch norm; counted from ``data.limit`` when
    the data could not be read)."""
    from ganfw.networks import build_network

    data, dataset = inspect_data(recipe)
    images = data.summary.images if data.summary is not None else recipe.data_limit
    if images is None:
        return data  # nothing to count an epoch by (and a conditional network's classes may be in the files)
    shape = as_image_shape(dataset.image_shape)
    nets = (build_network(recipe.generator, dataset, shape), build_network(recipe.discriminator, dataset, shape))
    if data.summary is not None:
        steps_per_epoch(recipe, images, 1, nets)
    else:
        check_last_batch(recipe, images, 1, nets)
    return data
