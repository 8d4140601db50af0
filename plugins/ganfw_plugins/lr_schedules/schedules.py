"""Learning-rate schedules: a factor on the recipe's ``lr``, the same for G and D, as a pure
function of the step (so a resumed run needs no state to continue)."""

from __future__ import annotations

import math

from ganfw.plugin import LRSchedule
from ganfw_plugins.lr_schedules import DecayParams


class Constant(LRSchedule):
    """Factor 1 on every step."""

    def __init__(self, params: None = None):
        """``params``: always ``None``."""

    def factor(self, step: int, total_steps: int) -> tuple[float, float]:
        return 1.0, 1.0


class _Decay(LRSchedule):
    """Linear warm-up over ``warmup`` steps, then ``final + (1 - final) * shape(progress)`` with
    ``progress`` in [0, 1] over the remaining steps."""

    def __init__(self, params: DecayParams):
        self.warmup, self.final = params.warmup, params.final

    def shape(self, progress: float) -> float:
        raise NotImplementedError

    def factor(self, step: int, total_steps: int) -> tuple[float, float]:
        if step < self.warmup:
            f = (step + 1) / self.warmup
        else:
            progress = (step - self.warmup) / max(1, total_steps - 1 - self.warmup)
            f = self.final + (1.0 - self.final) * self.shape(min(1.0, progress))
        return f, f


class LinearDecay(_Decay):
    """From the full rate down to ``final`` in a straight line."""

    def shape(self, progress: float) -> float:
        return 1.0 - progress


class Cosine(_Decay):
    """Half a cosine from the full rate down to ``final`` (Loshchilov & Hutter 2017, without restarts)."""

    def shape(self, progress: float) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * progress))
