"""Plugin ``dcgan``: convolutional generator and discriminator, and their class-conditional
variants ``cdcgan`` (label embedding concatenated to z; projection discriminator).

The defaults are exactly the course's TensorFlow DCGAN for 28x28 MNIST (Keras layer defaults
included): G has 2,330,944 parameters and D 212,865, counted as Keras counts them (BatchNorm
moving mean and variance included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2

Padding = Literal["tf-same", "symmetric"]
Init = Literal["keras", "torch", "dcgan"]


@dataclass(frozen=True)
class DCGANGeneratorParams:
    latent_dim: int = param(100, "length of the noise vector z", min=1)
    widths: list[int] = param(
        [256, 128, 64],
        "channels: of the dense projection (at H/4 x W/4), then of each transposed conv before "
        "the output one (all stride 1 but the last, stride 2)",
        min=1,
    )
    kernel: int = param(5, "kernel size of the transposed convolutions", min=1)
    norm: Literal["batch", "none"] = param("batch", "normalisation after the dense and each hidden conv")
    bn_momentum: float = param(
        0.01, "BatchNorm running-stat momentum (PyTorch convention; Keras 0.99 = 0.01)", min=0.0, max=1.0
    )
    bn_eps: float = param(1e-3, "BatchNorm epsilon (Keras default 1e-3)", min=0.0, min_exclusive=True)
    slope: float = param(0.3, "LeakyReLU negative slope (Keras default 0.3)", min=0.0)
    padding: Padding = param("tf-same", "tf-same: TensorFlow's 'same' alignment; symmetric: PyTorch padding")
    init: Init = param("keras", "weight init: keras (Glorot uniform), torch (PyTorch default), dcgan (N(0, 0.02))")


@dataclass(frozen=True)
class CDCGANGeneratorParams(DCGANGeneratorParams):
    embed_dim: int = param(16, "length of the learned label embedding concatenated to z", min=1)


@dataclass(frozen=True)
class DCGANDiscriminatorParams:
    widths: list[int] = param([64, 128], "channels of each stride-2 convolution", min=1)
    kernel: int = param(5, "kernel size of the convolutions", min=1)
    norm: Literal["none", "batch", "layer"] = param("none", "normalisation after each conv but the first")
    slope: float = param(0.3, "LeakyReLU negative slope (Keras default 0.3)", min=0.0)
    dropout: float = param(0.3, "dropout after each conv", min=0.0, max=0.99)
    padding: Padding = param("tf-same", "tf-same: TensorFlow's 'same' alignment; symmetric: PyTorch padding")
    init: Init = param("keras", "weight init: keras (Glorot uniform), torch (PyTorch default), dcgan (N(0, 0.02))")


@hookimpl
def ganfw_generators() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="dcgan",
            kind="generator",
            summary="DCGAN generator: dense projection, then transposed convs (course defaults)",
            factory="ganfw_plugins.dcgan.models:DCGANGenerator",
            params=DCGANGeneratorParams,
        ),
        ComponentSpec(
            name="cdcgan",
            kind="generator",
            summary="Conditional DCGAN generator: label embedding concatenated to z (Mirza & Osindero 2014)",
            factory="ganfw_plugins.dcgan.models:ConditionalDCGANGenerator",
            params=CDCGANGeneratorParams,
            conditional=True,
        ),
    ]


@hookimpl
def ganfw_discriminators() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="dcgan",
            kind="discriminator",
            summary="DCGAN discriminator: strided convs with dropout, then one logit (course defaults)",
            factory="ganfw_plugins.dcgan.models:DCGANDiscriminator",
            params=DCGANDiscriminatorParams,
        ),
        ComponentSpec(
            name="cdcgan",
            kind="discriminator",
            summary="Projection discriminator on the DCGAN body (Miyato & Koyama 2018)",
            factory="ganfw_plugins.dcgan.models:ConditionalDCGANDiscriminator",
            params=DCGANDiscriminatorParams,
            conditional=True,
        ),
    ]
