"""Fully connected generator and discriminator, as in Goodfellow et al. 2014."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganfw.contracts import Discriminator, Generator, ImageShape
from ganfw_plugins.dcgan.layers import activation
from ganfw_plugins.mlp import Activation, MLPDiscriminatorParams, MLPGeneratorParams


def hidden_layers(
    in_features: int, hidden: list[int], act: Activation, slope: float, batch_norm: bool, dropout: float
) -> tuple[list[nn.Module], int]:
    """The layers mapping (N, in_features) -> (N, out_features), and ``out_features``: per width,
    Linear (no bias when BatchNorm follows) [+ BatchNorm] + activation [+ Dropout when
    ``dropout > 0``]. No widths: no layers, ``out_features = in_features``."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers.append(nn.Linear(in_features, width, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(activation(act, slope))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        in_features = width
    return layers, in_features


class MLPGenerator(Generator):
    """Noise (N, Z) -> hidden layers -> Linear to C*H*W -> tanh -> images (N, C, H, W)."""

    def __init__(self, params: MLPGeneratorParams, image_shape: ImageShape):
        super().__init__()
        self.latent_dim = params.latent_dim
        self.image_shape = tuple(image_shape)
        hidden, features = hidden_layers(
            params.latent_dim, params.hidden, params.activation, params.slope, params.norm == "batch", params.dropout
        )
        self.net = nn.Sequential(
            *hidden,
            nn.Linear(features, math.prod(image_shape)),
            nn.Tanh(),
            nn.Unflatten(1, self.image_shape),
        )

    def forward(self, z: Tensor) -> Tensor:
        """(N, Z) -> (N, C, H, W) in [-1, 1]."""
        return self.net(z)


class MLPDiscriminator(Discriminator):
    """Images (N, C, H, W) -> flatten -> hidden layers -> one logit each, (N,)."""

    def __init__(self, params: MLPDiscriminatorParams, image_shape: ImageShape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        hidden, features = hidden_layers(
            math.prod(image_shape), params.hidden, params.activation, params.slope, False, params.dropout
        )
        self.net = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(features, 1))

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, H, W) -> (N,)."""
        return self.net(images).squeeze(1)
