"""The classic adversarial objectives. Every loss takes raw discriminator logits, ``real_logits``
(N,) and ``fake_logits`` (M,); D's loss is returned as named terms ``{"real": ..., "fake": ...}``
(each a batch mean, logged as ``d/real`` and ``d/fake``, summed for the update), G's as one
scalar. None of them needs D(real) on G's step: ``g_loss`` ignores its ``real_logits`` (``None``).

The sigmoid-based losses use the stable forms ``log sigmoid(x) = -softplus(-x)`` and
``log(1 - sigmoid(x)) = -softplus(x)``, fused into ``binary_cross_entropy_with_logits``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from ganfw.plugin import Loss, Penalty
from ganfw_plugins.losses import NonSaturatingParams, WassersteinGPParams
from ganfw_plugins.losses.penalties import GradientPenalty


def bce(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of ``logits`` (N,) against one constant ``target``."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class ParameterlessLoss(Loss):
    """A loss without declared params."""

    def __init__(self, params: None = None):
        """``params``: always ``None`` (what the registry passes for a component without params)."""


class NonSaturating(Loss):
    """Goodfellow et al. 2014, "Generative adversarial nets", with the generator's
    non-saturating objective from the same paper (the course's loss).

    D: ``BCE(real, 1 - label_smoothing) + BCE(fake, 0)``; G: ``BCE(fake, 1)``, i.e. G maximises
    ``log D(G(z))``. One-sided label smoothing: Salimans et al. 2016, "Improved techniques for
    training GANs".
    """

    def __init__(self, params: NonSaturatingParams):
        self.label_smoothing = params.label_smoothing

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"real": bce(real_logits, 1.0 - self.label_smoothing), "fake": bce(fake_logits, 0.0)}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return bce(fake_logits, 1.0)


class Minimax(ParameterlessLoss):
    """Goodfellow et al. 2014's original minimax game ``min_G max_D E log D(x) + E log(1 - D(G(z)))``.

    D: ``BCE(real, 1) + BCE(fake, 0)``; G minimises ``mean(log(1 - sigmoid(fake)))
    = -mean(softplus(fake))``, whose gradient vanishes while D confidently rejects the fakes.
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"real": bce(real_logits, 1.0), "fake": bce(fake_logits, 0.0)}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return -F.softplus(fake_logits).mean()


class Hinge(ParameterlessLoss):
    """Hinge loss: Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral normalization
    for generative adversarial networks".

    D: ``mean(relu(1 - real)) + mean(relu(1 + fake))``; G: ``-mean(fake)``.
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"real": F.relu(1.0 - real_logits).mean(), "fake": F.relu(1.0 + fake_logits).mean()}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


class LeastSquares(ParameterlessLoss):
    """Mao et al. 2017, "Least squares generative adversarial networks", targets a=0, b=c=1.

    D: ``0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)``; G: ``0.5 * mean((fake - 1)^2)``.
    """

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return {"real": 0.5 * (real_logits - 1.0).square().mean(), "fake": 0.5 * fake_logits.square().mean()}

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return 0.5 * (fake_logits - 1.0).square().mean()

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """D's outputs aim at 1 (real) and 0 (fake): they are its belief (clamped to [0, 1]), and
        it is right about an image on the target's side of 0.5."""
        r, f = real_logits.detach().float(), fake_logits.detach().float()
        return {
            "d_real": r.clamp(0, 1).mean(),
            "d_fake": f.clamp(0, 1).mean(),
            "acc_real": (r > 0.5).float().mean(),
            "acc_fake": (f < 0.5).float().mean(),
        }


class WassersteinGP(Loss):
    """Wasserstein loss (Arjovsky et al. 2017) with the gradient penalty of Gulrajani et al. 2017,
    "Improved training of Wasserstein GANs", and optionally the drift term of Karras et al. 2018,
    "Progressive growing of GANs".

    D (the critic): ``mean(fake) - mean(real)`` plus, when ``drift > 0``, ``drift * mean(real^2)``
    (term ``drift``); G: ``-mean(fake)``; the penalty :class:`GradientPenalty` on every D step.
    """

    def __init__(self, params: WassersteinGPParams):
        self.drift = params.drift
        self.gradient_penalty = GradientPenalty(params.gp_weight)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        terms = {"real": -real_logits.mean(), "fake": fake_logits.mean()}
        if self.drift > 0:
            terms["drift"] = self.drift * real_logits.square().mean()
        return terms

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()

    def penalties(self) -> list[Penalty]:
        return [self.gradient_penalty]
