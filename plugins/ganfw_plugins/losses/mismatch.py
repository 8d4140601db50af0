"""Real images with a wrong label as more fakes for a class-conditional discriminator, added to
any loss: the matching-aware discriminator of Reed et al. 2016 ("Generative adversarial text to
image synthesis", GAN-CLS), for class labels.

A conditional D that only tells real from generated may score a real 9 high under the label 4;
G can then draw a 4 that could be a 9. Shown real images under wrong labels as fakes, D learns to
score an image by how well it matches its label, and G, which maximises D under the label it was
asked for, learns to draw images that read as that class and no other. The term keeps the base
loss's scale (the wrong pairs are fakes of that loss), so D's scores stay what the loss expects.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor

from ganfw.plugin import Penalty, PenaltyInputs
from ganfw_plugins.losses import MismatchParams
from ganfw_plugins.losses.added import WithPenalty, step_labels


def wrong_labels(labels: Tensor, num_classes: int) -> Tensor:
    """For labels (N,) in [0, K): labels (N,) each drawn uniformly from the K - 1 others (torch's
    global generator on their device)."""
    shift = torch.randint(1, num_classes, labels.shape, device=labels.device)
    return (labels + shift) % num_classes


class MismatchPenalty(Penalty):
    """On D's step: ``weight`` times the ``"fake"`` term of ``owner``'s base loss for the real batch
    under wrong labels, next to the same images under their own labels (one call of D on both, 2N
    images)."""

    name = "mismatch"
    player = "d"
    needs_labels = True

    def __init__(self, owner: WithPenalty, weight: float, every: int):
        self.owner = owner
        self.weight = weight
        self.every = every

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        labels, real = step_labels("mismatch", inputs.real_labels, inputs), inputs.real
        n = len(real)
        both = torch.cat([labels, wrong_labels(labels, inputs.num_classes)])
        logits = inputs.discriminator(torch.cat([real, real]), both).float()
        terms = self.owner.base.d_loss(logits[:n], logits[n:])
        if not isinstance(terms, Mapping) or "fake" not in terms:
            raise ValueError(f"the mismatch loss needs a base loss whose D loss has a 'fake' term, not {terms!r}")
        return self.weight * terms["fake"]


class Mismatch(WithPenalty):
    """Any loss (``params.base``) plus the mismatch term on D (``params.weight``; 0 leaves it out),
    lazily every ``params.every`` D updates; everything else is the base loss's."""

    def __init__(self, params: MismatchParams):
        terms = [MismatchPenalty(self, params.weight, params.every)] if params.weight > 0 else []
        super().__init__(params.base, *terms)
