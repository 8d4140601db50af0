"""Fully connected generator and discriminator, as in Goodfellow et al. 2014, and their
class-conditional variants (a label embedding concatenated to z; a projection discriminator: see
:mod:`ganfw_plugins.dcgan.conditional`)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from ganfw.plugin import Generator, ImageShape
from ganfw_plugins.dcgan.conditional import FeatureDiscriminator, LabelEmbeddingGenerator, ProjectionDiscriminator
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
    """Noise (N, Z) -> hidden layers -> Linear to C*H*W -> tanh -> images (N, C, H, W).

    ``label_features``: extra input features concatenated after z by a subclass (the first layer
    then takes ``Z + label_features`` inputs); 0 for the plain generator.
    """

    def __init__(self, params: MLPGeneratorParams, image_shape: ImageShape, *, label_features: int = 0):
        super().__init__()
        self.latent_dim = params.latent_dim
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)
        hidden, features = hidden_layers(
            params.latent_dim + label_features,
            params.hidden,
            params.activation,
            params.slope,
            params.norm == "batch",
            params.dropout,
        )
        self.net = nn.Sequential(
            *hidden,
            nn.Linear(features, math.prod(image_shape)),
            nn.Tanh(),
            nn.Unflatten(1, self.image_shape),
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, Z) (or (N, Z + label_features) from a subclass) -> (N, C, H, W) in [-1, 1];
        ``labels`` are ignored (unconditional)."""
        return self.net(z)


class MLPDiscriminator(FeatureDiscriminator):
    """Images (N, C, H, W) -> flatten -> hidden layers (the features, F = the last width) -> one
    logit each, (N,)."""

    def __init__(self, params: MLPDiscriminatorParams, image_shape: ImageShape):
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)
        hidden, features = hidden_layers(
            math.prod(image_shape), params.hidden, params.activation, params.slope, False, params.dropout
        )
        self.net = nn.Sequential(nn.Flatten(), *hidden, nn.Linear(features, 1))


class ConditionalMLPGenerator(LabelEmbeddingGenerator, MLPGenerator):
    """The MLP generator fed ``concat(z, embed(labels))``: z (N, Z), labels (N,) int64 in [0, K)
    -> images (N, C, H, W) in [-1, 1]."""


class ConditionalMLPDiscriminator(ProjectionDiscriminator, MLPDiscriminator):
    """The MLP discriminator with a class projection on its last hidden layer: images
    (N, C, H, W), labels (N,) int64 in [0, K) -> logits (N,)."""
