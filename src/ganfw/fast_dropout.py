"""Dropout whose masks come from uniform noise: the ``train.fast_dropout`` speed option.

On the CPU, ``nn.Dropout`` draws its mask with ``bernoulli_``, one element at a time: for the
course's discriminator at batch 256 that is about a fifth of a bf16 training step. Comparing
uniform draws with ``p`` gives a mask of the same distribution (each element kept with
probability ``1 - p``, survivors scaled by ``1 / (1 - p)``) about 2.5x faster, forward and
backward. The masks differ from ``nn.Dropout``'s for the same seed; they still come from the
global generator, so runs stay reproducible and resume exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class UniformDropout(nn.Dropout):
    """``nn.Dropout`` (same ``p``, same state dict) with the mask drawn as ``uniform >= p``.

    Any shape in, the same shape out.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        keep = torch.rand(x.shape, device=x.device) >= self.p  # float32 draws, whatever x's dtype
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))


def use_uniform_dropout(module: nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` inside ``module`` by a :class:`UniformDropout` of the
    same ``p``, in place; return how many were replaced."""
    replaced = 0
    for parent in module.modules():
        for name, child in parent.named_children():
            if type(child) is nn.Dropout:
                setattr(parent, name, UniformDropout(child.p))
                replaced += 1
    return replaced
