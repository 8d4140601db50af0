"""The adversarial losses against values worked out with the math module, and the gradient
penalty on discriminators whose input gradient is known in closed form."""

from __future__ import annotations

import math

import pytest
import torch

from ganfw.contracts import Discriminator, Loss
from ganfw.plugins import load_registry
from ganfw_plugins.losses import NonSaturatingParams, WassersteinGPParams
from ganfw_plugins.losses.objectives import Hinge, LeastSquares, Minimax, NonSaturating, WassersteinGP

REAL = [2.0, -1.0, 0.5]
FAKE = [-3.0, 0.0, 1.5, 4.0]  # a different batch size on purpose: each term is its own mean


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def log_sigmoid(x: float) -> float:
    return math.log(1 / (1 + math.exp(-x)))


def log_one_minus_sigmoid(x: float) -> float:
    return math.log(1 - 1 / (1 + math.exp(-x)))


def bce(x: float, target: float) -> float:
    return -(target * log_sigmoid(x) + (1 - target) * log_one_minus_sigmoid(x))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_non_saturating(smoothing):
    loss = NonSaturating(NonSaturatingParams(label_smoothing=smoothing))
    expected_d = mean(bce(x, 1 - smoothing) for x in REAL) + mean(bce(x, 0) for x in FAKE)
    assert loss.d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert loss.g_loss(t(FAKE)).item() == pytest.approx(mean(-log_sigmoid(x) for x in FAKE), rel=1e-12)


def test_minimax():
    loss = Minimax(None)
    expected_d = mean(-log_sigmoid(x) for x in REAL) + mean(-log_one_minus_sigmoid(x) for x in FAKE)
    assert loss.d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    # G minimises E[log(1 - D(G(z)))]: negative, and lower as D is fooled more
    assert loss.g_loss(t(FAKE)).item() == pytest.approx(mean(log_one_minus_sigmoid(x) for x in FAKE), rel=1e-12)
    assert loss.g_loss(t([3.0])) < loss.g_loss(t([-3.0])) < 0


def test_minimax_and_non_saturating_generator_gradients():
    # at a confidently rejected fake (logit -5) minimax's gradient vanishes, non-saturating's does not
    fake = t([-5.0]).requires_grad_(True)
    (g_minimax,) = torch.autograd.grad(Minimax().g_loss(fake), fake)
    (g_ns,) = torch.autograd.grad(NonSaturating(NonSaturatingParams()).g_loss(fake), fake)
    s = 1 / (1 + math.exp(5.0))  # sigmoid(-5)
    assert g_minimax.item() == pytest.approx(-s, rel=1e-9)
    assert g_ns.item() == pytest.approx(-(1 - s), rel=1e-9)


def test_hinge():
    loss = Hinge()
    expected_d = mean(max(0.0, 1 - x) for x in REAL) + mean(max(0.0, 1 + x) for x in FAKE)
    assert expected_d == pytest.approx((0 + 2 + 0.5) / 3 + (0 + 1 + 2.5 + 5) / 4)
    assert loss.d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert loss.g_loss(t(FAKE)).item() == pytest.approx(-2.5 / 4, rel=1e-12)


def test_least_squares():
    loss = LeastSquares()
    expected_d = 0.5 * (1 + 4 + 0.25) / 3 + 0.5 * (9 + 0 + 2.25 + 16) / 4
    assert loss.d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert loss.g_loss(t(FAKE)).item() == pytest.approx(0.5 * (16 + 1 + 0.25 + 9) / 4, rel=1e-12)


@pytest.mark.parametrize("drift", [0.0, 0.1])
def test_wasserstein(drift):
    loss = WassersteinGP(WassersteinGPParams(drift=drift))
    expected_d = 2.5 / 4 - 1.5 / 3 + drift * (4 + 1 + 0.25) / 3
    assert loss.d_loss(t(REAL), t(FAKE)).item() == pytest.approx(expected_d, rel=1e-12)
    assert loss.g_loss(t(FAKE)).item() == pytest.approx(-2.5 / 4, rel=1e-12)


@pytest.mark.parametrize("loss", [NonSaturating(NonSaturatingParams()), Minimax()])
def test_sigmoid_losses_are_finite_at_extreme_logits(loss):
    big = torch.tensor([100.0, -100.0])
    assert loss.d_loss(big, -big).item() == pytest.approx(100.0 / 2 + 100.0 / 2, rel=1e-6)
    assert torch.isfinite(loss.g_loss(big)) and torch.isfinite(loss.g_loss(-big))
    assert abs(loss.g_loss(big).item()) == pytest.approx(50.0, rel=1e-6)


def test_only_wasserstein_gp_has_a_regularizer():
    assert WassersteinGP(WassersteinGPParams()).has_regularizer
    others = [NonSaturating(NonSaturatingParams()), Minimax(), Hinge(), LeastSquares()]
    assert not any(loss.has_regularizer for loss in others)


# --- the gradient penalty ---------------------------------------------------------------------


class LinearD(Discriminator):
    """D(x) = sum(w * x): its input gradient is w everywhere."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.image_shape = tuple(w.shape)
        self.w = torch.nn.Parameter(w)

    def forward(self, images):
        return (images * self.w).flatten(1).sum(1)


class QuadraticD(Discriminator):
    """D(x) = ||x||^2 / 2: its input gradient is x itself."""

    image_shape = (1, 2, 2)

    def forward(self, images):
        return 0.5 * images.flatten(1).square().sum(1)


def _unit(shape=(1, 2, 2)) -> torch.Tensor:
    w = torch.randn(shape)
    return w / w.norm()


@pytest.mark.parametrize(("norm", "penalty"), [(2.0, 10.0), (1.0, 0.0), (0.5, 2.5)])
def test_gradient_penalty_on_a_linear_discriminator(norm, penalty):
    d = LinearD(norm * _unit())
    real, fake = torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)
    gp = WassersteinGP(WassersteinGPParams(gp_weight=10.0)).regularizer(d, real, fake)
    assert gp.item() == pytest.approx(penalty, abs=1e-5)


def test_gradient_penalty_backpropagates_to_the_discriminator_only():
    w = 2.0 * _unit()
    d = LinearD(w.clone())
    g_param = torch.nn.Parameter(torch.ones(()))
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2) * g_param
    WassersteinGP(WassersteinGPParams(gp_weight=10.0)).regularizer(d, real, fake).backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = 10 w when ||w|| = 2
    assert torch.allclose(d.w.grad, 10.0 * w, atol=1e-5)
    assert g_param.grad is None


def test_gradient_penalty_uses_each_samples_own_gradient_norm():
    # real == fake pins x_hat whatever the mix; D's gradient at x is x, of norms 1, 2 and 3
    x = torch.stack([n * _unit() for n in (1.0, 2.0, 3.0)])
    gp = WassersteinGP(WassersteinGPParams(gp_weight=3.0)).regularizer(QuadraticD(), x, x.clone())
    assert gp.item() == pytest.approx(3.0 * (0 + 1 + 4) / 3, rel=1e-5)


def test_gradient_penalty_samples_between_real_and_fake():
    # along one direction, ||x_hat|| = 3a + (1 - a) lies in [1, 3]: each sample adds (2a)^2 in [0, 4]
    e = _unit()
    real, fake = 3.0 * e.expand(256, -1, -1, -1), e.expand(256, -1, -1, -1)
    gp = WassersteinGP(WassersteinGPParams(gp_weight=1.0)).regularizer(QuadraticD(), real, fake).item()
    assert gp == pytest.approx(4 / 3, rel=0.15)  # E[(2a)^2] = 4/3 for a ~ U[0, 1]
    again = WassersteinGP(WassersteinGPParams(gp_weight=1.0)).regularizer(QuadraticD(), real, fake).item()
    assert gp != again  # a fresh mix every call


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="one shape"):
        WassersteinGP(WassersteinGPParams()).regularizer(QuadraticD(), torch.zeros(2, 1, 2, 2), torch.zeros(3, 1, 2, 2))


@pytest.mark.parametrize("name", ["non-saturating", "minimax", "hinge", "least-squares", "wasserstein-gp"])
def test_losses_build_through_the_registry(name):
    spec = load_registry().resolve("loss", name).spec
    loss = spec.load_factory()(spec.default_params())
    assert isinstance(loss, Loss)
    value = loss.d_loss(torch.zeros(2), torch.zeros(2))
    assert value.shape == () and torch.isfinite(value)
