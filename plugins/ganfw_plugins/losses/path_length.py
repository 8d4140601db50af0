"""Path-length regularisation (Karras et al. 2020, "Analyzing and improving the image quality of
StyleGAN", section 3.2): a lazy penalty on G that keeps ``||J_w^T y||``, the image's change for a
unit step in w, close to its running mean ``a``, so that equal steps in w change the image by
equal amounts. Written after the reference's definition (NVlabs/stylegan2-ada-pytorch,
training/loss.py, ``StyleGAN2Loss``, the ``Gpl`` phase): the same shrunk batch, noise scaling,
running mean and weighting.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from ganfw.plugin import Penalty, PenaltyInputs
from ganfw_plugins.losses import PathLengthParams
from ganfw_plugins.losses.added import WithPenalty


def latent_and_images(inputs: PenaltyInputs, z: Tensor, labels: Tensor | None) -> tuple[Tensor, Tensor]:
    """The latent the path length is measured in and the images (N, C, H, W) G makes from it.

    A generator with a ``mapping`` (z (N, Z), labels -> w, (N, L, W) or (N, W)) and a ``synthesis``
    (w -> images), as the StyleGAN2 generator has, is run in those two steps: the latent is its w.
    Any other generator is measured in z: the latent is a copy of ``z`` that requires a gradient,
    and the images come from ``inputs.generator``.
    """
    g = inputs.generator_module
    mapping, synthesis = getattr(g, "mapping", None), getattr(g, "synthesis", None)
    if g is not None and mapping is not None and synthesis is not None:
        w = mapping(z, labels if g.num_classes else None)
        if not w.requires_grad:  # a mapping without trainable parameters (frozen, or none)
            w = w.detach().requires_grad_(True)
        return w, synthesis(w)
    z = z.detach().requires_grad_(True)
    return z, inputs.generator(z, labels)


def mean_over_ranks(value: Tensor) -> Tensor:
    """A 0-dim tensor averaged over the processes of a distributed run (itself in one process)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return value
    total = value.clone()
    torch.distributed.all_reduce(total)
    return total / torch.distributed.get_world_size()


class PathLengthPenalty(Penalty):
    """On G's steps: ``weight * mean_i (l_i - a)^2`` over the first ``N // batch_shrink`` samples of
    the step's noise (at least one), where ``l_i = sqrt(mean_L ||J_w^T y_i||^2)``: ``y`` is normal
    noise over the image divided by sqrt(H * W), the Jacobian is taken at each of the L ws, and
    ``a`` is the running mean ``a <- a + decay * (mean_i l_i - a)`` (starting at 0, updated on every
    call before it is used, averaged over ranks; :attr:`mean` is checkpointed by the loss).

    The gradient flows through ``l`` and, with factor ``decay``, through the update of ``a``, as in
    the reference.
    """

    name = "path-length"
    player = "g"

    def __init__(self, weight: float, every: int, decay: float, batch_shrink: int):
        self.weight, self.every, self.decay, self.batch_shrink = weight, every, decay, batch_shrink
        self.mean = 0.0

    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        n = max(1, len(inputs.z) // self.batch_shrink)
        labels = None if inputs.fake_labels is None else inputs.fake_labels[:n]
        w, images = latent_and_images(inputs, inputs.z[:n], labels)
        noise = torch.randn_like(images) / math.sqrt(images.shape[2] * images.shape[3])
        (grad,) = torch.autograd.grad((images * noise).sum(), w, create_graph=True)
        lengths = grad.float().square().sum(dim=-1).reshape(n, -1).mean(dim=1).sqrt()  # (n,)
        mean = self.mean + self.decay * (lengths.mean() - self.mean)
        self.mean = float(mean_over_ranks(mean.detach()))
        return self.weight * (lengths - mean).square().mean()


class PathLength(WithPenalty):
    """Any loss (``params.base``; default ``r1``, StyleGAN2's R1-regularised non-saturating loss)
    plus the lazy :class:`PathLengthPenalty` on G; ``weight`` 0 leaves it out (not computed), which
    is the reference's CIFAR-10 setting. Its state is the base's and the running mean ``a``; when
    the penalty is on, it logs ``path_length_mean`` (``loss/path_length_mean``) beside the base's
    values."""

    def __init__(self, params: PathLengthParams):
        self.penalty = PathLengthPenalty(params.weight, params.every, params.decay, params.batch_shrink)
        super().__init__(params.base, self.penalty)

    def penalties(self) -> list[Penalty]:
        return super().penalties() if self.penalty.weight else self.base.penalties()

    def state_dict(self) -> dict[str, Any]:
        return {"base": self.base.state_dict(), "path_length_mean": self.penalty.mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state["base"])
        self.penalty.mean = float(state["path_length_mean"])

    def log(self) -> dict[str, float]:
        own = {"path_length_mean": self.penalty.mean} if self.penalty.weight else {}
        return {**self.base.log(), **own}
