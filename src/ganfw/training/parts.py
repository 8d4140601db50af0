"""The parts of a run: each component a recipe names, built, with the choice it came from and a
stable key - and the one path through which the engine calls plugin code.

A :class:`Part` knows who it is: its ``key`` (``"loss"``, ``"schedule"``, ``"callbacks.ema"``,
``"observers.health"``) names it in checkpoints and, after the section, in logs; its ``choice``
names its plugin and package in errors; :meth:`Part.call` runs one of its methods with errors
attributed. :class:`Parts` holds them all.

Shapes: images (N, C, H, W) in [-1, 1]; labels (N,) int64 in [0, K); z (N, Z).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor

from ganfw.blame import blame
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
)
from ganfw.recipe import ComponentChoice
from ganfw.training.data import DataSource

T = TypeVar("T")


@dataclass(frozen=True)
class Part(Generic[T]):
    """One component of the run.

    Attributes:
        key: unique within the run: the recipe section (``"loss"``), or ``"callbacks.<name>"`` /
            ``"observers.<name>"`` by the component's own name (``-2``, ``-3``... for a second and
            third of the same name), however the recipe spells it (``ema`` or ``plugin:ema``).
        choice: what the recipe picked (component, plugin, params).
        obj: the object built from it.
    """

    key: str
    choice: ComponentChoice
    obj: T

    @property
    def name(self) -> str:
        """The key without its group: ``"ema"`` for ``"callbacks.ema"`` (the prefix of its logged numbers)."""
        return self.key.rpartition(".")[2]

    def blame(self, call: str) -> contextlib.AbstractContextManager[None]:
        """A context in which an error raised by plugin code is one line naming this part and ``call``."""
        return blame(self.choice, call)

    def call(self, method: str, *args: Any) -> Any:
        """``obj.method(*args)``, an error attributed to this part."""
        with self.blame(method):
            return getattr(self.obj, method)(*args)


def keyed(group: str, choices: tuple[ComponentChoice, ...], objects: list[Any]) -> list[Part[Any]]:
    """Parts of a list section (``callbacks``, ``observers``), keyed ``<group>.<component name>``,
    a repeated name numbered from its second use (``ema``, ``ema-2``)."""
    seen: dict[str, int] = {}
    parts = []
    for choice, obj in zip(choices, objects):
        name = choice.component.spec.name
        seen[name] = seen.get(name, 0) + 1
        suffix = f"-{seen[name]}" if seen[name] > 1 else ""
        parts.append(Part(f"{group}.{name}{suffix}", choice, obj))
    return parts


@dataclass
class Parts:
    """Everything a recipe names, built.

    Attributes:
        data: where batches come from (held on the device, streamed, or iterated).
        penalties: ``loss.penalties()``, asked once.
        callbacks: the recipe's ``[[callbacks]]``; ``observers``: those its ``[output]``
            switches add (health, tensorboard, report), which may come and go on a resume.
    """

    dataset: Part[Dataset]
    data: DataSource
    generator: Part[Generator]
    discriminator: Part[Discriminator]
    loss: Part[Loss]
    penalties: list[Penalty]
    schedule: Part[Schedule]
    lr_schedule: Part[LRSchedule]
    augment: Part[Augmentation] | None
    callbacks: list[Part[Callback]]
    observers: list[Part[Callback]]

    @property
    def G(self) -> Generator:
        return self.generator.obj

    @property
    def D(self) -> Discriminator:
        return self.discriminator.obj

    @property
    def conditional(self) -> bool:
        return bool(self.G.num_classes or self.D.num_classes)

    @property
    def hooked(self) -> list[Part[Callback]]:
        """Every callback in the order hooks are called: the recipe's ``[[callbacks]]``, then the observers."""
        return [*self.callbacks, *self.observers]

    def stateful(self) -> Iterator[Part[Any]]:
        """Every part whose state a checkpoint keeps, by key: the loss, the schedule, the
        augmentation, the callbacks and the observers."""
        yield self.loss
        yield self.schedule
        if self.augment is not None:
            yield self.augment
        yield from self.hooked

    def logged(self) -> Iterator[tuple[Part[Any], str]]:
        """The parts whose ``log()`` joins each log line, with their key prefix: the schedule's
        counters un-prefixed, ``loss/``, ``augment/``, ``<callback name>/``."""
        for part in self.stateful():
            yield part, "" if part is self.schedule else f"{part.name}/"

    def sampler(self) -> Generator:
        """The generator grids, evaluation and ``ganfw sample`` use: the last callback offering
        one (an EMA), else G."""
        found = [g for part in self.callbacks if (g := part.obj.sampling_generator()) is not None]
        return found[-1] if found else self.G

    def fake_labels(self, n: int, device: torch.device, noise: torch.Generator) -> Tensor | None:
        """Labels (n,) for generated images: G's own draw when G is conditional, uniform over the
        dataset's classes when only D is, ``None`` when neither is."""
        if self.G.num_classes:
            with self.generator.blame("sample_labels"):
                return self.G.sample_labels(n, device=device, generator=noise)
        if self.conditional:
            return torch.randint(self.dataset.obj.num_classes, (n,), device=device, generator=noise)
        return None
