"""Plugin ``mlp``: fully connected generator and discriminator (the classic first GAN)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw import ComponentSpec, hookimpl, param

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
        )
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
        )
    ]
