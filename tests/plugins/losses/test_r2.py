"""R2, the zero-centred gradient penalty on generated images, against gradients worked out by hand
on tiny discriminators, and the r1-r2 loss (R3GAN's regularisation) composed through a recipe."""

from __future__ import annotations

import math

import pytest
import torch

from ganfw.contracts import Discriminator, PenaltyInputs
from ganfw.plugins import load_registry
from ganfw.recipe import ComponentError
from ganfw.testing import check_component
from ganfw_plugins.losses.penalties import R1Penalty
from ganfw_plugins.losses.r1_r2 import R1R2, R2Penalty
from ganfw_plugins.losses.relativistic import RelativisticAverage
from tests.helpers.losses import build_loss


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class TanhD(Discriminator):
    """D(x) = v . tanh(W x) on images of two pixels (1, 1, 2), plus the label (which has no input
    gradient): grad_x D = W^T (v * (1 - tanh(W x)^2))."""

    image_shape = (1, 1, 2)

    def __init__(self):
        super().__init__()
        self.W = torch.nn.Parameter(torch.tensor([[1.0, -2.0], [0.5, 0.25]]))
        self.v = torch.nn.Parameter(torch.tensor([1.5, -1.0]))
        self.seen_labels = []

    def forward(self, images, labels=None):
        self.seen_labels.append(labels)
        out = torch.tanh(images.flatten(1) @ self.W.T) @ self.v
        return out if labels is None else out + labels


def squared_gradient_norm(x: tuple[float, float]) -> float:
    """||grad_x D(x)||^2 of :class:`TanhD`, by hand."""
    (w11, w12), (w21, w22), (v1, v2) = (1.0, -2.0), (0.5, 0.25), (1.5, -1.0)
    d1 = v1 * (1 - math.tanh(w11 * x[0] + w12 * x[1]) ** 2)
    d2 = v2 * (1 - math.tanh(w21 * x[0] + w22 * x[1]) ** 2)
    return (w11 * d1 + w21 * d2) ** 2 + (w12 * d1 + w22 * d2) ** 2


REAL = [(0.3, -0.2), (-0.7, 0.1), (0.05, 0.9)]
FAKE = [(0.6, 0.4), (-0.1, -0.8), (0.2, 0.2)]


def images(points) -> torch.Tensor:
    return torch.tensor(points).view(len(points), 1, 1, 2)


def step_inputs(d, real, fake, real_labels=None, fake_labels=None) -> PenaltyInputs:
    """What the engine hands a penalty on D's step: G's images (attached to G until detached)."""
    return PenaltyInputs(
        discriminator=d,
        generator=lambda z, y: z,
        real=real,
        fake=fake,
        real_labels=real_labels,
        fake_labels=fake_labels,
        z=torch.zeros(len(fake), 2),
    )


def test_r2_is_half_gamma_times_the_mean_squared_gradient_norm_on_the_generated_batch():
    d = TanhD()
    real = torch.full((3, 1, 1, 2), float("nan"))  # R2 never looks at the real batch
    fake_labels = torch.tensor([2, 0, 1])
    value = R2Penalty(gamma=3.0, every=4)(step_inputs(d, real, images(FAKE), torch.tensor([7, 7, 7]), fake_labels))
    expected = 3.0 / 2 * sum(squared_gradient_norm(x) for x in FAKE) / len(FAKE)
    assert value.item() == pytest.approx(expected, rel=1e-5)
    assert d.seen_labels == [fake_labels]  # D judges G's images with the labels G was asked for


def test_r1_is_the_same_penalty_on_the_real_batch():
    d = TanhD()
    real_labels = torch.tensor([1, 1, 0])
    value = R1Penalty(gamma=3.0, every=4)(
        step_inputs(d, images(REAL), torch.full((3, 1, 1, 2), float("nan")), real_labels)
    )
    assert value.item() == pytest.approx(3.0 / 2 * sum(squared_gradient_norm(x) for x in REAL) / 3, rel=1e-5)
    assert d.seen_labels == [real_labels]


def test_r2_backpropagates_into_d_only():
    """On a linear D(x) = w . x the penalty is gamma / 2 ||w||^2, whose gradient is gamma w; no
    gradient reaches G through its images."""
    linear = torch.nn.Parameter(torch.tensor([0.5, -1.5]))
    g_param = torch.nn.Parameter(torch.ones(()))
    fake = images(FAKE) * g_param
    penalty = R2Penalty(gamma=2.0, every=1)
    value = penalty(step_inputs(lambda x, y: x.flatten(1) @ linear, images(REAL), fake))
    assert value.item() == pytest.approx(2.0 / 2 * (0.25 + 2.25), rel=1e-6)
    value.backward()
    torch.testing.assert_close(linear.grad, 2.0 * linear.detach())
    assert g_param.grad is None
    assert (penalty.name, penalty.player, penalty.every) == ("r2", "d", 1)


# --- r1-r2 around another loss, through a recipe -------------------------------------------------


def test_r1_r2_defaults_are_r3gans_regularised_relativistic_loss(tmp_path, registry):
    loss = build_loss(tmp_path, registry, {"name": "r1-r2"})
    assert isinstance(loss, R1R2) and isinstance(loss.base, RelativisticAverage) and loss.g_needs_real
    assert [(p.name, p.player, p.every, p.gamma) for p in loss.penalties()] == [
        ("r1", "d", 1, 0.05),
        ("r2", "d", 1, 0.05),
    ]
    real, fake = torch.tensor([1.0, -0.5]), torch.tensor([0.2, 0.3, -2.0])
    assert loss.d_loss(real, fake) == RelativisticAverage().d_loss(real, fake)
    assert loss.g_loss(real, fake) == RelativisticAverage().g_loss(real, fake)


def test_r1_r2_adds_half_gamma_times_both_squared_gradient_norms(tmp_path, registry):
    loss = build_loss(tmp_path, registry, {"name": "r1-r2", "params": {"base": "hinge", "gamma": 0.5, "every": 8}})
    inputs = step_inputs(TanhD(), images(REAL), images(FAKE))
    total = sum(penalty(inputs) for penalty in loss.penalties()).item()
    expected = 0.5 / 2 * sum(squared_gradient_norm(x) for x in REAL + FAKE) / 3
    assert total == pytest.approx(expected, rel=1e-5)
    assert {p.every for p in loss.penalties()} == {8}


def test_r1_r2_keeps_its_bases_penalties(tmp_path, registry):
    loss = build_loss(tmp_path, registry, {"name": "r1-r2", "params": {"base": "wasserstein-gp"}})
    assert [p.name for p in loss.penalties()] == ["gp", "r1", "r2"] and not loss.g_needs_real


@pytest.mark.parametrize("base, taken", [("r1", "r1"), ("r1-r2", "r1")])
def test_a_base_with_r1_or_r2_already_is_refused(tmp_path, registry, base, taken):
    with pytest.raises(ComponentError, match=f"already has a penalty named '{taken}'"):
        build_loss(tmp_path, registry, {"name": "r1-r2", "params": {"base": base}})


def test_r1_r2_keeps_the_loss_contract(registry):
    check_component(registry.resolve("loss", "r1-r2"), (3, 8, 8))
