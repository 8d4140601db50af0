"""The balancing schedules' decisions on scripted sequences of step reports."""

from __future__ import annotations

import json
import random

import pytest

from ganfw.contracts import Decision, Schedule, StepReport
from ganfw.plugins import load_registry
from ganfw_plugins.schedules import AdaptiveParams, NCriticParams
from ganfw_plugins.schedules.strategies import Adaptive, Alternating, NCritic, Simultaneous


def report(step: int, acc_real: float, acc_fake: float | None = None, decision: Decision | None = None) -> StepReport:
    """A step report with D's accuracy on real and fake images (fake defaults to real's)."""
    decision = decision or Decision(True, True)
    return StepReport(
        step=step, d_loss=1.0, g_loss=1.0, d_real=0.5, d_fake=0.5,
        acc_real=acc_real, acc_fake=acc_real if acc_fake is None else acc_fake,
        trained_d=decision.train_d, trained_g=decision.train_g,
    )  # fmt: skip


def run(schedule: Schedule, accuracies: list[float], start: int = 0) -> list[tuple[bool, bool]]:
    """Ask, step, tell, for one step per accuracy; the (train_d, train_g) decisions."""
    decisions = []
    for step, acc in enumerate(accuracies, start):
        decision = schedule.decide(step)
        assert not decision.joint or isinstance(schedule, Simultaneous)
        decisions.append((decision.train_d, decision.train_g))
        schedule.observe(report(step, acc, decision=decision))
    return decisions


def adaptive(**overrides) -> Adaptive:
    return Adaptive(AdaptiveParams(**{"momentum": 0.5, "warmup": 2, **overrides}))


BOTH, ONLY_G, ONLY_D = (True, True), (False, True), (True, False)


def test_simultaneous_is_joint_every_step():
    schedule = Simultaneous(None)
    assert run(schedule, [1.0, 0.0, 0.5]) == [BOTH] * 3
    assert schedule.decide(7) == Decision(True, True, joint=True)
    assert schedule.log() == {} and schedule.state_dict() == {}


def test_alternating_steps_both_one_after_the_other():
    schedule = Alternating(None)
    assert run(schedule, [1.0, 0.0, 0.5]) == [BOTH] * 3
    assert schedule.decide(7) == Decision(True, True, joint=False)


@pytest.mark.parametrize(("n", "g_steps"), [(1, [0, 1, 2, 3, 4, 5, 6, 7, 8]), (3, [2, 5, 8]), (5, [4])])
def test_n_critic_trains_g_on_every_nth_step(n, g_steps):
    decisions = [NCritic(NCriticParams(n=n)).decide(step) for step in range(9)]
    assert all(d.train_d and not d.joint for d in decisions)
    assert [step for step, d in enumerate(decisions) if d.train_g] == g_steps


def test_adaptive_freezes_d_while_it_wins_with_hysteresis():
    schedule = adaptive()  # high 0.85, hysteresis 0.05: D resumes below 0.80
    # running accuracy: 1.0, 1.0, 0.88, 0.82 (below high, still frozen), 0.79 (resumes), 0.775
    decisions = run(schedule, [1.0, 1.0, 0.76, 0.76, 0.76, 0.76, 0.76])
    assert decisions == [BOTH, BOTH, ONLY_G, ONLY_G, ONLY_G, BOTH, BOTH]
    assert schedule.log() == {"skipped_d": 3.0, "skipped_g": 0.0, "running_acc": pytest.approx(0.7675)}


def test_adaptive_keeps_d_frozen_while_accuracy_stays_at_one():
    schedule = adaptive(warmup=0)
    assert run(schedule, [1.0] * 6) == [BOTH] + [ONLY_G] * 5  # step 0 has nothing to judge by
    assert schedule.log()["skipped_d"] == 5.0


def test_adaptive_freezes_g_while_d_is_at_chance():
    schedule = adaptive()  # low 0.6, hysteresis 0.05: G resumes above 0.65
    decisions = []
    script = [(1.0, 0.0), (0.5, 0.5), (0.6, 0.5), (0.72, 0.72), (0.75, 0.75), (0.7, 0.7)]
    for step, (acc_real, acc_fake) in enumerate(script):
        decision = schedule.decide(step)
        decisions.append((decision.train_d, decision.train_g))
        schedule.observe(report(step, acc_real, acc_fake, decision))
    # running accuracy: 0.5, 0.5, 0.525, 0.6225 (above low, still frozen), 0.68625 (resumes)
    assert decisions == [BOTH, BOTH, ONLY_D, ONLY_D, ONLY_D, BOTH]
    assert schedule.log() == {"skipped_d": 0.0, "skipped_g": 3.0, "running_acc": pytest.approx(0.693125)}


def test_adaptive_warmup_trains_both_and_counts_nothing():
    schedule = adaptive(warmup=4)
    assert run(schedule, [1.0] * 4 + [0.0] * 2) == [BOTH] * 4 + [ONLY_G, ONLY_D]
    assert schedule.log()["skipped_d"] == 1.0 and schedule.log()["skipped_g"] == 1.0


def test_adaptive_before_any_observation():
    schedule = adaptive(warmup=0)
    assert schedule.decide(10) == Decision(True, True)
    assert schedule.log() == {"skipped_d": 0.0, "skipped_g": 0.0}


@pytest.mark.parametrize(
    "params",
    [
        {"high": 0.6, "low": 0.55, "hysteresis": 0.1},  # the resume bands overlap
        {"high": 0.3, "low": 0.7, "hysteresis": 0.0},  # thresholds the wrong way round
        {},
    ],
)
def test_adaptive_never_skips_both(params):
    rng = random.Random(0)
    schedule = adaptive(warmup=0, momentum=0.3, **params)
    decisions = run(schedule, [rng.random() for _ in range(400)])
    assert (False, False) not in decisions
    assert ONLY_D in decisions and ONLY_G in decisions


def test_adaptive_state_round_trip_continues_identically():
    script = [1.0, 1.0, 0.76, 0.76, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9, 0.3, 0.8]
    original = adaptive()
    run(original, script[:3])
    saved = json.loads(json.dumps(original.state_dict()))
    restored = adaptive_at(saved)
    assert restored.log() == original.log()
    assert run(restored, script[3:], start=3) == run(original, script[3:], start=3)
    assert restored.log() == original.log() and restored.state_dict() == original.state_dict()
    assert run(adaptive(), script[3:], start=3) != run(adaptive_at(saved), script[3:], start=3)  # the state matters


def adaptive_at(state: dict) -> Adaptive:
    schedule = adaptive()
    schedule.load_state_dict(state)
    return schedule


@pytest.mark.parametrize("name", ["simultaneous", "alternating", "n-critic", "adaptive"])
def test_schedules_build_through_the_registry(name):
    spec = load_registry().resolve("schedule", name).spec
    schedule = spec.load_factory()(spec.default_params())
    assert isinstance(schedule, Schedule)
    decision = schedule.decide(0)
    assert decision.train_d or decision.train_g
