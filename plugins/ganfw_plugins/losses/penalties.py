"""Penalties on D's input gradient. Each calls D as the step does
(:attr:`ganfw.contracts.PenaltyInputs.discriminator`: wrapped, augmented, with the real batch's
labels for a conditional D) and builds the input gradient with ``create_graph=True`` so that the
penalty itself can be backpropagated into D's parameters."""

from __future__ import annotations

from abc import abstractmethod

import torch
from torch import Tensor

from ganfw.plugin import DiscriminatorFn, Penalty, PenaltyInputs


def input_gradient(discriminator: DiscriminatorFn, images: Tensor, labels: Tensor | None) -> Tensor:
    """``grad_x sum(D(x, labels))`` at ``images`` (N, C, H, W), same shape, differentiable.

    ``images`` is detached first: the gradient is taken with respect to these values only, and
    no gradient reaches whatever produced them (G on D's step).
    """
    x = images.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(x, labels).sum(), x, create_graph=True)
    return grad


class GradientPenalty(Penalty):
    """Gulrajani et al. 2017, "Improved training of Wasserstein GANs": on D's steps,
    ``weight * mean((||grad D(x_hat)||_2 - 1)^2)`` at ``x_hat = a * real + (1 - a) * fake`` with
    ``a ~ U[0, 1]`` per sample (drawn from torch's global generator on the images' device).

    A 1e-12 inside the square root keeps the backward finite where the gradient is zero.
    """

    name = "gp"
    player = "d"
    every = 1

    def __init__(self, weight: float):
        self.weight = weight

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        real, fake = inputs.real, inputs.fake
        if real.shape != fake.shape:
            raise ValueError(
                f"gradient penalty needs real and fake of one shape, got {tuple(real.shape)} and {tuple(fake.shape)}"
            )
        alpha = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)
        x_hat = alpha * real.detach() + (1.0 - alpha) * fake.detach()
        grad = input_gradient(inputs.discriminator, x_hat, inputs.real_labels)
        grad_norm = (grad.flatten(1).square().sum(1) + 1e-12).sqrt()
        return self.weight * (grad_norm - 1.0).square().mean()


class ZeroCentredGradientPenalty(Penalty):
    """``gamma / 2 * mean(||grad_x D(x)||^2)`` over one batch ``x`` of D's step (its
    :meth:`batch`), computed every ``every`` D steps (lazy regularisation, Karras et al. 2020,
    StyleGAN2): a zero-centred gradient penalty, as R1 and R2 are."""

    player = "d"

    def __init__(self, gamma: float, every: int):
        self.gamma = gamma
        self.every = every

    @abstractmethod
    def batch(self, inputs: PenaltyInputs) -> tuple[Tensor, Tensor | None]:
        """The images (N, C, H, W) whose gradient is penalised, and the labels D sees with them."""

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        grad = input_gradient(inputs.discriminator, *self.batch(inputs))
        return 0.5 * self.gamma * grad.flatten(1).square().sum(1).mean()


class R1Penalty(ZeroCentredGradientPenalty):
    """Mescheder et al. 2018, "Which training methods for GANs do actually converge?": the
    zero-centred penalty on the real batch (with its labels)."""

    name = "r1"

    def batch(self, inputs: PenaltyInputs) -> tuple[Tensor, Tensor | None]:
        return inputs.real, inputs.real_labels
