"""Plugin ``spectral``: ganfw's contracts (ganfw.testing), the installation, and what the
components compute."""

import math

import ganfw_spectral
import pytest
import torch
from ganfw_spectral import NonSaturatingR1Params, SNDCGANParams
from ganfw_spectral.discriminator import SNDCGANDiscriminator
from ganfw_spectral.losses import NonSaturatingR1
from torch import nn

from ganfw.contracts import Discriminator, PenaltyInputs
from ganfw.testing import check_component, check_installed, plugin_specs

SPECS = plugin_specs(ganfw_spectral)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: f"{spec.kind}:{spec.name}")
def test_component_keeps_the_contract(spec):
    check_component(spec)


def test_discriminator_keeps_the_contract_on_rgb_images():
    (spec,) = [s for s in SPECS if s.kind == "discriminator"]
    check_component(spec, (3, 32, 32), params={"widths": [16, 32, 64], "top_width": 64})


def test_plugin_is_installed():
    components = check_installed("spectral", SPECS)
    assert {c.package for c in components} == {"ganfw-spectral"}


class Linear(Discriminator):
    """D(x) = w . x + b: its input gradient is w for every image."""

    image_shape = (1, 4, 4)

    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(16, 1)

    def forward(self, images, labels=None):
        return self.dense(images.flatten(1)).squeeze(1)


def test_r1_of_a_linear_discriminator_is_half_gamma_times_the_squared_weight_norm():
    torch.manual_seed(0)
    d = Linear()
    loss = NonSaturatingR1(NonSaturatingR1Params(gamma=3.0, every=4))
    (r1,) = loss.penalties()
    assert (r1.name, r1.player, r1.every) == ("r1", "d", 4)
    real = torch.rand(5, 1, 4, 4)
    fake = torch.full((5, 1, 4, 4), float("nan"))  # R1 never looks at the fakes
    seen = []

    def discriminator(images, labels):
        seen.append(labels)
        return d(images, labels)

    labels = torch.arange(5)
    penalty = r1(
        PenaltyInputs(
            discriminator=discriminator,
            generator=None,
            real=real,
            fake=fake,
            real_labels=labels,
            fake_labels=labels,
            z=torch.zeros(5, 2),
        )
    )
    assert seen == [labels]  # D is called as the step calls it: with the real batch's labels
    expected = 0.5 * 3.0 * d.dense.weight.square().sum()
    assert penalty.item() == pytest.approx(expected.item(), rel=1e-6)
    (grad,) = torch.autograd.grad(penalty, d.dense.weight)
    torch.testing.assert_close(grad, 3.0 * d.dense.weight)  # d/dw of (gamma / 2) ||w||^2
    assert not real.requires_grad


def test_non_saturating_terms():
    loss = NonSaturatingR1(NonSaturatingR1Params())
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0, 1.0])

    def softplus(x):
        return math.log1p(math.exp(x))

    terms = loss.d_loss(real, fake)
    assert terms["real"].item() == pytest.approx((softplus(-2.0) + softplus(1.0)) / 2, rel=1e-6)
    assert terms["fake"].item() == pytest.approx((softplus(0.5) + softplus(-3.0) + softplus(1.0)) / 3, rel=1e-6)
    expected_g = (softplus(-0.5) + softplus(3.0) + softplus(-1.0)) / 3
    assert loss.g_loss(None, fake).item() == pytest.approx(expected_g, rel=1e-6)
    assert not loss.g_needs_real


def _weights(d: SNDCGANDiscriminator) -> list[torch.Tensor]:
    """The normalised weight of every layer, each as a matrix (out, in * kh * kw)."""
    return [m.weight.flatten(1) for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def test_every_layer_has_spectral_norm_one_after_power_iterations():
    torch.manual_seed(0)
    d = SNDCGANDiscriminator(SNDCGANParams(widths=[8, 16], top_width=32, power_iterations=50), (1, 28, 28))
    d.train()
    for _ in range(3):  # the power iterations run in train-mode forward passes
        d(torch.rand(2, 1, 28, 28))
    d.eval()  # reading the weights now reuses the estimate
    weights = _weights(d)
    assert len(weights) == 2 * 2 + 2
    for w in weights:
        assert torch.linalg.matrix_norm(w.detach(), ord=2).item() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "image_shape, flat", [((1, 28, 28), 512 * 3 * 3), ((3, 32, 32), 512 * 4 * 4), ((1, 8, 8), 512 * 1 * 1)]
)
def test_default_architecture(image_shape, flat):
    d = SNDCGANDiscriminator(SNDCGANParams(), image_shape)
    convs = [m for m in d.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (3, 3), (1, 1)), (64, (4, 4), (2, 2)),
        (128, (3, 3), (1, 1)), (128, (4, 4), (2, 2)),
        (256, (3, 3), (1, 1)), (256, (4, 4), (2, 2)),
        (512, (3, 3), (1, 1)),
    ]  # fmt: skip
    (dense,) = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert dense.in_features == flat


def test_too_many_stages_for_the_image_is_refused():
    with pytest.raises(ValueError, match="3 stride-2 stages leave nothing of a 4x4 image; use fewer widths"):
        SNDCGANDiscriminator(SNDCGANParams(), (1, 4, 4))
