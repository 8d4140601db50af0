"""The StyleGAN2 family keeps the generator and discriminator contracts at every resolution the
issue names (and MNIST's 28x28), grey and RGB, plain and conditional, and matches the reference
implementation's parameter counts at its CIFAR-10 configuration."""

from __future__ import annotations

import pytest
import torch

from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.stylegan2 import (
    ConditionalStyleGAN2DiscriminatorParams,
    StyleGAN2DiscriminatorParams,
    StyleGAN2GeneratorParams,
)
from ganfw_plugins.stylegan2.discriminator import StyleGAN2Discriminator
from ganfw_plugins.stylegan2.generator import StyleGAN2Generator

#: Small widths that keep a contract check well under a second at 256x256.
SMALL = {
    "generator": {"latent_dim": 16, "w_dim": 16, "channel_base": 256, "channel_max": 16},
    "discriminator": {"channel_base": 256, "channel_max": 16},
}

SHAPES = [(3, 32, 32), (3, 64, 64), (3, 128, 128), (3, 256, 256), (1, 32, 32), (1, 28, 28)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", ["stylegan2", "cstylegan2"])
@pytest.mark.parametrize("kind", ["generator", "discriminator"])
def test_the_family_keeps_the_contract(kind, name, shape):
    torch.manual_seed(0)
    check_component(load_registry().resolve(kind, name), shape, params=SMALL[kind])


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


#: stylegan2-ada-pytorch (NVlabs, commit d72cc7d041b42ec8e806021a205ed9349f87c6a4), its networks
#: built on the CPU from training/networks.py as train.py's --cfg=cifar builds them for 32x32 RGB
#: (z_dim = w_dim = 512, 2 mapping layers, channel_max 512; channel_base 32768 there and 16384
#: here give the same 512 channels at every side up to 32), D with architecture 'orig' (the cifar
#: setting) and 'resnet' (the default); counted by summing the parameters' sizes.
REFERENCE = {
    # num_classes: (G, D orig, D resnet)
    0: (19_947_539, 20_720_641, 21_507_073),
    10: (20_215_315, 23_089_664, 23_876_096),
}


@pytest.mark.parametrize("num_classes", [0, 10])
def test_parameter_counts_equal_the_reference_at_its_cifar10_configuration(num_classes):
    d_params = ConditionalStyleGAN2DiscriminatorParams if num_classes else StyleGAN2DiscriminatorParams
    with torch.device("meta"):  # shapes only: no memory, no time
        G = StyleGAN2Generator(StyleGAN2GeneratorParams(), (3, 32, 32), num_classes)
        plain = StyleGAN2Discriminator(d_params(residual=False, mbstd_group=32), (3, 32, 32), num_classes)
        residual = StyleGAN2Discriminator(d_params(), (3, 32, 32), num_classes)
    assert (count(G), count(plain), count(residual)) == REFERENCE[num_classes]
