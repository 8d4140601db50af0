"""Contract checks for balancing schedules, on scripted runs (no networks involved)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

from ganfw.contracts import Decision, Schedule, StepReport
from ganfw.testing.contract import check_log, expect, through_json

#: Scripted runs: name -> step -> the discriminator's accuracy on that step (real and fake alike).
SCRIPTS: dict[str, Callable[[int], float]] = {
    "D always right": lambda step: 1.0,
    "D always wrong": lambda step: 0.0,
    "D at chance": lambda step: 0.5,
    "D at random": lambda step: random.Random(step).random(),
}


def check_schedule(schedule: Schedule, steps: int = 200, max_idle: int = 50) -> None:
    """Check a built schedule on each scripted run of ``steps`` steps (:data:`SCRIPTS`).

    * it is a :class:`ganfw.contracts.Schedule`; ``decide`` returns :class:`~ganfw.contracts.Decision`
      instances whose fields are bools, and never trains neither network for more than
      ``max_idle`` steps in a row (a run must not stall);
    * ``log()`` is a dict of finite numbers by name (it goes to metrics.jsonl);
    * ``state_dict()`` is JSON-serialisable and unchanged by a JSON round trip (checkpoints store
      it as JSON), and a fresh schedule loaded with the state halfway through a run continues it
      exactly: the same decisions, logs and state.
    """
    expect(isinstance(schedule, Schedule), f"is a {type(schedule).__name__}, not a ganfw.contracts.Schedule")
    if steps < 2:
        raise ValueError(f"steps must be at least 2 (the state is restored halfway), got {steps}")
    for script, accuracy in SCRIPTS.items():
        original = copy.deepcopy(schedule)
        halfway = steps // 2
        history = _run(original, accuracy, range(halfway), script, max_idle)
        resumed = copy.deepcopy(schedule)
        resumed.load_state_dict(through_json(script, original.state_dict()))
        rest = range(halfway, steps)
        streak = history[-1][-1]
        expected = _run(original, accuracy, rest, script, max_idle, streak)
        got = _run(resumed, accuracy, rest, script, max_idle, streak)
        expect(got == expected, f"{script}: a schedule restored from state_dict() halfway decides differently")


def _run(
    schedule: Schedule,
    accuracy: Callable[[int], float],
    steps: range,
    script: str,
    max_idle: int,
    streak: int = 0,
) -> list[tuple[Any, ...]]:
    """Ask, step, tell for each step; per step ``(decision, log, state as JSON, idle streak)``.
    ``streak``: steps without training just before ``steps`` starts."""
    history = []
    for step in steps:
        decision = schedule.decide(step)
        where = f"{script}, step {step}"
        expect(isinstance(decision, Decision), f"{where}: decide() returned {decision!r}, not a Decision")
        flags = (decision.train_d, decision.train_g, decision.joint)
        expect(all(isinstance(f, bool) for f in flags), f"{where}: {decision!r} has fields that are not bools")
        streak = 0 if decision.train_d or decision.train_g else streak + 1
        expect(streak <= max_idle, f"{where}: neither network has trained for {streak} steps in a row")
        schedule.observe(step_report(step, accuracy(step), decision))
        log = schedule.log()
        check_log(where, log)
        state = json.dumps(through_json(where, schedule.state_dict()), sort_keys=True)
        history.append((decision, log, state, streak))
    return history


def step_report(step: int, accuracy: float, decision: Decision) -> StepReport:
    """What a step with this discriminator accuracy might have reported."""
    d_real = 0.05 + 0.9 * accuracy
    d_loss, g_loss = 1.5 - accuracy, 0.5 + accuracy
    return StepReport(
        step=step, d_loss=d_loss, g_loss=g_loss, d_real=d_real, d_fake=1.0 - d_real,
        acc_real=accuracy, acc_fake=accuracy, trained_d=decision.train_d, trained_g=decision.train_g,
        terms={"d/loss": d_loss, "g/loss": g_loss},
        real_sign=2 * accuracy - 1, real_logit=4 * accuracy - 2, fake_logit=2 - 4 * accuracy, images=64,
    )  # fmt: skip
