"""Plugin ``mlp``: fully connected generator and discriminator (the classic first GAN), and their
class-conditional variants ``cmlp`` (label embedding concatenated to z; projection discriminator)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2

Activation = Literal["leaky_relu", "relu", "gelu", "silu"]


@dataclass(frozen=True)
class MLPGeneratorParams:
    latent_dim: int = param(100, "length of the noise vector z", min=1)
    hidden: list[int] = param([256, 512, 1024], "widths of the hidden layers, first to last", min=1)
    activation: Activation = param("leaky_relu", "activation after each hidden layer")
    slope: float = param(0.2, "negative slope of leaky_relu", min=0.0)
    norm: Literal["batch", "none"] = param("batch", "normalisation after each hidden layer")
    dropout: float = param(0.0, "dropout after each hidden layer", min=0.0, max=0.99)


@dataclass(frozen=True)
class CMLPGeneratorParams(MLPGeneratorParams):
    embed_dim: int = param(16, "length of the learned label embedding concatenated to z", min=1)


@dataclass(frozen=True)
class MLPDiscriminatorParams:
    hidden: list[int] = param([1024, 512, 256], "widths of the hidden layers, first to last", min=1)
    activation: Activation = param("leaky_relu", "activation after each hidden layer")
    slope: float = param(0.2, "negative slope of leaky_relu", min=0.0)
    dropout: float = param(0.3, "dropout after each hidden layer", min=0.0, max=0.99)


@hookimpl
def ganfw_generators() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="mlp",
            kind="generator",
            summary="MLP generator: noise -> hidden layers -> tanh pixels",
            factory="ganfw_plugins.mlp.models:MLPGenerator",
            params=MLPGeneratorParams,
        ),
        ComponentSpec(
            name="cmlp",
            kind="generator",
            summary="Conditional MLP generator: label embedding concatenated to z (Mirza & Osindero 2014)",
            factory="ganfw_plugins.mlp.models:ConditionalMLPGenerator",
            params=CMLPGeneratorParams,
            conditional=True,
        ),
    ]


@hookimpl
def ganfw_discriminators() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="mlp",
            kind="discriminator",
            summary="MLP discriminator: flattened pixels -> hidden layers -> one logit",
            factory="ganfw_plugins.mlp.models:MLPDiscriminator",
            params=MLPDiscriminatorParams,
        ),
        ComponentSpec(
            name="cmlp",
            kind="discriminator",
            summary="Projection discriminator on the MLP body (Miyato & Koyama 2018)",
            factory="ganfw_plugins.mlp.models:ConditionalMLPDiscriminator",
            params=MLPDiscriminatorParams,
            conditional=True,
        ),
    ]
