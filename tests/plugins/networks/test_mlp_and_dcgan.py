"""The built-in generators and discriminators: contracts, the course's DCGAN architecture,
TensorFlow 'same' padding, initialisation, the class-conditional variants (label embedding,
projection discriminator), and building through the plugin registry."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ganfw.contracts import Discriminator, Generator
from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.dcgan import CDCGANGeneratorParams, DCGANDiscriminatorParams, DCGANGeneratorParams
from ganfw_plugins.dcgan.layers import TFSameConv2d, TFSameConvTranspose2d, conv2d, conv_transpose2d, tf_same_pads
from ganfw_plugins.dcgan.models import (
    ConditionalDCGANDiscriminator,
    ConditionalDCGANGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
)
from ganfw_plugins.mlp import CMLPGeneratorParams, MLPDiscriminatorParams, MLPGeneratorParams
from ganfw_plugins.mlp.models import (
    ConditionalMLPDiscriminator,
    ConditionalMLPGenerator,
    MLPDiscriminator,
    MLPGenerator,
)

MNIST = (1, 28, 28)
RGB32 = (3, 32, 32)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def keras_param_count(module: nn.Module) -> int:
    """Parameters as Keras counts them: trainable ones plus BatchNorm's moving mean and variance."""
    buffers = sum(b.numel() for name, b in module.named_buffers() if name.endswith(("running_mean", "running_var")))
    return sum(p.numel() for p in module.parameters()) + buffers


def layers_of(module: nn.Module, kind: type[nn.Module]) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, kind)]


def activations(net: nn.Sequential, x: torch.Tensor, after: type[nn.Module]) -> list[tuple[int, ...]]:
    """Per-sample shapes of the outputs of every ``after`` layer in ``net`` on ``x``."""
    shapes = []
    for layer in net:
        x = layer(x)
        if isinstance(layer, after):
            shapes.append(tuple(x.shape[1:]))
    return shapes


GENERATORS = [
    pytest.param(MLPGenerator, MLPGeneratorParams(), MNIST, id="mlp-default"),
    pytest.param(
        MLPGenerator,
        MLPGeneratorParams(latent_dim=8, hidden=[16, 32], activation="gelu", norm="none", dropout=0.2),
        RGB32,
        id="mlp-gelu-nonorm-dropout-rgb",
    ),
    pytest.param(MLPGenerator, MLPGeneratorParams(latent_dim=4, hidden=[]), MNIST, id="mlp-no-hidden"),
    pytest.param(DCGANGenerator, DCGANGeneratorParams(), MNIST, id="dcgan-default"),
    pytest.param(
        DCGANGenerator, DCGANGeneratorParams(padding="symmetric", init="torch"), MNIST, id="dcgan-symmetric-torchinit"
    ),
    pytest.param(
        DCGANGenerator,
        DCGANGeneratorParams(latent_dim=16, widths=[32, 16, 16, 8], kernel=3, norm="none", init="dcgan"),
        RGB32,
        id="dcgan-4widths-k3-nonorm-rgb",
    ),
    pytest.param(DCGANGenerator, DCGANGeneratorParams(widths=[16, 8], kernel=4), MNIST, id="dcgan-2widths-k4"),
]

DISCRIMINATORS = [
    pytest.param(MLPDiscriminator, MLPDiscriminatorParams(), MNIST, id="mlp-default"),
    pytest.param(
        MLPDiscriminator, MLPDiscriminatorParams(hidden=[32], activation="silu", dropout=0.0), RGB32, id="mlp-silu-rgb"
    ),
    pytest.param(DCGANDiscriminator, DCGANDiscriminatorParams(), MNIST, id="dcgan-default"),
    pytest.param(
        DCGANDiscriminator, DCGANDiscriminatorParams(padding="symmetric", init="torch"), MNIST, id="dcgan-symmetric"
    ),
    pytest.param(
        DCGANDiscriminator, DCGANDiscriminatorParams(widths=[8, 16, 32], norm="batch"), RGB32, id="dcgan-batch-rgb"
    ),
    pytest.param(
        DCGANDiscriminator, DCGANDiscriminatorParams(widths=[8, 16], norm="layer", kernel=4), MNIST, id="dcgan-layer-k4"
    ),
    pytest.param(
        DCGANDiscriminator,
        DCGANDiscriminatorParams(widths=[8], init="dcgan", dropout=0.0),
        (1, 13, 9),
        id="dcgan-odd-size",
    ),
]


@pytest.mark.parametrize(("cls", "params", "shape"), GENERATORS)
def test_generator_contract(cls, params, shape):
    g = cls(params, image_shape=shape)
    assert isinstance(g, Generator)
    assert g.latent_dim == params.latent_dim and g.image_shape == shape
    z = g.sample_latent(3)
    assert z.shape == (3, params.latent_dim)
    images = g(z)
    assert images.shape == (3, *shape) and images.dtype == torch.float32
    assert images.abs().max() <= 1.0 and images.std() > 0
    images.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())


@pytest.mark.parametrize(("cls", "params", "shape"), DISCRIMINATORS)
def test_discriminator_contract(cls, params, shape):
    d = cls(params, image_shape=shape)
    assert isinstance(d, Discriminator) and d.image_shape == shape
    images = torch.rand(3, *shape) * 2 - 1
    logits = d(images)
    assert logits.shape == (3,) and logits.dtype == torch.float32
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


@pytest.mark.parametrize(("cls", "params", "shape"), GENERATORS)
def test_generator_batch_of_one_in_eval_mode_is_deterministic(cls, params, shape):
    g = cls(params, image_shape=shape).eval()
    z = g.sample_latent(1)
    out = g(z)
    assert out.shape == (1, *shape)
    assert torch.equal(out, g(z))


@pytest.mark.parametrize(("cls", "params", "shape"), DISCRIMINATORS)
def test_discriminator_batch_of_one_in_eval_mode_is_deterministic(cls, params, shape):
    d = cls(params, image_shape=shape).eval()
    x = torch.rand(1, *shape) * 2 - 1
    assert d(x).shape == (1,)
    assert torch.equal(d(x), d(x))


def test_discriminator_logits_are_per_sample():
    d = DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST).eval()
    x = torch.rand(4, *MNIST) * 2 - 1
    assert torch.allclose(d(x), torch.cat([d(x[i : i + 1]) for i in range(4)]), atol=1e-5)


# --- the course's DCGAN, exactly --------------------------------------------------------------


def test_dcgan_parameter_counts_match_keras():
    assert keras_param_count(DCGANGenerator(DCGANGeneratorParams(), image_shape=MNIST)) == 2_330_944
    assert keras_param_count(DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST)) == 212_865


def test_dcgan_outputs_for_a_seed_are_unchanged():
    """Values produced by the course's networks before the v2 signatures (labels=None) existed."""
    torch.manual_seed(0)
    g = DCGANGenerator(DCGANGeneratorParams(), image_shape=MNIST).eval()
    pixels = g(torch.randn(2, 100))[:, 0, 14, 10:14].flatten()
    expected = [-0.0456813, 0.0087018, -0.0230134, -0.0193519, 0.0119515, 0.0076185, 0.0086531, -0.0125114]
    assert pixels.tolist() == pytest.approx(expected, abs=1e-6)
    torch.manual_seed(0)
    d = DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST).eval()
    assert d(torch.rand(2, *MNIST) * 2 - 1).tolist() == pytest.approx([-0.0813137, -0.0041904], abs=1e-6)


def test_dcgan_generator_default_architecture():
    g = DCGANGenerator(DCGANGeneratorParams(), image_shape=MNIST)
    dense = layers_of(g, nn.Linear)
    assert [(m.in_features, m.out_features, m.bias) for m in dense] == [(100, 7 * 7 * 256, None)]
    convs = layers_of(g, nn.ConvTranspose2d)
    assert all(isinstance(m, TFSameConvTranspose2d) and m.bias is None for m in convs)
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (256, 128, (5, 5), (1, 1)),
        (128, 64, (5, 5), (2, 2)),
        (64, 1, (5, 5), (2, 2)),
    ]
    norms = layers_of(g, nn.modules.batchnorm._BatchNorm)
    assert [m.num_features for m in norms] == [7 * 7 * 256, 128, 64]
    assert all(m.momentum == 0.01 and m.eps == 1e-3 for m in norms)
    assert [m.negative_slope for m in layers_of(g, nn.LeakyReLU)] == [0.3] * 3
    assert isinstance(g.net[-1], nn.Tanh)
    shapes = activations(g.net, g.sample_latent(2), nn.LeakyReLU)
    assert shapes == [(7 * 7 * 256,), (128, 7, 7), (64, 14, 14)]


def test_dcgan_discriminator_default_architecture():
    d = DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST)
    convs = layers_of(d, nn.Conv2d)
    assert all(isinstance(m, TFSameConv2d) and m.bias is not None for m in convs)
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in convs] == [
        (1, 64, (5, 5), (2, 2)),
        (64, 128, (5, 5), (2, 2)),
    ]
    assert [m.p for m in layers_of(d, nn.Dropout)] == [0.3, 0.3]
    assert [m.negative_slope for m in layers_of(d, nn.LeakyReLU)] == [0.3, 0.3]
    assert not layers_of(d, nn.modules.batchnorm._BatchNorm) and not layers_of(d, nn.GroupNorm)
    (dense,) = layers_of(d, nn.Linear)
    assert (dense.in_features, dense.out_features, dense.bias is not None) == (7 * 7 * 128, 1, True)
    assert activations(d.net, torch.zeros(2, *MNIST), nn.Dropout) == [(64, 14, 14), (128, 7, 7)]


@pytest.mark.parametrize(("norm", "kind"), [("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)])
def test_dcgan_discriminator_norm_after_every_conv_but_the_first(norm, kind):
    d = DCGANDiscriminator(DCGANDiscriminatorParams(widths=[4, 8, 16], norm=norm), image_shape=MNIST)
    kinds = [type(m) for m in d.net if isinstance(m, (nn.Conv2d, kind))]
    assert kinds == [TFSameConv2d, TFSameConv2d, kind, TFSameConv2d, kind]
    assert [getattr(m, "num_features", getattr(m, "num_channels", None)) for m in layers_of(d, kind)] == [8, 16]
    assert all(getattr(m, "num_groups", 1) == 1 for m in layers_of(d, kind))


def test_dcgan_discriminator_flattened_size_follows_image_shape():
    d = DCGANDiscriminator(DCGANDiscriminatorParams(widths=[8, 16, 32]), image_shape=(3, 30, 17))
    (dense,) = layers_of(d, nn.Linear)
    assert dense.in_features == 32 * 4 * 3  # 30 -> 15 -> 8 -> 4, 17 -> 9 -> 5 -> 3
    assert d(torch.zeros(2, 3, 30, 17)).shape == (2,)


def test_dcgan_generator_widths_set_the_stride_one_convs():
    g = DCGANGenerator(DCGANGeneratorParams(widths=[32, 16, 16, 8]), image_shape=RGB32)
    assert [m.stride for m in layers_of(g, nn.ConvTranspose2d)] == [(1, 1), (1, 1), (2, 2), (2, 2)]
    assert activations(g.net, g.sample_latent(2), nn.LeakyReLU) == [(32 * 8 * 8,), (16, 8, 8), (16, 8, 8), (8, 16, 16)]


def test_dcgan_generator_biases_only_without_batch_norm():
    g = DCGANGenerator(DCGANGeneratorParams(norm="none"), image_shape=MNIST)
    assert not layers_of(g, nn.modules.batchnorm._BatchNorm)
    with_bias = [m.bias is not None for m in layers_of(g, nn.Linear) + layers_of(g, nn.ConvTranspose2d)]
    assert with_bias == [True, True, True, False]  # the output conv never has one


@pytest.mark.parametrize("shape", [(1, 30, 28), (1, 28, 26)])
def test_dcgan_generator_rejects_sizes_not_divisible_by_4(shape):
    with pytest.raises(ValueError, match="divisible by 4"):
        DCGANGenerator(DCGANGeneratorParams(), image_shape=shape)


def test_dcgan_generator_rejects_a_single_width():
    with pytest.raises(ValueError, match="at least two widths"):
        DCGANGenerator(DCGANGeneratorParams(widths=[64]), image_shape=MNIST)


def test_symmetric_padding_rejects_even_kernels():
    with pytest.raises(ValueError, match="odd kernels"):
        DCGANDiscriminator(DCGANDiscriminatorParams(kernel=4, padding="symmetric"), image_shape=MNIST)
    with pytest.raises(ValueError, match="odd kernels"):
        DCGANGenerator(DCGANGeneratorParams(kernel=4, padding="symmetric"), image_shape=MNIST)


# --- TensorFlow 'same' padding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "pads"),
    [
        (28, 5, 2, (1, 2)),  # out 14: total (13 * 2 + 5) - 28 = 3
        (14, 5, 2, (1, 2)),
        (7, 5, 1, (2, 2)),
        (5, 3, 2, (1, 1)),  # out 3: total (2 * 2 + 3) - 5 = 2
        (6, 4, 2, (1, 1)),  # out 3: total (2 * 2 + 4) - 6 = 2
        (7, 4, 1, (1, 2)),  # out 7: total 3
        (6, 2, 3, (0, 0)),  # kernel < stride: nothing to pad
    ],
)
def test_tf_same_pads(size, kernel, stride, pads):
    assert tf_same_pads(size, kernel, stride) == pads


def test_dcgan_first_conv_matches_tensorflow_same():
    d = DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST)
    conv = d.net[0]
    x = torch.randn(2, *MNIST)
    expected = F.conv2d(F.pad(x, (1, 2, 1, 2)), conv.weight, conv.bias, stride=2)  # TF: 1 before, 2 after
    assert torch.allclose(conv(x), expected, atol=1e-6)
    symmetric = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=2)
    assert symmetric.shape == expected.shape and not torch.allclose(symmetric, expected, atol=1e-3)


def _vjp_of_same_conv(
    x: torch.Tensor, weight: torch.Tensor, stride: int, pads: tuple[int, int, int, int]
) -> torch.Tensor:
    """TF's conv2d_transpose by definition: the gradient of the padded conv, mapping the
    (H * s, W * s) input to the (H, W) ``x``, applied to ``x``."""
    n, _, h, w = x.shape
    u = torch.zeros(n, weight.shape[1], h * stride, w * stride, requires_grad=True)
    y = F.conv2d(F.pad(u, pads), weight, stride=stride)
    assert y.shape == x.shape
    (grad,) = torch.autograd.grad(y, u, grad_outputs=x)
    return grad


def test_dcgan_transposed_conv_is_the_gradient_of_tensorflow_same_conv():
    g = DCGANGenerator(DCGANGeneratorParams(), image_shape=MNIST)
    conv = layers_of(g, nn.ConvTranspose2d)[1]  # 128 -> 64, stride 2: 7x7 -> 14x14
    x = torch.randn(2, 128, 7, 7)
    expected = _vjp_of_same_conv(x, conv.weight, stride=2, pads=(1, 2, 1, 2))  # TF pads 14 px by (1, 2)
    assert torch.allclose(conv(x), expected, atol=1e-5)


@pytest.mark.parametrize(
    ("height", "width", "kernel", "stride"),
    [(7, 7, 5, 1), (7, 5, 5, 2), (4, 3, 4, 2), (3, 4, 3, 3), (5, 2, 2, 3), (3, 3, 1, 2)],
)
def test_tf_same_transposed_conv_is_the_adjoint_of_tf_same_conv(height, width, kernel, stride):
    conv_t = TFSameConvTranspose2d(3, 2, kernel, stride, bias=False)
    x = torch.randn(2, 3, height, width)
    top_bottom = tf_same_pads(height * stride, kernel, stride)
    left_right = tf_same_pads(width * stride, kernel, stride)
    expected = _vjp_of_same_conv(x, conv_t.weight, stride, (*left_right, *top_bottom))
    out = conv_t(x)
    assert out.shape == (2, 2, height * stride, width * stride)
    assert torch.allclose(out, expected, atol=1e-5)
    forward = TFSameConv2d(2, 3, kernel, stride, bias=False)  # and it is TFSameConv2d's adjoint
    forward.weight = conv_t.weight
    u = torch.randn_like(out)
    assert torch.allclose((forward(u) * x).sum(), (u * out).sum(), atol=1e-4)


@pytest.mark.parametrize("stride", [1, 2])
def test_symmetric_layers_keep_tensorflow_output_sizes(stride):
    x = torch.randn(1, 2, 7, 9)
    assert conv2d(2, 3, 5, stride, "symmetric")(x).shape == conv2d(2, 3, 5, stride, "tf-same")(x).shape
    assert conv_transpose2d(2, 3, 5, stride, "symmetric")(x).shape == (1, 3, 7 * stride, 9 * stride)


# --- initialisation ---------------------------------------------------------------------------


def _weighted(module: nn.Module) -> list[nn.Module]:
    return layers_of(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))


def test_keras_init_is_glorot_uniform_with_zero_biases():
    d = DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST)
    g = DCGANGenerator(DCGANGeneratorParams(), image_shape=MNIST)
    conv2 = layers_of(d, nn.Conv2d)[1]
    bound = math.sqrt(6 / (64 * 25 + 128 * 25))  # Keras: fan_in = k*k*c_in, fan_out = k*k*c_out
    assert conv2.weight.abs().max() <= bound and conv2.weight.abs().max() > 0.95 * bound
    assert conv2.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    dense = layers_of(g, nn.Linear)[0]
    assert dense.weight.std().item() == pytest.approx(math.sqrt(2 / (100 + 12544)), rel=0.01)
    assert all(torch.all(m.bias == 0) for m in _weighted(d))


def test_dcgan_init_is_normal_0_02_with_zero_biases():
    g = DCGANGenerator(DCGANGeneratorParams(init="dcgan", norm="none"), image_shape=MNIST)
    dense = layers_of(g, nn.Linear)[0]
    assert dense.weight.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert dense.weight.std().item() == pytest.approx(0.02, rel=0.01)
    assert all(torch.all(m.bias == 0) for m in _weighted(g) if m.bias is not None)


def test_torch_init_leaves_pytorch_defaults():
    d = DCGANDiscriminator(DCGANDiscriminatorParams(init="torch"), image_shape=MNIST)
    conv1 = layers_of(d, nn.Conv2d)[0]
    bound = 1 / math.sqrt(25)  # kaiming_uniform(a=sqrt(5)) and the bias both give 1 / sqrt(fan_in)
    assert conv1.bias.abs().max() > 0 and conv1.bias.abs().max() <= bound
    assert conv1.weight.abs().max() <= bound and conv1.weight.abs().max() > 0.9 * bound


# --- the MLP models ---------------------------------------------------------------------------


def test_mlp_generator_layers_follow_params():
    g = MLPGenerator(MLPGeneratorParams(latent_dim=10, hidden=[20, 30], dropout=0.1), image_shape=MNIST)
    assert [(m.in_features, m.out_features, m.bias is not None) for m in layers_of(g, nn.Linear)] == [
        (10, 20, False),
        (20, 30, False),
        (30, 784, True),
    ]
    assert [m.num_features for m in layers_of(g, nn.BatchNorm1d)] == [20, 30]
    assert [m.negative_slope for m in layers_of(g, nn.LeakyReLU)] == [0.2, 0.2]
    assert [m.p for m in layers_of(g, nn.Dropout)] == [0.1, 0.1]


def test_mlp_discriminator_layers_follow_params():
    d = MLPDiscriminator(MLPDiscriminatorParams(hidden=[16, 8], activation="relu"), image_shape=RGB32)
    assert [(m.in_features, m.out_features) for m in layers_of(d, nn.Linear)] == [(3072, 16), (16, 8), (8, 1)]
    assert len(layers_of(d, nn.ReLU)) == 2 and [m.p for m in layers_of(d, nn.Dropout)] == [0.3, 0.3]
    assert not layers_of(d, nn.BatchNorm1d)


# --- through the plugin registry --------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "dcgan"])
def test_models_build_through_the_registry(name):
    reg = load_registry()
    comp = reg.resolve("generator", name)
    g = comp.spec.load_factory()(comp.spec.default_params(), image_shape=MNIST)
    comp = reg.resolve("discriminator", name)
    d = comp.spec.load_factory()(comp.spec.default_params(), image_shape=MNIST)
    assert isinstance(g, Generator) and isinstance(d, Discriminator)
    logits = d(g(g.sample_latent(2)))
    assert logits.shape == (2,)
    if name == "dcgan":
        assert (keras_param_count(g), keras_param_count(d)) == (2_330_944, 212_865)


# --- the class-conditional variants -----------------------------------------------------------

K = 3
TINY_DCGAN_G = CDCGANGeneratorParams(latent_dim=6, widths=[8, 4], kernel=3, embed_dim=5)
TINY_DCGAN_D = DCGANDiscriminatorParams(widths=[4, 8], kernel=3, dropout=0.0)
TINY_MLP_G = CMLPGeneratorParams(latent_dim=6, hidden=[16], embed_dim=5)
TINY_MLP_D = MLPDiscriminatorParams(hidden=[16, 12], dropout=0.0)

CONDITIONAL_GENERATORS = [
    pytest.param(ConditionalDCGANGenerator, DCGANGenerator, TINY_DCGAN_G, id="cdcgan"),
    pytest.param(ConditionalMLPGenerator, MLPGenerator, TINY_MLP_G, id="cmlp"),
]
CONDITIONAL_DISCRIMINATORS = [
    pytest.param(ConditionalDCGANDiscriminator, DCGANDiscriminator, TINY_DCGAN_D, id="cdcgan"),
    pytest.param(ConditionalMLPDiscriminator, MLPDiscriminator, TINY_MLP_D, id="cmlp"),
]


@pytest.mark.parametrize(("cls", "base", "params"), CONDITIONAL_GENERATORS)
def test_conditional_generator_shapes_and_label_dependence(cls, base, params):
    g = cls(params, image_shape=RGB32, num_classes=K).eval()
    assert isinstance(g, base) and g.num_classes == K and g.latent_dim == 6
    z = g.sample_latent(4)
    labels = g.sample_labels(50)
    assert labels.dtype == torch.int64 and set(labels.tolist()) == set(range(K))
    out = g(z, torch.tensor([0, 1, 2, 0]))
    assert out.shape == (4, *RGB32) and out.abs().max() <= 1
    same_z = z[:1].expand(K, -1)
    per_class = g(same_z, torch.arange(K))
    assert all(not torch.allclose(per_class[i], per_class[j]) for i in range(K) for j in range(i))
    assert torch.allclose(out[0], g(z[:1], torch.tensor([0]))[0], atol=1e-6)  # per sample


@pytest.mark.parametrize(("cls", "base", "params"), CONDITIONAL_GENERATORS)
def test_conditional_generator_feeds_the_embedding_into_the_same_body(cls, base, params):
    torch.manual_seed(1)
    g = cls(params, image_shape=RGB32, num_classes=K).eval()
    torch.manual_seed(1)
    body = base(params, image_shape=RGB32, label_features=5).eval()
    assert g.label_embedding.weight.shape == (K, 5)
    first = layers_of(g, nn.Linear)[0]
    assert first.in_features == 6 + 5
    assert sum(p.numel() for p in g.parameters()) == sum(p.numel() for p in body.parameters()) + K * 5
    z, labels = torch.randn(4, 6), torch.tensor([2, 0, 1, 2])
    expected = body(torch.cat([z, g.label_embedding(labels)], dim=1))
    assert torch.allclose(g(z, labels), expected)
    g.train()
    g(z, labels).square().mean().backward()
    assert g.label_embedding.weight.grad[[0, 1, 2]].abs().sum(dim=1).min() > 0


@pytest.mark.parametrize(("cls", "base", "params"), CONDITIONAL_DISCRIMINATORS)
def test_projection_discriminator_adds_the_class_projection(cls, base, params):
    d = cls(params, image_shape=RGB32, num_classes=K).eval()
    assert isinstance(d, base) and d.num_classes == K
    x = torch.rand(4, *RGB32) * 2 - 1
    labels = torch.tensor([0, 1, 2, 1])
    logits = d(x, labels)
    assert logits.shape == (4,) and logits.dtype == torch.float32
    phi = d.features(x)
    assert phi.shape == (4, d.feature_dim) and d.projection.weight.shape == (K, d.feature_dim)
    unconditional = base.forward(d, x)  # linear(phi(x)), the unconditional logit
    assert torch.allclose(logits, unconditional + (d.projection.weight[labels] * phi).sum(1), atol=1e-5)
    per_class = torch.stack([d(x, torch.full((4,), k)) for k in range(K)])
    assert (per_class[1:] - per_class[:1]).abs().min() > 0  # the label moves every logit
    with torch.no_grad():
        d.projection.weight.zero_()
    assert torch.equal(d(x, labels), d(x, torch.tensor([2, 2, 0, 0])))
    assert torch.allclose(d(x, labels), unconditional, atol=1e-6)


@pytest.mark.parametrize(("cls", "base", "params"), CONDITIONAL_DISCRIMINATORS)
def test_projection_gradients_reach_only_the_classes_seen(cls, base, params):
    d = cls(params, image_shape=RGB32, num_classes=K)
    d(torch.rand(4, *RGB32) * 2 - 1, torch.tensor([0, 2, 2, 0])).sum().backward()
    grad = d.projection.weight.grad.abs().sum(dim=1)
    assert grad[0] > 0 and grad[2] > 0 and grad[1] == 0
    assert all(p.grad is not None for p in d.parameters())


def test_conditional_dcgan_parameter_counts():
    g = ConditionalDCGANGenerator(CDCGANGeneratorParams(), image_shape=MNIST, num_classes=10)
    d = ConditionalDCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=MNIST, num_classes=10)
    assert keras_param_count(g) == 2_330_944 + 16 * 7 * 7 * 256 + 10 * 16  # wider dense input, embedding
    assert keras_param_count(d) == 212_865 + 10 * 7 * 7 * 128  # one F-vector per class


@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (ConditionalDCGANGenerator, TINY_DCGAN_G),
        (ConditionalMLPGenerator, TINY_MLP_G),
        (ConditionalDCGANDiscriminator, TINY_DCGAN_D),
        (ConditionalMLPDiscriminator, TINY_MLP_D),
    ],
)
def test_conditional_models_need_labels(cls, params):
    net = cls(params, image_shape=RGB32, num_classes=K)
    inputs = torch.randn(2, 6) if isinstance(net, Generator) else torch.zeros(2, *RGB32)
    with pytest.raises(ValueError, match="needs labels"):
        net(inputs)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        net(inputs, torch.tensor([0, 1, 2]))


def test_unconditional_models_ignore_labels():
    g = DCGANGenerator(DCGANGeneratorParams(latent_dim=6, widths=[8, 4], kernel=3), image_shape=RGB32).eval()
    d = MLPDiscriminator(TINY_MLP_D, image_shape=RGB32).eval()
    z, x, labels = torch.randn(2, 6), torch.rand(2, *RGB32), torch.tensor([0, 1])
    assert torch.equal(g(z, labels), g(z)) and torch.equal(d(x, labels), d(x))
    assert g.num_classes == 0 and d.num_classes == 0


@pytest.mark.parametrize("name", ["cmlp", "cdcgan"])
def test_conditional_models_build_through_the_registry(name):
    reg = load_registry()
    g_spec, d_spec = reg.resolve("generator", name).spec, reg.resolve("discriminator", name).spec
    assert g_spec.conditional and d_spec.conditional
    g = g_spec.load_factory()(g_spec.default_params(), image_shape=MNIST, num_classes=10)
    d = d_spec.load_factory()(d_spec.default_params(), image_shape=MNIST, num_classes=10)
    assert (g.num_classes, d.num_classes) == (10, 10)
    labels = g.sample_labels(2)
    assert d(g(g.sample_latent(2), labels), labels).shape == (2,)
    assert not reg.resolve("generator", name.removeprefix("c")).spec.conditional


@pytest.mark.parametrize(
    ("kind", "name", "params"),
    [
        ("generator", "cdcgan", {"latent_dim": 6, "widths": [8, 4], "kernel": 3, "embed_dim": 5}),
        ("discriminator", "cdcgan", {"widths": [4, 8], "kernel": 3}),
        ("generator", "cmlp", {"latent_dim": 6, "hidden": [16], "embed_dim": 5}),
        ("discriminator", "cmlp", {"hidden": [16, 12]}),
    ],
)
def test_conditional_models_pass_the_contract_checks(kind, name, params):
    check_component(load_registry().resolve(kind, name), RGB32, params=params, num_classes=K)
