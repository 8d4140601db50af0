"""The adversarial objectives. Every loss takes raw discriminator logits: ``real_logits`` (N,)
and ``fake_logits`` (M,), and returns a scalar (a mean over the batch) for the network to
minimise. The sigmoid-based losses use the stable forms ``log sigmoid(x) = -softplus(-x)`` and
``log(1 - sigmoid(x)) = -softplus(x)``, fused into ``binary_cross_entropy_with_logits``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from ganfw.contracts import Discriminator, Loss
from ganfw_plugins.losses import NonSaturatingParams, WassersteinGPParams


def _bce(logits: Tensor, target: float) -> Tensor:
    """Mean binary cross-entropy of ``logits`` (N,) against one constant ``target``."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _bce_d_loss(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0) -> Tensor:
    """D's cross-entropy: ``BCE(real, real_target) + BCE(fake, 0)``, each a batch mean."""
    return _bce(real_logits, real_target) + _bce(fake_logits, 0.0)


class _ParameterlessLoss(Loss):
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

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _bce_d_loss(real_logits, fake_logits, 1.0 - self.label_smoothing)

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return _bce(fake_logits, 1.0)


class Minimax(_ParameterlessLoss):
    """Goodfellow et al. 2014's original minimax game ``min_G max_D E log D(x) + E log(1 - D(G(z)))``.

    D: ``BCE(real, 1) + BCE(fake, 0)``; G minimises ``mean(log(1 - sigmoid(fake)))
    = -mean(softplus(fake))``, whose gradient vanishes while D confidently rejects the fakes.
    """
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return _bce_d_loss(real_logits, fake_logits)

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return -F.softplus(fake_logits).mean()


class Hinge(_ParameterlessLoss):
    """Hinge loss: Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral normalization
    for generative adversarial networks".

    D: ``mean(relu(1 - real)) + mean(relu(1 + fake))``; G: ``-mean(fake)``.
    """
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()


class LeastSquares(_ParameterlessLoss):
    """Mao et al. 2017, "Least squares generative adversarial networks", targets a=0, b=c=1.

    D: ``0.5 * mean((real - 1)^2) + 0.5 * mean(fake^2)``; G: ``0.5 * mean((fake - 1)^2)``.
    """
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * (real_logits - 1.0).square().mean() + 0.5 * fake_logits.square().mean()

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return 0.5 * (fake_logits - 1.0).square().mean()


class WassersteinGP(Loss):
    """Wasserstein loss (Arjovsky et al. 2017) with the gradient penalty of Gulrajani et al. 2017,
    "Improved training of Wasserstein GANs", and optionally the drift term of Karras et al. 2018,
    "Progressive growing of GANs".

    D (the critic): ``mean(fake) - mean(real) + drift * mean(real^2)``; G: ``-mean(fake)``;
    regulariser: ``gp_weight * mean((||grad D(x_hat)||_2 - 1)^2)``.
    """

    has_regularizer = True

    def __init__(self, params: WassersteinGPParams):
        self.gp_weight = params.gp_weight
        self.drift = params.drift

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean() + self.drift * real_logits.square().mean()

    def g_loss(self, fake_logits: Tensor) -> Tensor:
        return -fake_logits.mean()

    def regularizer(self, discriminator: Discriminator, real: Tensor, fake: Tensor) -> Tensor:
        """The gradient penalty at ``x_hat = a * real + (1 - a) * fake``, ``a ~ U[0, 1]`` per sample.

        ``real``, ``fake``: (N, C, H, W); ``fake`` is detached, so only D receives gradients. The
        input gradient is built with ``create_graph=True`` so the penalty can be backpropagated.
        A 1e-12 inside the square root keeps that backward finite where the gradient is zero.
        """
        if real.shape != fake.shape:
            raise ValueError(
                f"gradient penalty needs real and fake of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
            )
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(x_hat).sum(), x_hat, create_graph=True)
        grad_norm = (grad.flatten(1).square().sum(1) + 1e-12).sqrt()
        return self.gp_weight * (grad_norm - 1.0).square().mean()
