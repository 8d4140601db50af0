"""Fault injection (issue 11), a plugin that raises inside the training loop: in a generator's or
a discriminator's forward, in a loss, in a schedule's ``decide``/``observe``/``log``. The run
stops with one line naming the step, the component and its plugin, exit status 2, no traceback
(``-v`` shows it), and the last good step's checkpoint on disk."""

from __future__ import annotations

import importlib
import json

import pytest

from ganfw.checkpoint import checkpoint_name, list_checkpoints, load_training_checkpoint
from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe

#: Components that work like the built-in ones until their ``at``-th call of one method in the
#: training loop, which raises (with a two-line message, to check that it is joined).
PARTS = """
from dataclasses import dataclass

from ganfw import param
from ganfw_plugins.losses import NonSaturatingParams
from ganfw_plugins.losses.objectives import NonSaturating
from ganfw_plugins.mlp import MLPDiscriminatorParams, MLPGeneratorParams
from ganfw_plugins.mlp.models import MLPDiscriminator, MLPGenerator
from ganfw_plugins.schedules.strategies import Alternating


class Fuse:
    def __init__(self, at):
        self.at, self.calls = at, 0

    def tick(self, call):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError(f"boom in {call}\\n   on call {self.calls}")


@dataclass(frozen=True)
class GParams(MLPGeneratorParams):
    at: int = param(1, "training-mode forward call that raises", min=1)


@dataclass(frozen=True)
class DParams(MLPDiscriminatorParams):
    at: int = param(1, "training-mode forward call that raises", min=1)


@dataclass(frozen=True)
class LossParams(NonSaturatingParams):
    at: int = param(1, "d_loss call that raises", min=1)


@dataclass(frozen=True)
class ScheduleParams:
    at: int = param(1, "call that raises", min=1)
    call: str = param("decide", "decide, observe or log")


class FusedForward:  # mixed into a network: its training-mode forward ticks the fuse

    def __init__(self, params, image_shape):
        super().__init__(params, image_shape)
        self.fuse = Fuse(params.at)

    def forward(self, x, labels=None):
        if self.training:
            self.fuse.tick("forward")
        return super().forward(x, labels)


class Generator(FusedForward, MLPGenerator):
    pass


class Discriminator(FusedForward, MLPDiscriminator):
    pass


class Loss(NonSaturating):
    def __init__(self, params):
        super().__init__(params)
        self.fuse = Fuse(params.at)

    def d_loss(self, real_logits, fake_logits):
        self.fuse.tick("d_loss")
        return super().d_loss(real_logits, fake_logits)


class Schedule(Alternating):
    def __init__(self, params):
        self.fuse, self.call = Fuse(params.at), params.call

    def decide(self, step):
        if self.call == "decide":
            self.fuse.tick("decide")
        return super().decide(step)

    def observe(self, report):
        if self.call == "observe":
            self.fuse.tick("observe")

    def log(self):
        if self.call == "log":
            self.fuse.tick("log")
        return {}
"""

PLUGIN = """
from ganfw import ComponentSpec, hookimpl
from boom_parts import DParams, GParams, LossParams, ScheduleParams

GANFW_API = 2


def spec(kind, cls, params):
    return ComponentSpec(name="boom", kind=kind, summary=f"a {kind} that raises", factory=f"boom_parts:{cls}",
                         params=params)


@hookimpl
def ganfw_generators():
    return [spec("generator", "Generator", GParams)]


@hookimpl
def ganfw_discriminators():
    return [spec("discriminator", "Discriminator", DParams)]


@hookimpl
def ganfw_losses():
    return [spec("loss", "Loss", LossParams)]


@hookimpl
def ganfw_schedules():
    return [spec("schedule", "Schedule", ScheduleParams)]
"""

MLP = {"latent_dim": 8, "hidden": [16]}

#: case -> (recipe section, its params, the call that raises, the failed step (1-based), the
#: newest checkpoint's step afterwards (2 steps an epoch: steps 3 and 4 are checkpointed by the failure).
CASES = {
    "generator-forward": ("generator", {**MLP, "at": 4}, "forward", 4, 3),
    "discriminator-forward": ("discriminator", {"hidden": [16], "at": 1}, "forward", 1, None),
    "loss-d_loss": ("loss", {"at": 4}, "d_loss", 4, 3),
    "schedule-decide": ("schedule", {"at": 4, "call": "decide"}, "decide", 4, 3),
    "schedule-observe": ("schedule", {"at": 4, "call": "observe"}, "observe", 4, 2),
    "schedule-log": ("schedule", {"at": 2, "call": "log"}, "log", 4, 4),  # logged at epoch ends
}


@pytest.fixture
def boom(site):
    site.add("ganfw-boom", "1.0", {"boom_parts": PARTS, "boom_plugin": PLUGIN}, {"boom": "boom_plugin"})
    importlib.invalidate_caches()


@pytest.mark.parametrize("case", list(CASES))
def test_a_component_that_raises_in_the_loop_stops_the_run_with_one_line(case, boom, tmp_path, mnist_root, capsys):
    section, params, call, failed, kept = CASES[case]
    recipe = tiny_recipe(
        tmp_path / "r.toml", mnist_root, train={"epochs": 2}, **{section: {"name": "boom", "params": params}}
    )
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    assert code == 2 and "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert line.startswith(
        f"error: step {failed}: [{section}] {section} 'boom' (plugin boom, package ganfw-boom 1.0) "
        f"raised in {call}: RuntimeError: boom in {call} on call {params['at']}; training stopped, "
    ), line
    steps = [load_training_checkpoint(p).state["step"] for p in list_checkpoints(out / "checkpoints")]
    assert max(steps, default=None) == kept
    if kept is not None:
        assert str(out / "checkpoints" / checkpoint_name(kept)) in line
    logged = [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(logged) < failed  # nothing of the failed step is logged


def test_verbose_shows_what_the_plugin_raised(boom, tmp_path, mnist_root, capsys):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, loss={"name": "boom", "params": {"at": 2}})
    code, _, err = cli(capsys, "-v", "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert code == 2
    assert "Traceback (most recent call last)" in err and 'raise RuntimeError(f"boom in {call}' in err
