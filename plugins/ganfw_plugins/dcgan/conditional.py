"""Class conditioning for any body: mixins that turn an unconditional generator or discriminator
into a conditional one without touching its layers (used by the ``dcgan`` and ``mlp`` plugins).

- :class:`LabelEmbeddingGenerator`: a learned embedding of the label (``embed_dim`` numbers) is
  concatenated to the noise, and the result feeds the same body (Mirza & Osindero 2014,
  "Conditional generative adversarial nets", with a learned embedding in place of one-hot labels).
- :class:`ProjectionDiscriminator`: ``logit = linear(phi(x)) + <embed(y), phi(x)>`` where ``phi``
  is the body's penultimate features (Miyato & Koyama 2018, "cGANs with projection
  discriminator").

Put the mixin first: ``class CondG(LabelEmbeddingGenerator, UncondG)``. The unconditional
generator must accept ``label_features`` (extra input features after ``z``), the discriminator
must be a :class:`FeatureDiscriminator`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ganfw.plugin import Discriminator, ImageShape


def check_labels(labels: Tensor | None, n: int, num_classes: int, who: str) -> Tensor:
    """``labels`` (N,) int64 in [0, K), or a ValueError saying what was passed instead."""
    if labels is None:
        raise ValueError(f"the conditional {who} needs labels (N,) in [0, {num_classes}), got None")
    if labels.shape != (n,):
        raise ValueError(f"the conditional {who} needs labels of shape ({n},), got {tuple(labels.shape)}")
    return labels


class FeatureDiscriminator(Discriminator):
    """A discriminator whose ``net`` (an ``nn.Sequential``) ends with ``Linear(F, 1)``: everything
    before it is the feature map ``phi``, images (N, C, H, W) -> (N, F)."""

    net: nn.Sequential

    @property
    def feature_dim(self) -> int:
        """``F``, the length of ``phi(x)``."""
        head = self.net[-1]
        assert isinstance(head, nn.Linear), "a FeatureDiscriminator's net ends with Linear(F, 1)"
        return head.in_features

    def features(self, images: Tensor) -> Tensor:
        """``phi``: (N, C, H, W) -> (N, F), the input of the final linear layer."""
        return self.net[:-1](images)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, C, H, W) -> logits (N,); ``labels`` are ignored (unconditional)."""
        return self.net[-1](self.features(images)).squeeze(1)


class LabelEmbeddingGenerator:
    """Mixin: ``forward(z, labels) = body(concat(z, embed(labels)))``, z (N, Z), labels (N,)
    -> images (N, C, H, W). Its params need an ``embed_dim`` (``E``); the embedding starts as
    N(0, 1), the scale of the noise it is concatenated to."""

    def __init__(self, params: Any, image_shape: ImageShape, num_classes: int):
        super().__init__(params, image_shape, label_features=params.embed_dim)  # type: ignore[call-arg]
        self.num_classes = num_classes
        self.label_embedding = nn.Embedding(num_classes, params.embed_dim)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z (N, Z), labels (N,) int64 in [0, K) -> images (N, C, H, W) in [-1, 1]."""
        labels = check_labels(labels, len(z), self.num_classes, "generator")
        embedded = self.label_embedding(labels).to(z.dtype)
        return super().forward(torch.cat([z, embedded], dim=1))  # type: ignore[misc]


class ProjectionDiscriminator:
    """Mixin over a :class:`FeatureDiscriminator`: logits (N,) = ``linear(phi(x)) +
    sum(embed(y) * phi(x))`` for images (N, C, H, W) and labels (N,), with a class embedding
    (K, F) initialised Glorot-uniform like the final linear layer, so that both terms start at
    the same scale."""

    def __init__(self, params: Any, image_shape: ImageShape, num_classes: int):
        super().__init__(params, image_shape)  # type: ignore[call-arg]
        self.num_classes = num_classes
        self.projection = nn.Embedding(num_classes, self.feature_dim)  # type: ignore[attr-defined]
        nn.init.xavier_uniform_(self.projection.weight)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """images (N, C, H, W), labels (N,) int64 in [0, K) -> logits (N,)."""
        labels = check_labels(labels, len(images), self.num_classes, "discriminator")
        phi = self.features(images)  # type: ignore[attr-defined]
        unconditional = self.net[-1](phi).squeeze(1)  # type: ignore[attr-defined]
        return unconditional + (self.projection(labels) * phi).sum(dim=1)
