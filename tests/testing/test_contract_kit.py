"""ganfw.testing: every built-in component passes the contract checks, and each check catches
the broken component it is there for."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ganfw import ComponentSpec, component_param, hookimpl, param
from ganfw.contracts import (
    Augmentation,
    Callback,
    Dataset,
    Decision,
    Discriminator,
    Generator,
    Loss,
    LRSchedule,
    Penalty,
    PenaltyInputs,
    Schedule,
)
from ganfw.params import ComponentRef
from ganfw.plugins import BUILTIN_DISTRIBUTION, load_registry
from ganfw.testing import (
    ContractError,
    check_augmentation,
    check_callback,
    check_component,
    check_dataset,
    check_discriminator,
    check_generator,
    check_installed,
    check_loss,
    check_lr_schedule,
    check_params,
    check_penalty,
    check_schedule,
    plugin_specs,
)
from ganfw_plugins import lr_schedules as builtin_lr_schedules
from ganfw_plugins.mnist import MNISTParams
from ganfw_plugins.mnist.dataset import MNIST
from ganfw_plugins.schedules import AdaptiveParams
from ganfw_plugins.schedules.strategies import Adaptive, NCritic

MNIST_SHAPE = (1, 28, 28)

#: Datasets of files the suite cannot download: held to their contract on small files written in
#: their exact formats, in tests/plugins/<plugin>/.
FILE_DATASETS = {"torchvision_sets", "hf_datasets", "webdataset_shards"}
#: Callbacks whose state names a run in a store of the run directory (an MLflow or W&B run): the
#: kit resumes into a fresh directory, where that run is not; tests/plugins/trackers resume them in
#: place, as ``--resume`` does.
TRACKERS = {"trackers"}
BUILTINS = [
    c
    for c in load_registry().components
    if c.package == BUILTIN_DISTRIBUTION and c.plugin not in FILE_DATASETS | TRACKERS
]
#: Narrow widths for the families whose reference widths take seconds a check (tests/plugins/<name>
#: checks them at their own sizes).
NARROW = {"resnet": {"ch": 2}, "stylegan2": {"channel_base": 256, "channel_max": 8}}


def test_every_kind_with_checks_has_builtins():
    assert {c.spec.kind for c in BUILTINS} >= {
        "generator",
        "discriminator",
        "loss",
        "schedule",
        "dataset",
        "lr-schedule",
    }


@pytest.mark.parametrize("component", BUILTINS, ids=lambda c: f"{c.spec.kind}:{c.qualified_name}")
def test_builtin_component_passes_the_contract(component, mnist_root, tmp_path):
    """Metrics get the spec checks only (see check_component); image-folder reads a folder of
    PNGs in two class sub-folders."""
    params = NARROW.get(component.plugin) if component.spec.kind in ("generator", "discriminator") else None
    if component.spec.name == "image-folder":
        params = {"path": str(png_folder(tmp_path / "pictures")), "image_size": 16}
    check_component(component, MNIST_SHAPE, params=params, data_root=str(mnist_root), data_limit=50)


def png_folder(root):
    """Two class sub-folders of 6 small random RGB PNGs each."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 16, 20), (3, 64, 64), (1, 28, 28)])
@pytest.mark.parametrize("kind", ["generator", "discriminator"])
@pytest.mark.parametrize("name", ["mlp", "dcgan", "cmlp", "cdcgan"])
def test_builtin_networks_pass_at_other_image_shapes(name, kind, shape):
    small = {"widths": [8, 4, 2]} if (kind, name) in (("generator", "dcgan"), ("generator", "cdcgan")) else None
    check_component(load_registry().resolve(kind, name), shape, params=small)


def test_params_given_as_a_recipe_table_are_validated():
    spec = load_registry().resolve("schedule", "n-critic").spec
    check_component(spec, params={"n": 2})
    with pytest.raises(ValueError, match="n: 0 is out of range"):
        check_component(spec, params={"n": 0})


def fails(message: str):
    return pytest.raises(ContractError, match=message)


# --------------------------------------------------------------------------------------------
# Generators and discriminators


class TinyGenerator(Generator):
    """(N, 2) -> (N, 1, 2, 2) through one linear layer and ``squash`` (tanh by default)."""

    def __init__(self, squash=torch.tanh, image_shape=(1, 2, 2)):
        super().__init__()
        self.latent_dim, self.image_shape = 2, image_shape
        self.linear = nn.Linear(2, 4)
        self.squash = squash

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.squash(self.linear(z) * 10).view(-1, 1, 2, 2)


class ConditionalTinyGenerator(TinyGenerator):
    """TinyGenerator plus a learned per-class offset of every pixel (before tanh), K classes;
    ``uses_labels=False``: a conditional generator that forgets its labels."""

    def __init__(self, params: Any = None, image_shape=(1, 2, 2), num_classes: int = 3, uses_labels: bool = True):
        super().__init__(image_shape=image_shape)
        self.num_classes = num_classes
        self.offset = nn.Embedding(num_classes, 4)
        self.uses_labels = uses_labels

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        shift = self.offset(labels) if self.uses_labels else 0
        return torch.tanh(self.linear(z) + shift).view(-1, 1, 2, 2)


def test_check_generator_passes_good_ones():
    check_generator(TinyGenerator(), (1, 2, 2))
    check_generator(ConditionalTinyGenerator(), (1, 2, 2), num_classes=3)


class NarrowLatent(TinyGenerator):
    """Overrides sample_latent with the narrow signature that earlier docs showed."""

    def sample_latent(self, n: int) -> Tensor:  # type: ignore[override]
        return torch.randn(n, self.latent_dim)


class PrivateNoise(TinyGenerator):
    """Draws its noise from a generator of its own, ignoring the one it is given."""

    def sample_latent(self, n, *, device=None, generator=None):
        return torch.randn(n, self.latent_dim, device=device)


@pytest.mark.parametrize(
    "generator, message",
    [
        (TinyGenerator(squash=lambda x: x), "forward.z. in train mode goes (above 1|below -1)"),
        (TinyGenerator(squash=lambda x: torch.tanh(x).double()), "has dtype torch.float64, expected torch.float32"),
        (
            TinyGenerator(image_shape=(1, 4, 4)),
            r"forward\(z\) in train mode has shape \(4, 1, 2, 2\), expected \(4, 1, 4, 4\)",
        ),
        (
            TinyGenerator(squash=lambda x: torch.tanh(F.dropout(x, 0.5, training=True))),
            "eval mode is not deterministic",
        ),
        (TinyGenerator(squash=lambda x: torch.tanh(x).detach()), "generated images does not depend on its inputs"),
        (
            NarrowLatent(),
            r"sample_latent cannot be called as the engine calls it, sample_latent\(4, device=\.\.\., generator=\.\.\.\)",
        ),
        (PrivateNoise(), "sample_latent.. differs for two torch.Generators of the same seed"),
        (ConditionalTinyGenerator(uses_labels=False), "the generated images do not depend on the labels"),
        (nn.Linear(2, 4), "is a Linear, not a ganfw.contracts.Generator"),
    ],
)
def test_check_generator_catches(generator, message):
    with fails(message):
        check_generator(generator, generator.image_shape if isinstance(generator, Generator) else None)


def test_check_generator_catches_a_wrong_image_shape_num_classes_and_unsaveable_state():
    with fails(r"image_shape is \(1, 2, 2\), but it was built for \(1, 28, 28\)"):
        check_generator(TinyGenerator(), MNIST_SHAPE)
    with fails("num_classes is 3, but it was built with num_classes=10"):
        check_generator(ConditionalTinyGenerator(), num_classes=10)
    with fails(r"num_classes is 3, but its spec is not conditional \(conditional=True\)"):
        check_generator(ConditionalTinyGenerator(), num_classes=0)

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

        def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
            return torch.tanh(self.linear(z) + self.shift).view(-1, 1, 2, 2)

        def _load_from_state_dict(self, state_dict, prefix, metadata, strict, missing, unexpected, errors):
            state_dict.pop(prefix + "shift")
            super()._load_from_state_dict(state_dict, prefix, metadata, strict, missing, unexpected, errors)
            missing.remove(prefix + "shift")

    with fails("outputs differ after a state_dict round trip through safetensors"):
        check_generator(Forgetful())


class TinyDiscriminator(Discriminator):
    """(N, 1, 2, 2) -> (N,) through ``head`` applied to a linear layer's output (N, 1); with
    ``num_classes``, a learned per-class offset (``uses_labels=False``: one that forgets them)."""

    def __init__(self, head=lambda x: x.squeeze(1), num_classes: int = 0, uses_labels: bool = True):
        super().__init__()
        self.image_shape = (1, 2, 2)
        self.linear = nn.Linear(4, 1)
        self.head = head
        self.num_classes, self.uses_labels = num_classes, uses_labels
        self.offset = nn.Parameter(torch.linspace(-1, 1, num_classes))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        logits = self.head(torch.tanh(self.linear(images.flatten(1))))
        return logits + self.offset[labels] if self.num_classes and self.uses_labels else logits


def test_check_discriminator_passes_good_ones():
    check_discriminator(TinyDiscriminator(), (1, 2, 2))
    check_discriminator(TinyDiscriminator(num_classes=3), (1, 2, 2), num_classes=3)


@pytest.mark.parametrize(
    "discriminator, message",
    [
        (TinyDiscriminator(lambda x: x), r"has shape \(4, 1\), expected \(4,\)"),
        (TinyDiscriminator(lambda x: x.squeeze(1) / 0), "has non-finite values"),
        (
            TinyDiscriminator(lambda x: x.squeeze(1).detach()),
            "a projection of the logits does not depend on its inputs",
        ),
        (TinyDiscriminator(num_classes=3, uses_labels=False), "the logits do not depend on the labels"),
    ],
)
def test_check_discriminator_catches(discriminator, message):
    with fails(message):
        check_discriminator(discriminator)


class Constant(Discriminator):
    """Logits (N,) from a bias alone: they do not depend on the images."""

    image_shape = (1, 2, 2)

    def __init__(self):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.bias.expand(len(images))


def test_check_discriminator_catches_logits_that_ignore_the_images():
    with fails("the logits do not depend on the images"):
        check_discriminator(Constant())


# --------------------------------------------------------------------------------------------
# Losses


class TinyHinge(Loss):
    """Hinge loss, D's as two named terms; optional penalties."""

    def __init__(self, params: None = None, penalties: tuple[Penalty, ...] = ()):
        self._penalties = list(penalties)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Any:
        return {"real": F.relu(1 - real_logits).mean(), "fake": F.relu(1 + fake_logits).mean()}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Any:
        return -fake_logits.mean()

    def penalties(self) -> list[Penalty]:
        return self._penalties


class RelativisticAverage(Loss):
    """RaGAN's non-saturating loss (Jolicoeur-Martineau 2019): each logit judged against the other
    batch's mean; its statistics count D right when a real logit beats the fakes' mean."""

    g_needs_real = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _relativistic(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return _relativistic(fake_logits, real_logits)

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        r, f = real_logits.detach(), fake_logits.detach()
        return {
            "d_real": torch.sigmoid(r - f.mean()).mean(),
            "d_fake": torch.sigmoid(f - r.mean()).mean(),
            "acc_real": (r > f.mean()).float().mean(),
            "acc_fake": (f < r.mean()).float().mean(),
        }


def _relativistic(winners: Tensor, losers: Tensor) -> Tensor:
    target = torch.ones_like(winners)
    return F.binary_cross_entropy_with_logits(winners - losers.mean(), target) + F.binary_cross_entropy_with_logits(
        losers - winners.mean(), torch.zeros_like(losers)
    )


class CountsCalls(TinyHinge):
    """Scales G's loss by a call counter: fine when the counter is state, not otherwise."""

    def __init__(self, in_state: bool):
        super().__init__()
        self.calls, self.in_state = 0, in_state

    def g_loss(self, real_logits, fake_logits):
        self.calls += 1
        return -fake_logits.mean() * self.calls

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls} if self.in_state else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calls = state.get("calls", 0)


def test_check_loss_passes_good_ones():
    check_loss(TinyHinge())
    check_loss(RelativisticAverage(), (3, 8, 8))
    check_loss(CountsCalls(in_state=True))


class NaiveBCE(TinyHinge):
    """The textbook formulas, log(sigmoid(x)) unfused: -inf at extreme logits."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return -(torch.log(torch.sigmoid(real_logits)).mean() + torch.log(1 - torch.sigmoid(fake_logits)).mean())


class PerSample(TinyHinge):
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits)  # (N,), not a scalar; and ignores the fakes


class IgnoresFakes(TinyHinge):
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean()


class CachesRealLogits(TinyHinge):
    """A relativistic G loss by the back door: D(real) remembered from the last d_loss."""

    def d_loss(self, real_logits, fake_logits):
        self.real_mean = real_logits.detach().mean()
        return super().d_loss(real_logits, fake_logits)

    def g_loss(self, real_logits, fake_logits):
        return F.softplus(getattr(self, "real_mean", 0.0) - fake_logits).mean()


class SlashedTerms(TinyHinge):
    def d_loss(self, real_logits, fake_logits):
        return {"d/real": F.relu(1 - real_logits).mean(), "fake": F.relu(1 + fake_logits).mean()}


class RawStatistics(TinyHinge):
    def statistics(self, real_logits, fake_logits):
        return {**super().statistics(real_logits, fake_logits), "d_real": torch.tensor(1.5)}


class FewStatistics(TinyHinge):
    def statistics(self, real_logits, fake_logits):
        return {"acc_real": (real_logits > 0).float().mean()}


class BoolishNeedsReal(TinyHinge):
    g_needs_real = 1


class TupleState(TinyHinge):
    def state_dict(self):
        return {"pair": (1, 2)}


@pytest.mark.parametrize(
    "loss, message",
    [
        (NaiveBCE(), "d_loss on extreme logits has non-finite values"),
        (PerSample(), r"d_loss on typical logits has shape \(5,\), expected \(\)"),
        (IgnoresFakes(), "d_loss on typical logits: some of its inputs get no gradient"),
        (
            CachesRealLogits(),
            "g_loss on typical logits, call 3 of g, d, g, d, differs from the same call on a fresh loss",
        ),
        (CountsCalls(in_state=False), "g_loss on typical logits, call 3 of g, d, g, d, differs"),
        (
            SlashedTerms(),
            "d_loss on typical logits: term name 'd/real' is not a non-empty string without spaces or '/'",
        ),
        (RawStatistics(), r"statistics\(\)\['d_real'\] on typical logits goes above 1.0"),
        (FewStatistics(), r"statistics\(\) on typical logits returned \['acc_real'\], expected a dict with exactly"),
        (BoolishNeedsReal(), "g_needs_real is 1, not a bool"),
        (TupleState(), "changes through JSON"),
    ],
)
def test_check_loss_catches(loss, message):
    with fails(message):
        check_loss(loss)


def test_g_loss_gets_no_real_logits_unless_it_asks():
    class Spy(TinyHinge):
        seen: list = []

        def g_loss(self, real_logits, fake_logits):
            Spy.seen.append(real_logits)
            return super().g_loss(real_logits, fake_logits)

    check_loss(Spy())
    assert Spy.seen and all(r is None for r in Spy.seen)
    Spy.g_needs_real, Spy.seen = True, []
    check_loss(Spy())
    assert Spy.seen and all(isinstance(r, Tensor) and not r.requires_grad for r in Spy.seen)


# --------------------------------------------------------------------------------------------
# Penalties


class R1(Penalty):
    """R1 (Mescheder et al. 2018): (gamma / 2) * E ||grad_x D(x)||^2 on the real images, lazy."""

    name, player = "r1", "d"

    def __init__(self, gamma: float = 1.0, every: int = 4):
        self.gamma, self.every = gamma, every

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        x = inputs.real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(inputs.discriminator(x, inputs.real_labels).sum(), x, create_graph=True)
        return 0.5 * self.gamma * grad.square().flatten(1).sum(1).mean()


class GradientPenalty(R1):
    """WGAN-GP's penalty at random interpolates (Gulrajani et al. 2017), alpha from the global RNG."""

    name = "gp"

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        alpha = torch.rand(len(inputs.real), 1, 1, 1, device=inputs.real.device)
        x = (alpha * inputs.real + (1 - alpha) * inputs.fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(inputs.discriminator(x, inputs.real_labels).sum(), x, create_graph=True)
        return (grad.flatten(1).norm(dim=1) - 1).square().mean()


class FakeDistance(Penalty):
    """A G-side penalty: keeps G's images near mid-grey (gradients to G through ``fake``)."""

    name, player, every = "fake-distance", "g", 1

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        return inputs.fake.square().mean()


def test_check_penalty_passes_good_ones():
    check_penalty(R1())
    check_penalty(GradientPenalty(), (3, 8, 8))
    check_penalty(FakeDistance())
    check_loss(TinyHinge(penalties=(R1(), FakeDistance())), (1, 4, 4))


class OneArgument(R1):
    def __call__(self, inputs):
        x = inputs.real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(inputs.discriminator(x).sum(), x, create_graph=True)
        return grad.square().sum()


class Flat(R1):
    def __call__(self, inputs):
        return torch.tensor(0.0)


class ClampsInPlace(R1):
    def __call__(self, inputs):
        inputs.real.clamp_(-0.5, 0.5)
        return super().__call__(inputs)


class PrivateRandom(GradientPenalty):
    def __init__(self):
        super().__init__()
        self.rng = torch.Generator().manual_seed(0)

    def __call__(self, inputs):
        alpha = torch.rand(len(inputs.real), 1, 1, 1, generator=self.rng)
        x = (alpha * inputs.real + (1 - alpha) * inputs.fake.detach()).requires_grad_(True)
        return inputs.discriminator(x, None).square().mean()


class DetachedGPenalty(FakeDistance):
    def __call__(self, inputs):
        return inputs.discriminator(inputs.fake.detach(), inputs.fake_labels).mean()


@pytest.mark.parametrize(
    "penalty, message",
    [
        (R1(every=0), "penalty 'r1': every is 0, expected an int >= 1"),
        (R1(every=True), "penalty 'r1': every is True, expected an int >= 1"),
        (
            Flat(),
            r"penalty 'r1' \(unlabelled batch, on cpu\), towards the parameters of D does not depend on its inputs",
        ),
        (ClampsInPlace(), "changed its input tensors"),
        (PrivateRandom(), "a second call under the same seed gives another value"),
        (DetachedGPenalty(), "towards the parameters of G: none of its inputs gets a gradient"),
    ],
)
def test_check_penalty_catches(penalty, message):
    with fails(message):
        check_penalty(penalty)


def test_check_penalty_catches_declarations_and_a_penalty_calling_d_without_labels():
    bad_player = R1()
    bad_player.player = "both"
    with fails("penalty 'r1': player is 'both', expected 'd' or 'g'"):
        check_penalty(bad_player)
    with fails("penalty name 'lazy r1' is not a non-empty string without spaces"):
        check_penalty(type("Spaced", (R1,), {"name": "lazy r1"})())
    with fails(r"penalties\(\) has names \['r1', 'r1'\], not distinct"):
        check_loss(TinyHinge(penalties=(R1(), R1(every=2))))
    # D is called as the step calls it, D(images, labels): one argument is a TypeError.
    with pytest.raises(TypeError, match="labels"):
        check_penalty(OneArgument())


# --------------------------------------------------------------------------------------------
# Schedules and learning-rate schedules


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
        (
            Scripted(decision=lambda step: (True, True)),
            r"D always right, step 0: decide\(\) returned \(True, True\), not a Decision",
        ),
        (Scripted(decision=lambda step: Decision(1, True)), "has fields that are not bools"),
        (
            Scripted(decision=lambda step: Decision(step < 30, False)),
            "step 80: neither network has trained for 51 steps in a row",
        ),
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


class Factor(LRSchedule):
    """``factor(step, total) = fn(step, total)``."""

    def __init__(self, fn=lambda step, total: (1 - step / total, 1.0)):
        self.fn = fn

    def factor(self, step: int, total_steps: int) -> Any:
        return self.fn(step, total_steps)


class Drifting(LRSchedule):
    """D's factor shrinks with every call: a function of the calls, not of the step."""

    def __init__(self):
        self.calls = 0

    def factor(self, step: int, total_steps: int) -> tuple[float, float]:
        self.calls += 1
        return 1.0, 1.0 / self.calls


@pytest.mark.parametrize(
    "schedule, message",
    [
        (
            Factor(lambda step, total: (1.0 - 2 * step / total, 1.0)),
            r"factor\(4, 7\) returned \(-0.14.*, 1.0\), not a pair of finite numbers >= 0",
        ),
        (Factor(lambda step, total: 1.0), r"factor\(0, 1\) returned 1.0, not a pair"),
        (Factor(lambda step, total: (float("nan"), 1.0)), "not a pair of finite numbers"),
        (Factor(lambda step, total: (1.0, 0.0)), "over 1 steps, D's factor is never above 0: it never trains"),
        (Drifting(), "over 1 steps, factor.. changes when asked in another order"),
    ],
)
def test_check_lr_schedule(schedule, message):
    check_lr_schedule(Factor())
    with fails(message):
        check_lr_schedule(schedule)


# --------------------------------------------------------------------------------------------
# Augmentations


class Brightness(Augmentation):
    """Shift each image's brightness by ``strength * U(-1, 1)`` (global RNG); ``strength`` grows
    by 0.01 on each step where D gets more than 60 % of the reals right (ADA's idea)."""

    def __init__(self, params: None = None, restores: bool = True):
        self.strength, self.restores = 0.1, restores

    def __call__(self, images: Tensor) -> Tensor:
        shift = torch.rand(len(images), 1, 1, 1, device=images.device) * 2 - 1
        return images + self.strength * shift

    def observe(self, report) -> None:
        self.strength += 0.01 if report.acc_real > 0.6 else 0.0

    def log(self) -> dict[str, float]:
        return {"strength": self.strength}

    def state_dict(self) -> dict[str, Any]:
        return {"strength": self.strength}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.restores:
            self.strength = state["strength"]


class PrivateBrightness(Brightness):
    def __init__(self):
        super().__init__()
        self.rng = torch.Generator().manual_seed(0)

    def __call__(self, images):
        return images + 0.1 * torch.rand(len(images), 1, 1, 1, generator=self.rng)


class Cropping(Brightness):
    def __call__(self, images):
        return images[..., 1:, 1:]


class Detaching(Brightness):
    def __call__(self, images):
        return super().__call__(images).detach()


class InPlace(Brightness):
    def __call__(self, images):
        out = super().__call__(images)
        images.data.clamp_(-0.5, 0.5)
        return out


@pytest.mark.parametrize(
    "augmentation, message",
    [
        (Cropping(), r"augmentation\(images\) on cpu has shape \(4, 1, 27, 27\), expected \(4, 1, 28, 28\)"),
        (Detaching(), "a projection of augmentation.images. on cpu does not depend on its inputs"),
        (PrivateBrightness(), "gives other images under the same seed"),
        (InPlace(), "changed its input images"),
        (
            Brightness(restores=False),
            "a fresh augmentation loaded with state_dict.. reports another state when restored",
        ),
    ],
)
def test_check_augmentation(augmentation, message):
    check_augmentation(Brightness())
    with fails(message):
        check_augmentation(augmentation)


# --------------------------------------------------------------------------------------------
# Callbacks


class EMA(Callback):
    """An exponential moving average of G's weights (Karras et al. 2018), used for sampling."""

    def __init__(self, params: None = None, decay: float = 0.5):
        self.decay = decay
        self.ema: Generator | None = None
        self.updates = 0

    def setup(self, view) -> None:
        self.ema = copy.deepcopy(view.generator).eval().requires_grad_(False)

    def on_step_end(self, view, report) -> None:
        with torch.no_grad():
            for mine, theirs in zip(self.ema.parameters(), view.generator.parameters()):
                mine.lerp_(theirs, 1 - self.decay)
        self.updates += 1

    def modules(self) -> dict[str, nn.Module]:
        return {"generator": self.ema}

    def sampling_generator(self) -> Generator | None:
        return self.ema

    def log(self) -> dict[str, float]:
        return {"ema_updates": float(self.updates)}

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = state["updates"]


class EarlyStop(Callback):
    def on_evaluation(self, view, scores) -> None:
        if scores["fid"] < 60:
            view.request_stop(f"fid {scores['fid']} below 60")


def test_check_callback_passes_good_ones():
    check_callback(EMA())
    check_callback(EarlyStop(), (3, 8, 8))
    check_callback(Callback())  # every hook's default


class NoisyEMA(EMA):
    def on_step_end(self, view, report):
        super().on_step_end(view, report)
        torch.randn(1)


class Meddler(EMA):
    def on_step_end(self, view, report):
        with torch.no_grad():
            next(view.generator.parameters()).zero_()


class LeavesEvalMode(EMA):
    def on_epoch_end(self, view):
        view.generator.eval()


class Unsaved(EMA):
    def modules(self):
        return {}


class Dotted(EMA):
    def modules(self):
        return {"ema.generator": self.ema}


class WrongSampler(EMA):
    def sampling_generator(self):
        return TinyGenerator()


class RestartsOnRunStart(EMA):
    """Starts its average afresh at every run start: a resumed run forgets the loaded one."""

    def on_run_start(self, view):
        self.setup(view)


class CountsWithoutRestoring(EMA):
    def load_state_dict(self, state):
        pass


class StopsWithANumber(EarlyStop):
    def on_evaluation(self, view, scores):
        view.request_stop(scores["fid"])


@pytest.mark.parametrize(
    "callback, message",
    [
        (NoisyEMA(), r"on_step_end\(\) changed torch's global random state"),
        (Meddler(), r"on_step_end\(\) changed the ProbeGenerator's weights \(the view is read-only\)"),
        (LeavesEvalMode(), r"on_epoch_end\(\) left a network in eval mode"),
        (Unsaved(), r"sampling_generator\(\) is not one of modules\(\), so checkpoints would not keep it"),
        (Dotted(), r"modules\(\) has a name 'ema.generator'"),
        (WrongSampler(), r"sampling_generator\(\) is a TinyGenerator, not a ProbeGenerator like the generator"),
        (RestartsOnRunStart(), r"ends with other tensors in modules\(\)\['generator'\]"),
        (CountsWithoutRestoring(), r"ends with other state_dict\(\)"),
        (StopsWithANumber(), r"request_stop\(\) got \[100.0, 50.0\], not strings"),
        (type("Tupled", (EMA,), {"state_dict": lambda self: {"t": (1, 2)}})(), "changes through JSON"),
    ],
)
def test_check_callback_catches(callback, message):
    with fails(message):
        check_callback(callback)


# --------------------------------------------------------------------------------------------
# Datasets


class Pixels(MNIST):
    """MNIST as stored: 0..255 and no ``limit``."""

    def load(self) -> Tensor:
        return self.load_split(train=True).unsqueeze(1).float()


def test_check_dataset(mnist_root):
    check_dataset(MNIST(MNISTParams(download=False), root=str(mnist_root), limit=10), limit=10)
    with fails(r"load\(\) returned 60000 images, more than limit=10"):
        check_dataset(Pixels(MNISTParams(download=False), root=str(mnist_root), limit=10), limit=10)
    with fails("load.. goes above 1.0"):
        check_dataset(Pixels(MNISTParams(download=False), root=str(mnist_root)))


class Labelled(Dataset):
    """Six images of two classes; ``labels`` and ``class_names`` as given."""

    image_shape = (1, 2, 2)

    def __init__(self, labels: Any = (0, 1, 0, 1, 0, 1), class_names: Any = ("odd", "even")):
        self.labels, self.class_names = labels, class_names

    def load(self) -> Tensor:
        return torch.zeros(6, 1, 2, 2)

    def load_labels(self) -> Tensor | None:
        return None if self.labels is None else torch.tensor(self.labels)


@pytest.mark.parametrize(
    "dataset, message",
    [
        (Labelled(labels=(0, 1, 2, 0, 1, 2)), r"load_labels\(\) goes above 1"),
        (Labelled(labels=(0, 1, 0)), r"load_labels\(\) has shape \(3,\), expected \(6,\)"),
        (Labelled(labels=None), r"load_labels\(\) returned None for a dataset with 2 class names"),
        (Labelled(class_names=()), r"load_labels\(\) returned labels, but class_names is empty"),
        (Labelled(class_names=["odd", "even"]), "class_names is .*, expected a tuple of distinct non-empty strings"),
        (Labelled(class_names=("a", "a")), "expected a tuple of distinct non-empty strings"),
    ],
)
def test_check_dataset_labels(dataset, message):
    check_dataset(Labelled())
    check_dataset(Labelled(labels=None, class_names=()))
    with fails(message):
        check_dataset(dataset)


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
    spec = ComponentSpec(name="narrow", kind="generator", summary="s", factory=f"{__name__}:narrow_latent")
    with fails("^generator 'narrow': sample_latent cannot be called as the engine calls it"):
        check_component(spec, (1, 2, 2))


def narrow_latent(params: None, image_shape) -> NarrowLatent:
    return NarrowLatent(image_shape=image_shape)


def fixed_classes(params: None, image_shape, num_classes: int) -> ConditionalTinyGenerator:
    """A conditional factory that ignores the ``num_classes`` it is given."""
    return ConditionalTinyGenerator(params, image_shape, num_classes=3)


def conditional_discriminator(params: None, image_shape, num_classes: int) -> TinyDiscriminator:
    return TinyDiscriminator(num_classes=num_classes)


def forgetful_discriminator(params: None, image_shape, num_classes: int) -> TinyDiscriminator:
    return TinyDiscriminator(num_classes=num_classes, uses_labels=False)


def test_check_component_builds_conditional_networks_with_num_classes():
    def spec(kind: str, factory: str) -> ComponentSpec:
        return ComponentSpec(name="c", kind=kind, summary="s", factory=f"{__name__}:{factory}", conditional=True)

    check_component(spec("generator", "ConditionalTinyGenerator"), (1, 2, 2))  # num_classes=10
    check_component(spec("generator", "ConditionalTinyGenerator"), (1, 2, 2), num_classes=2)
    check_component(spec("discriminator", "conditional_discriminator"), (1, 2, 2), num_classes=5)
    with fails("^generator 'c': num_classes is 3, but it was built with num_classes=10$"):
        check_component(spec("generator", "fixed_classes"), (1, 2, 2))
    with fails("^discriminator 'c': the logits do not depend on the labels"):
        check_component(spec("discriminator", "forgetful_discriminator"), (1, 2, 2))


@dataclass(frozen=True)
class ScaledParams:
    base: ComponentRef = component_param("lr-schedule", "cosine", "the schedule to scale")
    scale: float = param(0.5, "multiplies both factors", min=0.0, min_exclusive=True)


class Scaled(LRSchedule):
    """Another lr-schedule's factors times ``scale`` (composition)."""

    def __init__(self, params: ScaledParams):
        self.base, self.scale = params.base.build(), params.scale

    def factor(self, step: int, total_steps: int) -> tuple[float, float]:
        g, d = self.base.factor(step, total_steps)
        return g * self.scale, d * self.scale


def test_check_component_resolves_component_params():
    spec = ComponentSpec(
        name="scaled", kind="lr-schedule", summary="s", factory=f"{__name__}:Scaled", params=ScaledParams
    )
    check_component(spec)
    check_component(spec, params={"base": {"name": "linear-decay", "params": {"warmup": 3}}})
    with fails(r"^lr-schedule 'scaled': component param params.base.name: unknown lr-schedule 'nope'; available: "):
        check_component(spec, params={"base": "nope"})
    with fails(r"component param params.base.params.warmup: expected an integer"):
        check_component(spec, params={"base": {"name": "cosine", "params": {"warmup": "x"}}})


def _module(name: str, api: Any = 2, **attrs: Any) -> ModuleType:
    module = ModuleType(name)
    module.__dict__.update(attrs)
    if api is not None:
        module.GANFW_API = api
    return module


def _hook(*specs):
    return hookimpl(lambda: list(specs))


def test_plugin_specs():
    assert plugin_specs(_module("good", ganfw_losses=_hook(SPEC))) == [SPEC]
    assert {s.name for s in plugin_specs(builtin_lr_schedules)} >= {"constant", "cosine"}
    with fails("good.ganfw_losses.. lacks the @hookimpl decorator"):
        plugin_specs(_module("good", ganfw_losses=lambda: [SPEC]))
    with fails(r"typo.ganfw_loss\(\) is not a ganfw hook; did you mean ganfw_losses\(\)\?"):
        plugin_specs(_module("typo", ganfw_loss=_hook(SPEC)))
    with fails("returned 'fine' of kind 'loss', not 'schedule'"):
        plugin_specs(_module("kinds", ganfw_schedules=_hook(SPEC)))
    with fails("empty offers no components"):
        plugin_specs(_module("empty"))


@pytest.mark.parametrize(
    "api, declared", [(None, "declares no GANFW_API"), (1, "declares GANFW_API = 1"), ("2", "declares GANFW_API = '2'")]
)
def test_plugin_specs_wants_the_api_version(api, declared):
    with fails(f"^old {declared}; this ganfw's plugin API is 2: write GANFW_API = 2 in the module"):
        plugin_specs(_module("old", api=api, ganfw_losses=_hook(SPEC)))


def test_check_installed(monkeypatch):
    monkeypatch.delenv("GANFW_DISABLE_PLUGINS", raising=False)
    found = check_installed("lr_schedules", plugin_specs(builtin_lr_schedules))
    assert {c.spec.name for c in found} >= {"cosine"}
    with fails(
        r"no plugin 'nope' is installed \(installed: .*lr_schedules.*\); check the \[project.entry-points.ganfw\]"
    ):
        check_installed("nope")
    with fails("plugin 'lr_schedules' is installed with .*, expected"):
        check_installed("lr_schedules", [SPEC])
    monkeypatch.setenv("GANFW_DISABLE_PLUGINS", "lr_schedules")
    with fails("plugin 'lr_schedules' is disabled by GANFW_DISABLE_PLUGINS"):
        check_installed("lr_schedules")
