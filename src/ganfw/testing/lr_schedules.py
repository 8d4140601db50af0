"""Contract checks for learning-rate schedules."""

from __future__ import annotations

from collections.abc import Sequence

from ganfw.contracts import LRSchedule
from ganfw.testing.contract import expect, is_finite_number


def check_lr_schedule(schedule: LRSchedule, total_steps: Sequence[int] = (1, 7, 1000)) -> None:
    """Check a built learning-rate schedule over runs of each length in ``total_steps``.

    * it is a :class:`ganfw.contracts.LRSchedule`;
    * ``factor(step, total_steps)`` on every step of the run is a pair (G's, D's) of finite
      numbers >= 0, and each network's factor is above 0 on some step (it trains);
    * asked again in reverse order, it gives the same factors: a pure function of the step,
      which is what lets a resumed run continue without state.
    """
    expect(isinstance(schedule, LRSchedule), f"is a {type(schedule).__name__}, not a ganfw.contracts.LRSchedule")
    for total in total_steps:
        forward = [_factor(schedule, step, total) for step in range(total)]
        for network, factors in zip("GD", zip(*forward)):
            expect(max(factors) > 0, f"over {total} steps, {network}'s factor is never above 0: it never trains")
        backward = [_factor(schedule, step, total) for step in reversed(range(total))]
        expect(
            backward[::-1] == forward,
            f"over {total} steps, factor() changes when asked in another order: it must depend on the step alone",
        )


def _factor(schedule: LRSchedule, step: int, total: int) -> tuple[float, float]:
    value = schedule.factor(step, total)
    expect(
        isinstance(value, (tuple, list)) and len(value) == 2 and all(is_finite_number(v) and v >= 0 for v in value),
        f"factor({step}, {total}) returned {value!r}, not a pair of finite numbers >= 0",
    )
    return value[0], value[1]
