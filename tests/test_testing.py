"""ganfw.testing: every built-in component passes the contract checks, and each check catches
the broken component it is there for."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from data_fixtures import mnist_root  # noqa: F401  (fixture)
from ganfw import ComponentSpec, hookimpl, param
from ganfw.contracts import Decision, Discriminator, Generator, Loss, Schedule
from ganfw.plugins import BUILTIN_DISTRIBUTION, load_registry
from ganfw.testing import (
    ContractError,
    check_component,
    check_dataset,
    check_discriminator,
    check_generator,
    check_installed,
    check_loss,
    check_params,
    check_schedule,
    plugin_specs,
)
from ganfw_plugins import losses as builtin_losses
from ganfw_plugins.losses.objectives import Hinge, NonSaturating, WassersteinGP
from ganfw_plugins.mnist import MNISTParams
from ganfw_plugins.mnist.dataset import MNIST
from ganfw_plugins.schedules import AdaptiveParams
from ganfw_plugins.schedules.strategies import Adaptive, NCritic

MNIST_SHAPE = (1, 28, 28)

BUILTINS = [c for c in load_registry().components if c.package == BUILTIN_DISTRIBUTION]


def test_every_kind_with_checks_has_builtins():
    assert {c.spec.kind for c in BUILTINS} >= {"generator", "discriminator", "loss", "schedule", "dataset"}


@pytest.mark.parametrize("component", BUILTINS, ids=lambda c: f"{c.spec.kind}:{c.qualified_name}")
def test_builtin_component_passes_the_contract(component, mnist_root):  # noqa: F811
    """Metrics get the spec checks only (see check_component)."""
    check_component(component, MNIST_SHAPE, data_root=str(mnist_root), data_limit=50)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 16, 20)])
@pytest.mark.parametrize("kind", ["generator", "discriminator"])
@pytest.mark.parametrize("name", ["mlp", "dcgan"])
def test_builtin_networks_pass_at_other_image_shapes(name, kind, shape):
    small = {"widths": [8, 4, 2]} if (kind, name) == ("generator", "dcgan") else None
    check_component(load_registry().resolve(kind, name), shape, params=small)


def test_params_given_as_a_recipe_table_are_validated():
    spec = load_registry().resolve("schedule", "n-critic").spec
    check_component(spec, params={"n": 2})
    with pytest.raises(ValueError, match="n: 0 is out of range"):
        check_component(spec, params={"n": 0})


# --------------------------------------------------------------------------------------------
# Each check fails on the component that breaks its promise


def fails(message: str):
    return pytest.raises(ContractError, match=message)


class TinyGenerator(Generator):
    """(N, 2) -> (N, 1, 2, 2) through one linear layer and ``squash`` (tanh by default)."""

    def __init__(self, squash=torch.tanh, image_shape=(1, 2, 2)):
        super().__init__()
        self.latent_dim, self.image_shape = 2, image_shape
        self.linear = nn.Linear(2, 4)
        self.squash = squash

    def forward(self, z: Tensor) -> Tensor:
        return self.squash(self.linear(z) * 10).view(-1, 1, 2, 2)


def test_check_generator_passes_a_good_one():
    check_generator(TinyGenerator(), (1, 2, 2))


@pytest.mark.parametrize(
    "generator, message",
    [
        (TinyGenerator(squash=lambda x: x), "forward.z. in train mode goes (above 1|below -1)"),
        (TinyGenerator(squash=lambda x: torch.tanh(x).double()), "has dtype torch.float64, expected torch.float32"),
        (TinyGenerator(image_shape=(1, 4, 4)), r"forward\(z\) in train mode has shape \(4, 1, 2, 2\), expected \(4, 1, 4, 4\)"),
        (TinyGenerator(squash=lambda x: torch.tanh(F.dropout(x, 0.5, training=True))), "eval mode is not deterministic"),
        (TinyGenerator(squash=lambda x: torch.tanh(x).detach()), "generated images does not depend on its inputs"),
        (nn.Linear(2, 4), "is a Linear, not a ganfw.contracts.Generator"),
    ],
)
def test_check_generator_catches(generator, message):
    with fails(message):
        check_generator(generator, generator.image_shape if isinstance(generator, Generator) else None)


def test_check_generator_catches_a_wrong_image_shape_and_unsaveable_state():
    with fails(r"image_shape is \(1, 2, 2\), but it was built for \(1, 28, 28\)"):
        check_generator(TinyGenerator(), MNIST_SHAPE)

    class ExtraState(TinyGenerator):
        def get_extra_state(self) -> dict:
            return {"note": "not a tensor"}

        def set_extra_state(self, state: Any) -> None:
            pass

    with fails("its state_dict cannot be saved as safetensors"):
        check_generator(ExtraState())

    class Forgetful(TinyGenerator):
        """Keeps a persistent buffer in the state_dict but refuses to load it back."""

        def __init__(self):
            super().__init__()
            self.register_buffer("shift", torch.zeros(4))

        def forward(self, z: Tensor) -> Tensor:
            return torch.tanh(self.linear(z) + self.shift).view(-1, 1, 2, 2)

        def _load_from_state_dict(self, state_dict, prefix, metadata, strict, missing, unexpected, errors):
            state_dict.pop(prefix + "shift")
            super()._load_from_state_dict(state_dict, prefix, metadata, strict, missing, unexpected, errors)
            missing.remove(prefix + "shift")

    with fails("outputs differ after a state_dict round trip through safetensors"):
        check_generator(Forgetful())


class TinyDiscriminator(Discriminator):
    """(N, 1, 2, 2) -> (N,) through ``head`` applied to a linear layer's output (N, 1)."""

    def __init__(self, head=lambda x: x.squeeze(1)):
        super().__init__()
        self.image_shape = (1, 2, 2)
        self.linear = nn.Linear(4, 1)
        self.head = head

    def forward(self, images: Tensor) -> Tensor:
        return self.head(torch.tanh(self.linear(images.flatten(1))))


def test_check_discriminator_passes_a_good_one():
    check_discriminator(TinyDiscriminator(), (1, 2, 2))


@pytest.mark.parametrize(
    "head, message",
    [
        (lambda x: x, r"has shape \(4, 1\), expected \(4,\)"),
        (lambda x: x.squeeze(1) / 0, "has non-finite values"),
        (lambda x: x.squeeze(1).detach(), "a projection of the logits does not depend on its inputs"),
    ],
)
def test_check_discriminator_catches(head, message):
    with fails(message):
        check_discriminator(TinyDiscriminator(head))


class Constant(Discriminator):
    """Logits (N,) from a bias alone: they do not depend on the images."""

    image_shape = (1, 2, 2)

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, images: Tensor) -> Tensor:
        return self.bias.expand(len(images))


def test_check_discriminator_catches_logits_that_ignore_the_images():
    with fails("the logits do not depend on the images"):
        check_discriminator(Constant())


class NaiveBCE(Loss):
    """The textbook formulas, log(sigmoid(x)) unfused: -inf at extreme logits."""

    def __init__(self, params: None = None):
        """``params``: none declared."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return -torch.log(torch.sigmoid(fake_logits)).mean()


class PerSample(Hinge):
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits)  # (N,), not a scalar; and ignores the fakes


class IgnoresFakes(Hinge):
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean()


class FlatPenalty(WassersteinGP):
    def regularizer(self, discriminator, real, fake) -> Tensor:
        return torch.tensor(0.0)


class ClampsInPlace(WassersteinGP):
    def regularizer(self, discriminator, real, fake) -> Tensor:
        real.clamp_(-0.5, 0.5)
        return super().regularizer(discriminator, real, fake)


class BoolishRegularizer(Hinge):
    has_regularizer = 1


def test_check_loss_passes_good_ones():
    check_loss(NonSaturating(builtin_losses.NonSaturatingParams()))
    check_loss(WassersteinGP(builtin_losses.WassersteinGPParams()), (3, 8, 8))


@pytest.mark.parametrize(
    "loss, message",
    [
        (NaiveBCE(), "d_loss on extreme logits has non-finite values"),
        (PerSample(None), r"d_loss on typical logits has shape \(5,\), expected \(\)"),
        (IgnoresFakes(None), "d_loss on typical logits: some of its inputs get no gradient"),
        (FlatPenalty(builtin_losses.WassersteinGPParams()), "regularizer does not depend on its inputs"),
        (ClampsInPlace(builtin_losses.WassersteinGPParams()), "regularizer changed its input images"),
        (BoolishRegularizer(None), "has_regularizer is 1, not a bool"),
    ],
)
def test_check_loss_catches(loss, message):
    with fails(message):
        check_loss(loss)


class Scripted(Schedule):
    """Decides ``decision(step)``; optional state that ``load_state_dict`` may forget."""

    def __init__(self, decision=lambda step: Decision(True, True), state=None, restores=True, log=None):
        self.decision, self.state, self.restores, self._log = decision, state, restores, log
        self.steps_seen = 0

    def decide(self, step: int) -> Any:
        return self.decision(step)

    def observe(self, report) -> None:
        self.steps_seen += 1

    def log(self) -> Any:
        return self._log if self._log is not None else {"steps_seen": self.steps_seen}

    def state_dict(self) -> Any:
        return self.state if self.state is not None else {"steps_seen": self.steps_seen}

    def load_state_dict(self, state) -> None:
        if self.restores:
            self.steps_seen = state["steps_seen"]


def test_check_schedule_passes_good_ones():
    check_schedule(Scripted())
    check_schedule(Adaptive(AdaptiveParams(warmup=3)))
    check_schedule(NCritic(type("P", (), {"n": 7})()))


@pytest.mark.parametrize(
    "schedule, message",
    [
        (Scripted(decision=lambda step: (True, True)), r"D always right, step 0: decide\(\) returned \(True, True\), not a Decision"),
        (Scripted(decision=lambda step: Decision(1, True)), "has fields that are not bools"),
        (Scripted(decision=lambda step: Decision(step < 30, False)), "step 80: neither network has trained for 51 steps in a row"),
        (Scripted(state={"pair": (1, 2)}), "changes through JSON"),
        (Scripted(state={"when": object()}), "is not JSON-serialisable"),
        (Scripted(state=[1]), r"state_dict\(\) returned list, not a dict"),
        (Scripted(restores=False), "a schedule restored from state_dict.. halfway decides differently"),
        (Scripted(log={"phase": "warmup"}), "not a dict of finite numbers by name"),
        (Scripted(log={"ratio": float("nan")}), "not a dict of finite numbers by name"),
    ],
)
def test_check_schedule_catches(schedule, message):
    with fails(message):
        check_schedule(schedule)


def test_check_schedule_allows_short_pauses():
    check_schedule(Scripted(decision=lambda step: Decision(step % 40 != 0, step % 40 != 0)), max_idle=1)


class Pixels(MNIST):
    """MNIST as stored: 0..255 and no ``limit``."""

    def load(self) -> Tensor:
        return self.load_split(train=True).unsqueeze(1).float()


def test_check_dataset(mnist_root):  # noqa: F811
    check_dataset(MNIST(MNISTParams(download=False), root=str(mnist_root), limit=10), limit=10)
    with fails(r"load\(\) returned 60000 images, more than limit=10"):
        check_dataset(Pixels(MNISTParams(download=False), root=str(mnist_root), limit=10), limit=10)
    with fails("load.. goes above 1.0"):
        check_dataset(Pixels(MNISTParams(download=False), root=str(mnist_root)))


# --------------------------------------------------------------------------------------------
# Specs, params and plugin modules


SPEC = ComponentSpec(name="fine", kind="loss", summary="s", factory="x.y:Z")


@dataclass(frozen=True)
class Window:
    low: float = param(0.9, "low end")
    high: float = param(0.1, "high end")

    def __post_init__(self):
        if self.low > self.high:
            raise ValueError("low must not exceed high")


def test_check_params_catches_defaults_the_recipe_would_refuse():
    check_params(SPEC)
    spec = ComponentSpec(name="w", kind="schedule", summary="s", factory="x.y:Z", params=Window)
    with fails("^params Window: the defaults are refused: low must not exceed high$"):
        check_params(spec)


def test_check_component_names_the_component_and_the_factory():
    spec = ComponentSpec(name="ghost", kind="loss", summary="s", factory="no_such_module_zz:Loss")
    with fails(r"^loss 'ghost': cannot import its factory 'no_such_module_zz:Loss': ModuleNotFoundError"):
        check_component(spec)
    spec = ComponentSpec(name="naive", kind="loss", summary="s", factory=f"{__name__}:NaiveBCE")
    with fails("^loss 'naive': d_loss on extreme logits has non-finite values"):
        check_component(spec)


def _module(name: str, **attrs: Any) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(attrs)
    return module


def _hook(*specs):
    return hookimpl(lambda: list(specs))


def test_plugin_specs():
    assert plugin_specs(_module("good", ganfw_losses=_hook(SPEC))) == [SPEC]
    assert {s.name for s in plugin_specs(builtin_losses)} >= {"hinge", "wasserstein-gp"}
    with fails("good.ganfw_losses.. lacks the @hookimpl decorator"):
        plugin_specs(_module("good", ganfw_losses=lambda: [SPEC]))
    with fails(r"typo.ganfw_loss\(\) is not a ganfw hook; did you mean ganfw_losses\(\)\?"):
        plugin_specs(_module("typo", ganfw_loss=_hook(SPEC)))
    with fails("returned 'fine' of kind 'loss', not 'schedule'"):
        plugin_specs(_module("kinds", ganfw_schedules=_hook(SPEC)))
    with fails("empty offers no components"):
        plugin_specs(_module("empty"))


def test_check_installed(monkeypatch):
    monkeypatch.delenv("GANFW_DISABLE_PLUGINS", raising=False)
    found = check_installed("losses", plugin_specs(builtin_losses))
    assert {c.spec.name for c in found} >= {"hinge"}
    with fails(r"no plugin 'nope' is installed \(installed: .*losses.*\); check the \[project.entry-points.ganfw\]"):
        check_installed("nope")
    with fails("plugin 'losses' is installed with .*, expected"):
        check_installed("losses", [SPEC])
    monkeypatch.setenv("GANFW_DISABLE_PLUGINS", "losses")
    with fails("plugin 'losses' is disabled by GANFW_DISABLE_PLUGINS"):
        check_installed("losses")
