"""The read-only view of a running trainer that callbacks receive."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import Tensor

from ganfw.contracts import Discriminator, Generator, TrainerView

if TYPE_CHECKING:
    from ganfw.training.loop import Trainer


class LiveView(TrainerView):
    """A :class:`TrainerView` reading a :class:`Trainer` as it runs, given to the callback
    named ``source`` (its warnings carry that name)."""

    def __init__(self, trainer: Trainer, source: str):
        self._t, self._source = trainer, source

    step = property(lambda self: self._t.progress.step)
    epoch = property(lambda self: self._t.progress.step // self._t.steps_per_epoch)
    steps_per_epoch = property(lambda self: self._t.steps_per_epoch)
    total_steps = property(lambda self: self._t.total_steps)
    device = property(lambda self: self._t.device)
    precision = property(lambda self: self._t.precision.name)
    is_main = property(lambda self: self._t.ranks.is_main)

    @property
    def generator(self) -> Generator:
        return self._t.parts.G

    @property
    def discriminator(self) -> Discriminator:
        return self._t.parts.D

    @property
    def num_classes(self) -> int:
        return self._t.parts.dataset.num_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self._t.parts.dataset.class_names)

    @property
    def run_dir(self) -> Any:
        return self._t.run.path if self._t.ranks.is_main else None

    @property
    def scores(self) -> dict[str, float]:
        return dict(self._t.scores)

    @property
    def recipe(self) -> dict[str, Any]:
        return self._t.recipe.resolved()

    @property
    def latest_samples(self) -> Tensor | None:
        return self._t.latest_samples

    def classify(self, images: Tensor) -> Tensor | None:
        from ganfw.evaluation.judge import judge_images

        judge = self._t.judge
        return None if judge is None else judge_images(judge.net, images)[1]

    def warn(self, code: str, message: str) -> None:
        self._t.warn(self._source, code, message)

    def request_stop(self, reason: str) -> None:
        self._t.stop_reason = self._t.stop_reason or reason
