"""R2, the zero-centred gradient penalty on generated images, and a loss that adds R1 and R2 to
any base loss: R3GAN's regularisation (Huang et al. 2024, "The GAN is dead; long live the GAN!
A modern baseline GAN"; brownvc/R3GAN, R3GAN/Trainer.py at commit 19a7ddf, adds
``gamma / 2 * (R1 + R2)`` to its relativistic D loss on every step)."""

from __future__ import annotations

from torch import Tensor

from ganfw.plugin import PenaltyInputs
from ganfw_plugins.losses import R1R2Params
from ganfw_plugins.losses.added import WithPenalty
from ganfw_plugins.losses.penalties import R1Penalty, ZeroCentredGradientPenalty


class R2Penalty(ZeroCentredGradientPenalty):
    """The zero-centred penalty on G's images of D's step (detached from G), with the labels G
    was asked for: ``gamma / 2 * mean(||grad_x D(x_fake)||^2)`` (R2 of Mescheder et al. 2018,
    "Which training methods for GANs do actually converge?", as R3GAN uses it)."""

    name = "r2"

    def batch(self, inputs: PenaltyInputs) -> tuple[Tensor, Tensor | None]:
        return inputs.fake, inputs.fake_labels


class R1R2(WithPenalty):
    """Any loss (``params.base``) plus R1 and R2 of one weight ``gamma`` on D, each lazily every
    ``params.every`` D steps; everything else is the base loss's.

    R3GAN's objective is the relativistic loss with ``every = 1`` (its CIFAR-10 preset starts at
    ``gamma = 0.05``).
    """

    def __init__(self, params: R1R2Params):
        super().__init__(params.base, R1Penalty(params.gamma, params.every), R2Penalty(params.gamma, params.every))
