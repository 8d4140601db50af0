"""A class cross-entropy read from the class-conditional discriminator itself, added to any loss.

A conditional D scores an image under every label, ``D(x, c)`` for ``c`` in ``[0, K)``; read as
logits over the classes, ``softmax_c D(x, c)`` is a classifier. For a projection discriminator
(Miyato & Koyama 2018) ``D(x, c) = psi(phi(x)) + <embed(c), phi(x)>`` the class-independent
``psi`` cancels in the softmax, and the classifier is its class embedding over its features. The
auxiliary classifier of AC-GAN (Odena et al. 2017, "Conditional image synthesis with auxiliary
classifier GANs") is thus trained without a head of its own: D learns to classify real images
(its cross-entropy with their labels, on D's step), and G learns to draw images it classifies as
the labels asked for (on G's step), which pushes G away from digits that read as another class.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ganfw.plugin import DiscriminatorFn, Penalty, PenaltyInputs
from ganfw_plugins.losses import ClassCEParams
from ganfw_plugins.losses.added import WithPenalty, step_labels


def class_scores(discriminator: DiscriminatorFn, images: Tensor, num_classes: int) -> Tensor:
    """D's score of each of ``images`` (n, C, H, W) under every label: (n, K) with entry
    ``[i, c] = D(images[i], c)``, from one call of D on the K copies of the batch (K * n images)."""
    n = len(images)
    labels = torch.arange(num_classes, device=images.device).repeat_interleave(n)
    copies = images.repeat(num_classes, *([1] * (images.dim() - 1)))
    return discriminator(copies, labels).float().view(num_classes, n).t()


class ClassCEPenalty(Penalty):
    """``weight * CE(softmax_c D(x, c), y)`` over the first ``n // batch_shrink`` images of one
    player's batch: real images and their labels on D's step, G's images and the labels it was
    asked for on G's step (the gradient then reaches G through D)."""

    needs_labels = True

    def __init__(self, player: Literal["d", "g"], weight: float, every: int, batch_shrink: int):
        self.name = f"class_ce_{player}"
        self.player = player
        self.weight = weight
        self.every = every
        self.batch_shrink = batch_shrink

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        images, given = (inputs.real, inputs.real_labels) if self.player == "d" else (inputs.fake, inputs.fake_labels)
        labels = step_labels("class-ce", given, inputs)
        keep = max(1, len(images) // self.batch_shrink)
        scores = class_scores(inputs.discriminator, images[:keep], inputs.num_classes)
        return self.weight * F.cross_entropy(scores, labels[:keep])


class ClassCE(WithPenalty):
    """Any loss (``params.base``) plus the class cross-entropy on D (``params.weight``) and on G
    (``params.g_weight``; a weight of 0 leaves that term out), each lazily every ``params.every``
    updates of its network; everything else is the base loss's."""

    def __init__(self, params: ClassCEParams):
        weights: dict[Literal["d", "g"], float] = {"d": params.weight, "g": params.g_weight}
        terms = [
            ClassCEPenalty(player, weight, params.every, params.batch_shrink)
            for player, weight in weights.items()
            if weight > 0
        ]
        super().__init__(params.base, *terms)
