"""The adversarial losses against values worked out with the math module, the gradient and R1
penalties on discriminators whose input gradient is known in closed form, and the r1 loss
composed around another loss through a recipe."""

from __future__ import annotations

import math

import pytest
import tomli_w
import torch

from ganfw.contracts import Discriminator, Loss, PenaltyInputs
from ganfw.plugins import load_registry
from ganfw.recipe import ComponentError, RecipeError, load_recipe
from ganfw_plugins.losses import NonSaturatingParams, WassersteinGPParams
from ganfw_plugins.losses.composite import R1
from ganfw_plugins.losses.objectives import Hinge, LeastSquares, Minimax, NonSaturating, WassersteinGP
from ganfw_plugins.losses.penalties import GradientPenalty, R1Penalty
from ganfw_plugins.losses.relativistic import RelativisticAverage

REAL = [2.0, -1.0, 0.5]
FAKE = [-3.0, 0.0, 1.5, 4.0]  # a different batch size on purpose: each term is its own mean


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def registry():
    return load_registry()


def t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def total(value) -> float:
    """A loss value (a scalar or named terms) as the engine adds it up."""
    return float(sum(value.values()) if isinstance(value, dict) else value)


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def log_sigmoid(x: float) -> float:
    return math.log(1 / (1 + math.exp(-x)))


def log_one_minus_sigmoid(x: float) -> float:
    return math.log(1 - 1 / (1 + math.exp(-x)))


def bce(x: float, target: float) -> float:
    return -(target * log_sigmoid(x) + (1 - target) * log_one_minus_sigmoid(x))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_non_saturating(smoothing):
    loss = NonSaturating(NonSaturatingParams(label_smoothing=smoothing))
    d = loss.d_loss(t(REAL), t(FAKE))
    assert d["real"].item() == pytest.approx(mean(bce(x, 1 - smoothing) for x in REAL), rel=1e-12)
    assert d["fake"].item() == pytest.approx(mean(bce(x, 0) for x in FAKE), rel=1e-12)
    assert total(loss.g_loss(None, t(FAKE))) == pytest.approx(mean(-log_sigmoid(x) for x in FAKE), rel=1e-12)


def test_minimax():
    loss = Minimax(None)
    expected_d = mean(-log_sigmoid(x) for x in REAL) + mean(-log_one_minus_sigmoid(x) for x in FAKE)
    assert total(loss.d_loss(t(REAL), t(FAKE))) == pytest.approx(expected_d, rel=1e-12)
    # G minimises E[log(1 - D(G(z)))]: negative, and lower as D is fooled more
    assert total(loss.g_loss(None, t(FAKE))) == pytest.approx(mean(log_one_minus_sigmoid(x) for x in FAKE), rel=1e-12)
    assert loss.g_loss(None, t([3.0])) < loss.g_loss(None, t([-3.0])) < 0


def test_minimax_and_non_saturating_generator_gradients():
    # at a confidently rejected fake (logit -5) minimax's gradient vanishes, non-saturating's does not
    fake = t([-5.0]).requires_grad_(True)
    (g_minimax,) = torch.autograd.grad(Minimax().g_loss(None, fake), fake)
    (g_ns,) = torch.autograd.grad(NonSaturating(NonSaturatingParams()).g_loss(None, fake), fake)
    s = 1 / (1 + math.exp(5.0))  # sigmoid(-5)
    assert g_minimax.item() == pytest.approx(-s, rel=1e-9)
    assert g_ns.item() == pytest.approx(-(1 - s), rel=1e-9)


def test_hinge():
    d = Hinge().d_loss(t(REAL), t(FAKE))
    assert d["real"].item() == pytest.approx((0 + 2 + 0.5) / 3, rel=1e-12)
    assert d["fake"].item() == pytest.approx((0 + 1 + 2.5 + 5) / 4, rel=1e-12)
    assert total(Hinge().g_loss(None, t(FAKE))) == pytest.approx(-2.5 / 4, rel=1e-12)


def test_least_squares():
    loss = LeastSquares()
    expected_d = 0.5 * (1 + 4 + 0.25) / 3 + 0.5 * (9 + 0 + 2.25 + 16) / 4
    assert total(loss.d_loss(t(REAL), t(FAKE))) == pytest.approx(expected_d, rel=1e-12)
    assert total(loss.g_loss(None, t(FAKE))) == pytest.approx(0.5 * (16 + 1 + 0.25 + 9) / 4, rel=1e-12)


@pytest.mark.parametrize("drift", [0.0, 0.1])
def test_wasserstein(drift):
    loss = WassersteinGP(WassersteinGPParams(drift=drift))
    d = loss.d_loss(t(REAL), t(FAKE))
    assert sorted(d) == (["drift", "fake", "real"] if drift else ["fake", "real"])
    assert total(d) == pytest.approx(2.5 / 4 - 1.5 / 3 + drift * (4 + 1 + 0.25) / 3, rel=1e-12)
    assert total(loss.g_loss(None, t(FAKE))) == pytest.approx(-2.5 / 4, rel=1e-12)


@pytest.mark.parametrize("loss", [NonSaturating(NonSaturatingParams()), Minimax(), RelativisticAverage()])
def test_sigmoid_losses_are_finite_at_extreme_logits(loss):
    big = torch.tensor([100.0, -100.0])
    assert all(torch.isfinite(v) for v in loss.d_loss(big, -big).values())
    assert total(loss.d_loss(big, -big)) == pytest.approx(100.0 / 2 + 100.0 / 2, rel=1e-6)
    assert math.isfinite(total(loss.g_loss(big, big))) and math.isfinite(total(loss.g_loss(-big, -big)))


def test_penalties_belong_to_wasserstein_gp_only():
    (gp,) = WassersteinGP(WassersteinGPParams(gp_weight=3.0)).penalties()
    assert (gp.name, gp.player, gp.every, gp.weight) == ("gp", "d", 1, 3.0)
    others = [NonSaturating(NonSaturatingParams()), Minimax(), Hinge(), LeastSquares(), RelativisticAverage()]
    assert all(loss.penalties() == [] for loss in others)
    assert [loss.g_needs_real for loss in others] == [False, False, False, False, True]


# --- the relativistic average loss ------------------------------------------------------------


def relative(real: list[float], fake: list[float]) -> tuple[list[float], list[float]]:
    return [x - mean(fake) for x in real], [x - mean(real) for x in fake]


def test_relativistic_losses():
    loss = RelativisticAverage()
    r, f = relative(REAL, FAKE)  # mean(REAL) = 0.5, mean(FAKE) = 0.625
    assert loss.g_needs_real
    d = loss.d_loss(t(REAL), t(FAKE))
    assert d["real"].item() == pytest.approx(mean(bce(x, 1) for x in r), rel=1e-12)
    assert d["fake"].item() == pytest.approx(mean(bce(x, 0) for x in f), rel=1e-12)
    g = loss.g_loss(t(REAL), t(FAKE))
    assert g["real"].item() == pytest.approx(mean(bce(x, 0) for x in r), rel=1e-12)
    assert g["fake"].item() == pytest.approx(mean(bce(x, 1) for x in f), rel=1e-12)


def test_relativistic_d_loss_gradient_reaches_both_batches_through_the_means():
    real, fake = t(REAL).requires_grad_(True), t(FAKE).requires_grad_(True)
    total_d = sum(RelativisticAverage().d_loss(real, fake).values())
    g_real, g_fake = torch.autograd.grad(total_d, (real, fake))
    r, f = relative(REAL, FAKE)
    # d/d real_i: (sigmoid(r_i) - 1) / N from the real term, - mean_j sigmoid(f_j) / N from the fake term
    expected = [(sigmoid(ri) - 1) / 3 - mean(sigmoid(fj) for fj in f) / 3 for ri in r]
    assert g_real.tolist() == pytest.approx(expected, rel=1e-9)
    assert g_fake.abs().min() > 0


def test_relativistic_g_loss_needs_the_real_logits():
    with pytest.raises(ValueError, match="g_needs_real"):
        RelativisticAverage().g_loss(None, t(FAKE))


def test_relativistic_statistics_compare_with_the_other_batchs_mean():
    # every logit is negative, so absolute statistics call every real image fake and every fake
    # one fake; relative to the other batch's mean, two reals beat the mean fake (-4) and two
    # fakes fall below the mean real (-3); the fake at -3 ties, which is not below
    real, fake = t([-1.0, -2.0, -6.0]), t([-3.0, -5.0, -7.0, -1.0])
    stats = RelativisticAverage().statistics(real, fake)
    assert stats["acc_real"].item() == pytest.approx(2 / 3)
    assert stats["acc_fake"].item() == pytest.approx(2 / 4)
    r, f = relative(real.tolist(), fake.tolist())
    assert stats["d_real"].item() == pytest.approx(mean(sigmoid(x) for x in r), rel=1e-6)
    assert stats["d_fake"].item() == pytest.approx(mean(sigmoid(x) for x in f), rel=1e-6)
    absolute = Loss.statistics(RelativisticAverage(), real, fake)
    assert absolute["acc_real"].item() == 0 and absolute["acc_fake"].item() == 1


# --- the gradient penalty and R1 ---------------------------------------------------------------


class LinearD(Discriminator):
    """D(x) = sum(w * x) (+ the label, which has no input gradient): its input gradient is w."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.image_shape = tuple(w.shape)
        self.w = torch.nn.Parameter(w)
        self.seen_labels = []

    def forward(self, images, labels=None):
        self.seen_labels.append(labels)
        out = (images * self.w).flatten(1).sum(1)
        return out if labels is None else out + labels


class QuadraticD(Discriminator):
    """D(x) = ||x||^2 / 2: its input gradient is x itself."""

    image_shape = (1, 2, 2)

    def forward(self, images, labels=None):
        return 0.5 * images.flatten(1).square().sum(1)


def _unit(shape=(1, 2, 2)) -> torch.Tensor:
    w = torch.randn(shape)
    return w / w.norm()


def inputs(d, real, fake, real_labels=None) -> PenaltyInputs:
    """What the engine hands a penalty on D's step (fake detached, D called with labels)."""
    return PenaltyInputs(
        discriminator=d,
        generator=lambda z, y: z,
        real=real,
        fake=fake.detach(),
        real_labels=real_labels,
        fake_labels=None,
        z=torch.zeros(len(real), 2),
    )


@pytest.mark.parametrize(("norm", "penalty"), [(2.0, 10.0), (1.0, 0.0), (0.5, 2.5)])
def test_gradient_penalty_on_a_linear_discriminator(norm, penalty):
    d = LinearD(norm * _unit())
    gp = GradientPenalty(10.0)(inputs(d, torch.randn(4, 1, 2, 2), torch.randn(4, 1, 2, 2)))
    assert gp.item() == pytest.approx(penalty, abs=1e-5)


def test_gradient_penalty_backpropagates_to_the_discriminator_only():
    w = 2.0 * _unit()
    d = LinearD(w.clone())
    g_param = torch.nn.Parameter(torch.ones(()))
    real, fake = torch.randn(3, 1, 2, 2), torch.randn(3, 1, 2, 2) * g_param
    penalty_inputs = PenaltyInputs(d, lambda z, y: z, real, fake, None, None, torch.zeros(3, 2))  # fake attached
    GradientPenalty(10.0)(penalty_inputs).backward()
    # d/dw 10 (||w|| - 1)^2 = 20 (||w|| - 1) w / ||w|| = 10 w when ||w|| = 2
    assert torch.allclose(d.w.grad, 10.0 * w, atol=1e-5)
    assert g_param.grad is None


def test_gradient_penalty_uses_each_samples_own_gradient_norm():
    # real == fake pins x_hat whatever the mix; D's gradient at x is x, of norms 1, 2 and 3
    x = torch.stack([n * _unit() for n in (1.0, 2.0, 3.0)])
    gp = GradientPenalty(3.0)(inputs(QuadraticD(), x, x.clone()))
    assert gp.item() == pytest.approx(3.0 * (0 + 1 + 4) / 3, rel=1e-5)


def test_gradient_penalty_samples_between_real_and_fake():
    # along one direction, ||x_hat|| = 3a + (1 - a) lies in [1, 3]: each sample adds (2a)^2 in [0, 4]
    e = _unit()
    real, fake = 3.0 * e.expand(256, -1, -1, -1), e.expand(256, -1, -1, -1)
    gp = GradientPenalty(1.0)(inputs(QuadraticD(), real, fake)).item()
    assert gp == pytest.approx(4 / 3, rel=0.15)  # E[(2a)^2] = 4/3 for a ~ U[0, 1]
    assert gp != GradientPenalty(1.0)(inputs(QuadraticD(), real, fake)).item()  # a fresh mix every call


def test_gradient_penalty_rejects_mismatched_batches():
    with pytest.raises(ValueError, match="one shape"):
        GradientPenalty(1.0)(inputs(QuadraticD(), torch.zeros(2, 1, 2, 2), torch.zeros(3, 1, 2, 2)))


@pytest.mark.parametrize("penalty", [GradientPenalty(1.0), R1Penalty(1.0, 1)])
def test_penalties_call_d_with_the_real_labels(penalty):
    d = LinearD(_unit())
    labels = torch.tensor([3, 1])
    penalty(inputs(d, torch.randn(2, 1, 2, 2), torch.randn(2, 1, 2, 2), labels))
    assert d.seen_labels == [labels]


def test_r1_penalty_on_a_linear_discriminator():
    # grad_x D = w for every sample: gamma / 2 * ||w||^2, and d/dw of it is gamma * w
    w = torch.tensor([[[1.0, -2.0], [0.5, 3.0]]])
    d = LinearD(w.clone())
    penalty = R1Penalty(gamma=4.0, every=16)
    value = penalty(inputs(d, torch.randn(5, 1, 2, 2), torch.randn(5, 1, 2, 2)))
    assert value.item() == pytest.approx(4.0 / 2 * (1 + 4 + 0.25 + 9), rel=1e-6)
    value.backward()
    assert torch.allclose(d.w.grad, 4.0 * w)
    assert (penalty.name, penalty.player, penalty.every) == ("r1", "d", 16)


def test_r1_penalty_is_the_mean_squared_gradient_norm_on_the_real_batch():
    # D's gradient at x is x: gamma / 2 * mean ||x_i||^2 over the real images, the fakes unused
    real = torch.stack([n * _unit() for n in (1.0, 2.0, 3.0)])
    value = R1Penalty(gamma=2.0, every=1)(inputs(QuadraticD(), real, torch.full_like(real, 9.0)))
    assert value.item() == pytest.approx((1 + 4 + 9) / 3, rel=1e-5)
    assert not real.requires_grad


# --- r1 around another loss, through a recipe ----------------------------------------------------


def recipe_with_loss(tmp_path, loss: dict):
    path = tmp_path / "recipe.toml"
    path.write_text(
        tomli_w.dumps({"generator": {"name": "mlp"}, "discriminator": {"name": "mlp"}, "loss": loss}), encoding="utf-8"
    )
    return path


def test_r1_composes_around_the_loss_its_recipe_names(tmp_path, registry):
    recipe = load_recipe(
        recipe_with_loss(tmp_path, {"name": "r1", "params": {"base": {"name": "hinge"}, "every": 4}}), registry
    )
    assert recipe.resolved()["loss"] == {"name": "r1", "params": {"base": {"name": "hinge"}, "gamma": 10.0, "every": 4}}
    loss = recipe.loss.build()
    assert isinstance(loss, R1) and isinstance(loss.base, Hinge)
    assert [(p.name, p.player, p.every, p.gamma) for p in loss.penalties()] == [("r1", "d", 4, 10.0)]
    assert not loss.g_needs_real
    assert loss.d_loss(t(REAL), t(FAKE)) == Hinge().d_loss(t(REAL), t(FAKE))
    assert total(loss.g_loss(None, t(FAKE))) == total(Hinge().g_loss(None, t(FAKE)))


def test_r1_keeps_its_bases_penalties_and_needs(tmp_path, registry):
    for base, needs_real, names in [("wasserstein-gp", False, ["gp", "r1"]), ("relativistic", True, ["r1"])]:
        loss = load_recipe(recipe_with_loss(tmp_path, {"name": "r1", "params": {"base": base}}), registry).loss.build()
        assert loss.g_needs_real is needs_real and [p.name for p in loss.penalties()] == names
        assert loss.statistics(t(REAL), t(FAKE)) == loss.base.statistics(t(REAL), t(FAKE))


def test_r1_defaults_to_non_saturating(tmp_path, registry):
    loss = load_recipe(recipe_with_loss(tmp_path, {"name": "r1"}), registry).loss.build()
    assert isinstance(loss.base, NonSaturating) and loss.penalties()[0].every == 16


def test_a_bad_param_of_r1s_base_is_named_by_its_full_key(tmp_path, registry):
    path = recipe_with_loss(
        tmp_path, {"name": "r1", "params": {"base": {"name": "non-saturating", "params": {"label_smothing": 0.1}}}}
    )
    with pytest.raises(RecipeError) as e:
        load_recipe(path, registry)
    assert e.value.key == "loss.params.base.params.label_smothing"
    assert "did you mean 'label_smoothing'" in str(e.value)


def test_r1_around_r1_is_refused(tmp_path, registry):
    recipe = load_recipe(recipe_with_loss(tmp_path, {"name": "r1", "params": {"base": "r1"}}), registry)
    with pytest.raises(ComponentError, match="already has a penalty named 'r1'"):
        recipe.loss.build()


@pytest.mark.parametrize(
    "name", ["non-saturating", "minimax", "hinge", "least-squares", "wasserstein-gp", "relativistic", "r1"]
)
def test_losses_build_through_a_recipe(tmp_path, registry, name):
    loss = load_recipe(recipe_with_loss(tmp_path, {"name": name}), registry).loss.build()
    assert isinstance(loss, Loss)
    real, fake = torch.randn(3, requires_grad=True), torch.randn(5, requires_grad=True)
    for value in (loss.d_loss(real, fake), loss.g_loss(real if loss.g_needs_real else None, fake)):
        terms = value.values() if isinstance(value, dict) else [value]
        assert all(term.shape == () and torch.isfinite(term) and term.requires_grad for term in terms)
