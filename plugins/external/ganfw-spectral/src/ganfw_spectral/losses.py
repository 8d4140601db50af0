"""The non-saturating loss with the R1 penalty of Mescheder et al. 2018, "Which training methods
for GANs do actually converge?". Logits: ``real`` (N,), ``fake`` (M,); every loss is a scalar."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from ganfw.contracts import Discriminator, Loss
from ganfw_spectral import NonSaturatingR1Params


def _bce(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of ``logits`` (N,) against one constant ``target``."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class NonSaturatingR1(Loss):
    """D: ``BCE(real, 1) + BCE(fake, 0)``; G: ``BCE(fake, 1)`` (Goodfellow et al. 2014's
    non-saturating game); regulariser: ``(gamma / 2) * mean_i ||grad_x D(x_i)||^2`` over the real
    images ``x_i``, which pulls D's gradient to zero on the data."""

    has_regularizer = True

    def __init__(self, params: NonSaturatingR1Params):
        self.gamma = params.gamma

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return _bce(fake_logits, 1.0)

    def regularizer(self, discriminator: Discriminator, real: Tensor, fake: Tensor) -> Tensor:
        """R1 on ``real`` (N, C, H, W); ``fake`` is not used (R1 looks at the data only). The
        input gradient is built with ``create_graph=True`` so that the penalty backpropagates to
        the discriminator's parameters."""
        x = real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(x).float().sum(), x, create_graph=True)
        return 0.5 * self.gamma * grad.flatten(1).square().sum(1).mean()
