"""Balancing strategies: which of D and G updates on each step."""

from __future__ import annotations

from typing import Any

from ganfw.plugin import Decision, Schedule, StepReport
from ganfw_plugins.schedules import AdaptiveParams, NCriticParams


class _FixedSchedule(Schedule):
    """The same decision on every step; no params (the registry passes ``None``)."""

    decision: Decision

    def __init__(self, params: None = None):
        """``params``: always ``None``."""

    def decide(self, step: int) -> Decision:
        return self.decision


class Simultaneous(_FixedSchedule):
    """Both networks step on gradients from one forward pass (the course's training step)."""

    decision = Decision(train_d=True, train_g=True, joint=True)


class Alternating(_FixedSchedule):
    """D steps, then G steps against the updated D, on every step (Goodfellow et al. 2014, k=1)."""

    decision = Decision(train_d=True, train_g=True, joint=False)


class NCritic(Schedule):
    """D steps on every step, G on every ``n``-th (steps n-1, 2n-1, ...): ``n`` D steps per G step,
    as WGAN's critic iterations (Arjovsky et al. 2017)."""

    def __init__(self, params: NCriticParams):
        self.n = params.n

    def decide(self, step: int) -> Decision:
        return Decision(train_d=True, train_g=step % self.n == self.n - 1)


class Adaptive(Schedule):
    """Skip the updates of whichever network is winning, judged by D's running accuracy.

    ``observe`` keeps ``acc = momentum * acc + (1 - momentum) * (acc_real + acc_fake) / 2``
    (seeded with the first step's accuracy). D is frozen once ``acc > high`` and resumes once
    ``acc < high - hysteresis``; G is frozen once ``acc < low`` and resumes once
    ``acc > low + hysteresis``. Freezing one network releases the other, so both never skip.
    During the first ``warmup`` steps (and before any observation) both always update.
    ``decide`` must be called once per step: it counts the skipped updates.
    """

    _STATE = ("running_acc", "d_frozen", "g_frozen", "skipped_d", "skipped_g")

    def __init__(self, params: AdaptiveParams):
        self.params = params
        self.running_acc: float | None = None
        self.d_frozen = False
        self.g_frozen = False
        self.skipped_d = 0
        self.skipped_g = 0

    def decide(self, step: int) -> Decision:
        if step < self.params.warmup or self.running_acc is None:
            return Decision(train_d=True, train_g=True)
        self.skipped_d += int(self.d_frozen)
        self.skipped_g += int(self.g_frozen)
        return Decision(train_d=not self.d_frozen, train_g=not self.g_frozen)

    def observe(self, report: StepReport) -> None:
        p = self.params
        acc = (report.acc_real + report.acc_fake) / 2
        self.running_acc = acc if self.running_acc is None else p.momentum * self.running_acc + (1 - p.momentum) * acc
        if self.running_acc > p.high:
            self.d_frozen, self.g_frozen = True, False
        elif self.running_acc < p.high - p.hysteresis:
            self.d_frozen = False
        if self.running_acc < p.low:
            self.d_frozen, self.g_frozen = False, True
        elif self.running_acc > p.low + p.hysteresis:
            self.g_frozen = False

    def log(self) -> dict[str, float]:
        """Skipped-update counts, and the running accuracy once there is one."""
        counts = {"skipped_d": float(self.skipped_d), "skipped_g": float(self.skipped_g)}
        return counts if self.running_acc is None else {**counts, "running_acc": self.running_acc}

    def state_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self._STATE:
            setattr(self, name, state[name])
