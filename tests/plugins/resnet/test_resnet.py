"""The ``resnet`` plugin: contracts at every resolution, the SNGAN reference's parameter counts,
the channel schedule, spectral normalisation, conditional batch norm and the projection head."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

import ganfw_plugins.resnet
from ganfw.errors import UserError
from ganfw.testing import check_component, check_installed, plugin_specs
from ganfw_plugins.resnet import ResNetDiscriminatorParams, ResNetGeneratorParams
from ganfw_plugins.resnet.blocks import RESIDUAL_GAIN, ClassBatchNorm
from ganfw_plugins.resnet.models import (
    ConditionalResNetDiscriminator,
    ConditionalResNetGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
)
from ganfw_plugins.resnet.stages import layout

SPECS = plugin_specs(ganfw_plugins.resnet)
CIFAR = (3, 32, 32)

#: Image shapes of the contract checks: the four resolutions in RGB, and grey at 28 and 32 px.
SHAPES = [(3, 32, 32), (3, 64, 64), (3, 128, 128), (3, 256, 256), (1, 28, 28), (1, 32, 32)]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}:{s.name}")
def test_component_keeps_the_contract(spec, shape):
    check_component(spec, shape, params={"ch": 1 if shape[1] > 32 else 2}, num_classes=3)


def test_plugin_is_installed():
    names = {(c.spec.kind, c.spec.name) for c in check_installed("resnet", SPECS)}
    assert names == {(kind, name) for kind in ("generator", "discriminator") for name in ("resnet", "cresnet")}


def test_parameter_counts_at_the_sngan_cifar10_configuration():
    """pfnet-research/sngan_projection (e84b1a5), gen_models/resnet_32.py (ch 256, dim_z 128) and
    dis_models/snresnet_32.py (ch 128), counted by reading; the conditional ones with ten classes."""
    assert count(ResNetGenerator(ResNetGeneratorParams(), CIFAR)) == 4_276_739
    assert count(ResNetDiscriminator(ResNetDiscriminatorParams(), CIFAR)) == 1_053_824
    assert count(ConditionalResNetGenerator(ResNetGeneratorParams(), CIFAR, 10)) == 4_304_387
    assert count(ConditionalResNetDiscriminator(ResNetDiscriminatorParams(), CIFAR, 10)) == 1_055_104


@pytest.mark.parametrize(
    "side, ch, generator, discriminator",
    [(64, 64, 12_220_675, 10_141_440), (128, 64, 32_150_787, 29_017_856), (256, 32, 9_817_475, 8_502_912)],
)
def test_parameter_counts_at_the_larger_reference_configurations(side, ch, generator, discriminator):
    """The reference's configs/sn_projection_64.yml, sn_projection.yml and
    sn_projection_dog_and_cat_256.yml networks without classes (resnet_64/resnet/resnet_256,
    snresnet_64/snresnet/snresnet_256), counted by reading; D's head there has a bias, one
    parameter more than ours."""
    shape = (3, side, side)
    assert count(ResNetGenerator(ResNetGeneratorParams(ch=ch), shape)) == generator
    assert count(ResNetDiscriminator(ResNetDiscriminatorParams(ch=ch), shape)) == discriminator


def feature_sides(modules, x, *args) -> list[tuple[int, ...]]:
    """(C, H, W) after each of ``modules`` applied in turn to ``x``."""
    shapes = []
    for module in modules:
        x = module(x, *args)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def test_the_32px_networks_are_sngans_cifar10_ones():
    g = ResNetGenerator(ResNetGeneratorParams(), CIFAR)
    h = g.stem(torch.randn(2, 128)).view(2, -1, g.bottom, g.bottom)
    assert h.shape[1:] == (256, 4, 4)
    assert feature_sides(g.blocks, h) == [(256, 8, 8), (256, 16, 16), (256, 32, 32)]
    d = ResNetDiscriminator(ResNetDiscriminatorParams(), CIFAR)
    assert feature_sides(d.net[:4], torch.randn(2, *CIFAR)) == [(128, 16, 16), (128, 8, 8), (128, 8, 8), (128, 8, 8)]
    assert d.feature_dim == 128


@pytest.mark.parametrize(
    "side, bottom, widths, blocks",
    [
        (28, 7, [8, 8, 8], [(4, True), (4, True), (4, False), (4, False)]),
        (32, 4, [8, 8, 8, 8], [(4, True), (4, True), (4, False), (4, False)]),
        (48, 6, [8, 8, 8, 8], [(4, True), (4, True), (4, False), (4, False)]),
        (64, 4, [32, 16, 8, 4, 2], [(2, True), (4, True), (8, True), (16, True), (32, True)]),
        (128, 4, [32, 32, 16, 8, 4, 2], [(2, True), (4, True), (8, True), (16, True), (32, True), (32, False)]),
        (256, 4, [32, 32, 16, 16, 8, 4, 2], [(2, True), (4, True), (8, True), (16, True), (16, True), (32, True), (32, False)]),
    ],
)  # fmt: skip
def test_channel_schedule(side, bottom, widths, blocks):
    plan = layout((3, side, side), "test")
    assert plan.bottom == bottom and plan.bottom * 2**plan.up_blocks == side
    assert plan.generator_widths(2) == widths and plan.discriminator_blocks(2) == blocks


@pytest.mark.parametrize("shape", [(3, 100, 100), (3, 512, 512), (3, 8, 8), (3, 32, 64)])
def test_sides_outside_the_schedule_are_refused_in_one_line(shape):
    with pytest.raises(UserError) as e:
        ResNetGenerator(ResNetGeneratorParams(ch=1), shape)
    message = str(e.value)
    assert message.startswith("the resnet generator takes square images of side b * 2^k")
    assert f"got {shape[1]}x{shape[2]}" in message and "\n" not in message
    with pytest.raises(UserError, match="the resnet discriminator takes square images"):
        ResNetDiscriminator(ResNetDiscriminatorParams(ch=1), shape)


def layers(module: nn.Module, *kinds: type[nn.Module]) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kinds)]


def test_every_weight_of_d_and_none_of_g_is_spectrally_normalised():
    d = ConditionalResNetDiscriminator(ResNetDiscriminatorParams(ch=2), (3, 64, 64), 5)
    weighted = layers(d, nn.Conv2d, nn.Linear, nn.Embedding)
    assert len(weighted) == 2 * 5 + 1 + 4 + 1 + 1  # two convs a block, 5 shortcuts, head, projection
    assert all(parametrize.is_parametrized(m, "weight") for m in weighted)
    g = ConditionalResNetGenerator(ResNetGeneratorParams(ch=2), (3, 64, 64), 5)
    assert not any(parametrize.is_parametrized(m) for m in g.modules())


def test_power_iterations_bring_every_spectral_norm_to_one():
    d = ResNetDiscriminator(ResNetDiscriminatorParams(ch=2), (3, 32, 32))
    d.train()
    for _ in range(30):  # one power iteration per training-mode call
        d(torch.rand(2, 3, 32, 32))
    d.eval()
    for layer in layers(d, nn.Conv2d, nn.Linear):
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2).item()
        assert sigma == pytest.approx(1.0, abs=2e-3)


def glorot_bound(weight: torch.Tensor, gain: float) -> float:
    fan_in, fan_out = weight[0].numel(), weight.shape[0] * weight[0, 0].numel()
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def test_reference_initialisation():
    """Glorot-uniform, gain sqrt(2) on the blocks' 3x3 convs and 1 on the rest; zero biases."""
    g = ResNetGenerator(ResNetGeneratorParams(ch=8), CIFAR)
    for conv in layers(g, nn.Conv2d):
        gain = RESIDUAL_GAIN if conv.kernel_size == (3, 3) and conv.out_channels > 3 else 1.0
        bound = glorot_bound(conv.weight, gain)
        assert 0.9 * bound < conv.weight.abs().max().item() <= bound
        assert torch.equal(conv.bias, torch.zeros_like(conv.bias))
    assert torch.equal(g.stem.bias, torch.zeros_like(g.stem.bias))


def test_class_batch_norm_gives_each_image_its_class_gain_and_bias():
    norm = ClassBatchNorm(2, num_classes=3).train()
    with torch.no_grad():
        norm.gain.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
        norm.bias.weight.copy_(torch.tensor([[0.5, -0.5], [1.0, -1.0], [2.0, -2.0]]))
    x = torch.randn(4, 2, 3, 3)
    labels = torch.tensor([2, 0, 0, 1])
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    standard = (x - mean) / (x.var(dim=(0, 2, 3), unbiased=False, keepdim=True) + 1e-5).sqrt()
    gain = norm.gain.weight[labels][:, :, None, None]
    bias = norm.bias.weight[labels][:, :, None, None]
    torch.testing.assert_close(norm(x, labels), standard * gain + bias)


def test_the_conditional_generator_draws_each_class_through_its_own_norms():
    g = ConditionalResNetGenerator(ResNetGeneratorParams(ch=2, latent_dim=8), (1, 28, 28), 4).eval()
    z = torch.randn(1, 8).repeat(4, 1)
    labels = torch.arange(4)
    images = g(z, labels)
    assert all((images[0] - images[i]).abs().max() > 1e-4 for i in (1, 2, 3))
    with torch.no_grad():  # class 3 given class 0's gains and biases draws class 0's image
        for norm in layers(g, ClassBatchNorm):
            norm.gain.weight[3] = norm.gain.weight[0]
            norm.bias.weight[3] = norm.bias.weight[0]
    torch.testing.assert_close(g(z, labels)[3], images[0])


def test_the_projection_head_adds_the_class_embedding_dotted_with_the_features():
    d = ConditionalResNetDiscriminator(ResNetDiscriminatorParams(ch=2), CIFAR, 5).eval()
    images, labels = torch.rand(3, *CIFAR) * 2 - 1, torch.tensor([4, 0, 2])
    with torch.no_grad():
        phi = d.features(images)
        unconditional = phi @ d.net[-1].weight[0]
        expected = unconditional + (d.projection.weight[labels] * phi).sum(1)
        torch.testing.assert_close(d(images, labels), expected)


def test_a_conditional_network_without_labels_is_refused():
    g = ConditionalResNetGenerator(ResNetGeneratorParams(ch=1, latent_dim=4), (1, 28, 28), 3)
    with pytest.raises(ValueError, match=r"the conditional generator needs labels \(N,\) in \[0, 3\), got None"):
        g(torch.randn(2, 4))
    d = ConditionalResNetDiscriminator(ResNetDiscriminatorParams(ch=1), (1, 28, 28), 3)
    with pytest.raises(ValueError, match="the conditional discriminator needs labels"):
        d(torch.randn(2, 1, 28, 28))
