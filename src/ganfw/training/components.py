"""Building a recipe's components for training, each held to its contract before the first step.

Shapes: images (N, C, H, W) in [-1, 1]; labels (N,) int64 in [0, K); z (N, Z).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganfw.contracts import (
    Augmentation,
    Callback,
    Dataset,
    Discriminator,
    Generator,
    Loss,
    LRSchedule,
    Penalty,
    Schedule,
    Stateful,
)
from ganfw.distributed import Ranks
from ganfw.errors import UserError
from ganfw.paths import resolve_data_root
from ganfw.recipe import ComponentChoice, ComponentError, Recipe
from ganfw.training.blame import blame, call_checked
from ganfw.training.data import InMemory, Streamed, should_stream


@dataclass
class Components:
    """Everything a recipe names, built.

    Attributes:
        data: where batches come from (held on the device, or streamed).
        penalties: ``loss.penalties()``, asked once.
        callbacks: the recipe's ``[[callbacks]]``; ``observers``: those its ``[output]``
            switches add (health, tensorboard, report), which may come and go on a resume.
    """

    dataset: Dataset
    data: InMemory | Streamed
    G: Generator
    D: Discriminator
    loss: Loss
    penalties: list[Penalty]
    schedule: Schedule
    lr_schedule: LRSchedule
    augment: Augmentation | None
    callbacks: list[Callback]
    observers: list[Callback]

    @property
    def conditional(self) -> bool:
        return bool(self.G.num_classes or self.D.num_classes)

    def sampler(self) -> Generator:
        """The generator grids, evaluation and ``ganfw sample`` use: the last callback offering
        one (an EMA), else G."""
        found = [g for c in self.callbacks if (g := c.sampling_generator()) is not None]
        return found[-1] if found else self.G

    def fake_labels(self, n: int, device: torch.device, noise: torch.Generator) -> Tensor | None:
        """Labels (n,) for generated images: G's own draw when G is conditional, uniform over the
        dataset's classes when only D is, ``None`` when neither is."""
        if self.G.num_classes:
            return self.G.sample_labels(n, device=device, generator=noise)
        if self.conditional:
            return torch.randint(self.dataset.num_classes, (n,), device=device, generator=noise)
        return None

    def logged(self, recipe: Recipe) -> list[tuple[ComponentChoice, Stateful, str]]:
        """The components whose ``log()`` joins each log line, with their recipe choice and key
        prefix: the schedule (none), the loss (``loss/``), the augmentation (``augment/``), each
        callback (``<its name>/``)."""
        named: list[tuple[ComponentChoice, Stateful, str]] = [
            (recipe.schedule, self.schedule, ""),
            (recipe.loss, self.loss, "loss/"),
        ]
        if self.augment is not None:
            named.append((recipe.augment, self.augment, "augment/"))
        return named + [(c, cb, f"{c.ref}/") for c, cb in self.hooked(recipe)]

    def hooked(self, recipe: Recipe) -> list[tuple[ComponentChoice, Callback]]:
        """Every callback with its recipe choice, in the order hooks are called: the recipe's
        ``[[callbacks]]``, then the observers."""
        return [*zip(recipe.callbacks, self.callbacks), *zip(recipe.observers, self.observers)]


def build_components(recipe: Recipe, device: torch.device, channels_last: bool) -> Components:
    """Build the dataset (with the resolved data root), G and D (conditional ones with the
    dataset's number of classes), the loss, schedules, augmentation and callbacks."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    root, _ = resolve_data_root(recipe.data_root)
    dataset = recipe.data.build(root=str(root), limit=recipe.data_limit)
    data = _data_source(recipe, dataset, device, fmt)
    shape = tuple(dataset.image_shape)
    G = build_network(recipe.generator, dataset, shape).to(device, memory_format=fmt)
    D = build_network(recipe.discriminator, dataset, shape).to(device, memory_format=fmt)
    check_networks(recipe, G, D, shape, device)
    loss = recipe.loss.build()
    with blame(recipe.loss, "penalties"):
        penalties = list(loss.penalties())
    return Components(
        dataset,
        data,
        G,
        D,
        loss,
        penalties,
        recipe.schedule.build(),
        recipe.lr_schedule.build(),
        recipe.augment.build() if recipe.augment else None,
        [choice.build() for choice in recipe.callbacks],
        [choice.build() for choice in recipe.observers],
    )


def _data_source(
    recipe: Recipe, dataset: Dataset, device: torch.device, fmt: torch.memory_format
) -> InMemory | Streamed:
    """Stream the dataset (``data.stream``, or by size), or load it whole onto the device."""
    if recipe.data_stream == "always" and not dataset.indexable:
        raise UserError(
            f'{recipe.data.who}: data.stream = "always" needs a dataset with __len__ and '
            "__getitem__ (this one only loads whole)"
        )
    with blame(recipe.data, "__len__"):
        streamed = should_stream(dataset, recipe.data_stream, recipe.data_limit)
    if streamed:
        return Streamed(dataset, device, fmt)
    with blame(recipe.data, "load"):
        images = dataset.load()
    labels = _labels(recipe.data, dataset, len(images))
    return InMemory(images.to(device).contiguous(memory_format=fmt), None if labels is None else labels.to(device))


def _labels(choice: ComponentChoice, dataset: Dataset, n: int) -> Tensor | None:
    """The dataset's labels (N,) int64, checked against its class names."""
    with blame(choice, "load_labels"):
        labels = dataset.load_labels()
    if labels is None:
        return None
    k = dataset.num_classes
    if tuple(labels.shape) != (n,) or labels.dtype != torch.int64 or k == 0:
        raise ComponentError(
            f"{choice.who} broke the dataset contract: load_labels() gave {labels.dtype} "
            f"{tuple(labels.shape)} for {n} images and {k} class names; expected int64 ({n},)"
        )
    if n and (labels.min() < 0 or labels.max() >= k):
        raise ComponentError(f"{choice.who} broke the dataset contract: labels outside [0, {k}) for {k} class names")
    return labels


def build_network(choice: ComponentChoice, dataset: Dataset, shape: tuple[int, int, int]) -> nn.Module:
    """Build G or D; a conditional one gets ``num_classes`` and needs a labelled dataset."""
    if not choice.conditional:
        return choice.build(image_shape=shape)
    if dataset.num_classes == 0:
        raise UserError(
            f"{choice.who} is class-conditional, but the dataset has no labels "
            "(pick an unconditional one, or a labelled dataset)"
        )
    return choice.build(image_shape=shape, num_classes=dataset.num_classes)


@torch.no_grad()
def check_networks(
    recipe: Recipe, G: Generator, D: Discriminator, shape: tuple[int, int, int], device: torch.device
) -> None:
    """Hold G and D to their contracts on two samples before training (eval mode, no RNG drawn
    from the training streams): a broken component stops here with one line naming it."""
    rng = torch.Generator().manual_seed(0)
    with blame(recipe.generator, "sample_latent"):
        z = G.sample_latent(2, device=None, generator=rng).to(device)
    labels = torch.zeros(2, dtype=torch.int64, device=device)
    expected = (2, *shape)
    modes = G.training, D.training
    G.eval(), D.eval()
    try:
        fake = call_checked(recipe.generator, G, *((z, labels) if G.num_classes else (z,)))
        if tuple(fake.shape) != expected or not fake.is_floating_point():
            raise ComponentError(
                f"{recipe.generator.who} broke the generator contract: "
                f"forward({'z, labels' if G.num_classes else 'z'}) returned "
                f"{fake.dtype} {tuple(fake.shape)}, expected floats of shape {expected}"
            )
        if fake.abs().max() > 1 + 1e-3:
            raise ComponentError(
                f"{recipe.generator.who} broke the generator contract: images must lie in "
                f"[-1, 1], got values up to {fake.abs().max().item():.3g}"
            )
        logits = call_checked(recipe.discriminator, D, *((fake, labels) if D.num_classes else (fake,)))
        if tuple(logits.shape) != (2,):
            raise ComponentError(
                f"{recipe.discriminator.who} broke the discriminator contract: "
                f"forward({'images, labels' if D.num_classes else 'images'}) returned shape "
                f"{tuple(logits.shape)}, expected (2,)"
            )
    finally:
        G.train(modes[0])
        D.train(modes[1])


def epoch_order(seed: int, epoch: int, n: int, ranks: Ranks, device: torch.device) -> Tensor:
    """This rank's share of a permutation of the ``n`` images, (n / world,), the same for a given
    (seed, epoch) - so a run resumed mid-epoch sees the same batches."""
    rng = torch.Generator().manual_seed((seed * 1_000_003 + epoch) % 2**63)
    order = torch.randperm(n, generator=rng)
    return order[ranks.rank :: ranks.world][: n // ranks.world].to(device)
