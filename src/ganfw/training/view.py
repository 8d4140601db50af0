"""What callbacks see of a run and what they may ask of it: the view, built on a small clock, a
requests object and the run's facts - never on the loop itself.

Warnings and stop requests are queued in :class:`Requests` while callbacks run; the loop
delivers them after each dispatch, in the order they were made.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from ganfw.contracts import Dataset, Discriminator, Generator, TrainerView
from ganfw.recipe import ComponentChoice


@dataclass
class Clock:
    """How far the run is: ``step`` steps completed (over resumes) of ``total_steps``, and
    ``elapsed`` seconds of training."""

    steps_per_epoch: int
    total_steps: int
    step: int = 0
    elapsed: float = 0.0

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.step // self.steps_per_epoch


@dataclass(frozen=True)
class HealthWarning:
    """A training-health warning a callback raised: who (``source``), ``code``, ``message``."""

    source: str
    code: str
    message: str


@dataclass
class Requests:
    """What callbacks ask of the loop: a stop (the first reason wins) and warnings, queued until
    the loop delivers them."""

    stop_reason: str | None = None
    warnings: deque[HealthWarning] = field(default_factory=deque)

    def request_stop(self, reason: str) -> None:
        self.stop_reason = self.stop_reason or reason

    def warn(self, source: str, code: str, message: str) -> None:
        self.warnings.append(HealthWarning(source, code, message))


@dataclass
class RunFacts:
    """What the view reports of the run besides its clock: the networks, where they live, the
    data's classes, the run directory (rank 0), the resolved recipe table, and what the epochs'
    outputs left (the latest ``scores`` and grid, (S, C, H, W) in [-1, 1])."""

    generator: Generator
    discriminator: Discriminator
    device: Any
    precision: str
    dataset: Dataset
    data_choice: ComponentChoice
    recipe_path: str
    run_dir: Path | None
    is_main: bool
    recipe: dict[str, Any]
    scores: dict[str, float] = field(default_factory=dict)
    latest_samples: Tensor | None = None

    @functools.cached_property
    def judge(self) -> Any:
        """The judge of the run's dataset (found as evaluation finds it), or ``None``."""
        from ganfw.evaluation.datasets import of_run
        from ganfw.evaluation.judges import find_judge

        return find_judge(of_run(self.dataset, self.data_choice, self.recipe_path))


class LiveView(TrainerView):
    """The :class:`TrainerView` the callback named ``source`` receives (its warnings carry that
    name)."""

    def __init__(self, source: str, clock: Clock, requests: Requests, facts: RunFacts):
        self._source, self._clock, self._requests, self._facts = source, clock, requests, facts

    step = property(lambda self: self._clock.step)
    epoch = property(lambda self: self._clock.epoch)
    steps_per_epoch = property(lambda self: self._clock.steps_per_epoch)
    total_steps = property(lambda self: self._clock.total_steps)
    generator = property(lambda self: self._facts.generator)
    discriminator = property(lambda self: self._facts.discriminator)
    device = property(lambda self: self._facts.device)
    precision = property(lambda self: self._facts.precision)
    is_main = property(lambda self: self._facts.is_main)
    run_dir = property(lambda self: self._facts.run_dir)
    num_classes = property(lambda self: self._facts.dataset.num_classes)
    class_names = property(lambda self: tuple(self._facts.dataset.class_names))
    scores = property(lambda self: dict(self._facts.scores))
    recipe = property(lambda self: self._facts.recipe)
    latest_samples = property(lambda self: self._facts.latest_samples)

    def classify(self, images: Tensor) -> Tensor | None:
        from ganfw.evaluation.judge import judge_images

        judge = self._facts.judge
        return None if judge is None else judge_images(judge.net, images)[1]

    def warn(self, code: str, message: str) -> None:
        self._requests.warn(self._source, code, message)

    def request_stop(self, reason: str) -> None:
        self._requests.request_stop(reason)
