"""The non-saturating loss with the R1 penalty of Mescheder et al. 2018, "Which training methods
for GANs do actually converge?". Logits: ``real`` (N,), ``fake`` (M,); every loss is a scalar."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from ganfw.contracts import Loss, Penalty, PenaltyInputs
from ganfw_spectral import NonSaturatingR1Params


def _bce(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of ``logits`` (N,) against one constant ``target``."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class R1(Penalty):
    """``(gamma / 2) * mean_i ||grad_x D(x_i)||^2`` over the real images ``x_i`` (N, C, H, W),
    which pulls D's gradient to zero on the data; on D's steps, every ``every``-th of them
    (lazy regularisation, Karras et al. 2020). ``fake`` is not used: R1 looks at the data only."""

    name = "r1"
    player = "d"

    def __init__(self, gamma: float, every: int):
        self.gamma, self.every = gamma, every

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        """D is called as the step calls it (with the real labels, for a conditional D); the input
        gradient is built with ``create_graph=True`` so that the penalty backpropagates to D's
        parameters."""
        x = inputs.real.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(inputs.discriminator(x, inputs.real_labels).float().sum(), x, create_graph=True)
        return 0.5 * self.gamma * grad.flatten(1).square().sum(1).mean()


class NonSaturatingR1(Loss):
    """D: ``BCE(real, 1) + BCE(fake, 0)`` (terms ``real`` and ``fake``); G: ``BCE(fake, 1)``
    (Goodfellow et al. 2014's non-saturating game); penalty: :class:`R1` on D."""

    def __init__(self, params: NonSaturatingR1Params):
        self.r1 = R1(params.gamma, params.every)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"real": _bce(real_logits, 1.0), "fake": _bce(fake_logits, 0.0)}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return _bce(fake_logits, 1.0)

    def penalties(self) -> list[Penalty]:
        return [self.r1]
