"""The residual blocks of the SNGAN networks (Miyato et al. 2018), written from the description
of pfnet-research/sngan_projection (gen_models/resblocks.py, dis_models/resblocks.py, commit
e84b1a5): 3x3 convolutions, nearest-neighbour upsampling in G, 2x2 average pooling in D, 1x1
convolutions on the shortcut where the shape changes, and the reference's initialisation
(Glorot-uniform, gain sqrt(2) on the residual path and 1 elsewhere; biases zero).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar, cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

M = TypeVar("M", nn.Conv2d, nn.Linear)

#: Glorot gain of the convolutions on a block's residual path (before a ReLU).
RESIDUAL_GAIN = math.sqrt(2.0)


def glorot(layer: M, gain: float = 1.0) -> M:
    """``layer`` with a Glorot-uniform weight of ``gain`` and a zero bias (if it has one)."""
    nn.init.xavier_uniform_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


def conv(c_in: int, c_out: int, kernel: int, gain: float = 1.0) -> nn.Conv2d:
    """A 'same' convolution (N, c_in, H, W) -> (N, c_out, H, W), ``kernel`` 1 or 3."""
    return glorot(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2), gain)


def sn_conv(c_in: int, c_out: int, kernel: int, gain: float = 1.0) -> nn.Conv2d:
    """:func:`conv` with spectral normalisation (one power iteration per training-mode call)."""
    # torch annotates spectral_norm as returning any Module; it returns the layer it was given
    return cast(nn.Conv2d, spectral_norm(conv(c_in, c_out, kernel, gain)))


def upsample(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, C, 2H, 2W), each value repeated over a 2x2 square."""
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


class BatchNorm(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` called as ``norm(x, labels)``, ignoring the labels: (N, C, H, W) ->
    (N, C, H, W). G's blocks call every normalisation so."""

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return super().forward(x)


class ClassBatchNorm(nn.Module):
    """Categorical conditional batch norm (SNGAN-projection's generator; BigGAN's has the same
    role): batch statistics without an affine part, then a gain and a bias per class and channel.
    ``x`` (N, C, H, W), ``labels`` (N,) int64 in [0, K) -> (N, C, H, W).

    The reference starts every gain at 1 and every bias at 0, which makes a new G ignore the
    labels; the gains here start at ``1 + N(0, 0.02^2)`` so that classes differ from the first
    step (the contract asks a conditional network to use its labels).
    """

    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.bias = nn.Embedding(num_classes, channels)
        nn.init.normal_(self.gain.weight, 1.0, 0.02)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        gain = self.gain(labels).to(x.dtype)[:, :, None, None]
        bias = self.bias(labels).to(x.dtype)[:, :, None, None]
        return self.norm(x) * gain + bias


#: Builds a block's normalisation for a number of channels: :class:`BatchNorm`, or
#: :class:`ClassBatchNorm` with the number of classes bound.
NormFactory = Callable[[int], nn.Module]


class UpBlock(nn.Module):
    """G's block: (N, c_in, S, S) -> (N, c_out, 2S, 2S).

    Residual: norm, ReLU, upsample, 3x3 conv to ``c_out``, norm, ReLU, 3x3 conv; shortcut:
    upsample, 1x1 conv. The norms take the labels (ignored by :class:`BatchNorm`).
    """

    def __init__(self, c_in: int, c_out: int, norm: NormFactory):
        super().__init__()
        self.norm1, self.conv1 = norm(c_in), conv(c_in, c_out, 3, RESIDUAL_GAIN)
        self.norm2, self.conv2 = norm(c_out), conv(c_out, c_out, 3, RESIDUAL_GAIN)
        self.shortcut = conv(c_in, c_out, 1)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        h = self.conv1(upsample(F.relu(self.norm1(x, labels))))
        h = self.conv2(F.relu(self.norm2(h, labels)))
        return h + self.shortcut(upsample(x))


class DownBlock(nn.Module):
    """D's block: (N, c_in, S, S) -> (N, c_out, S', S') with ``S' = S / 2`` when ``down``.

    Residual: ReLU, 3x3 conv (``c_in`` channels), ReLU, 3x3 conv to ``c_out``, then 2x2 average
    pooling when ``down``; shortcut: a 1x1 conv then the pooling where the shape changes, else
    the identity. Every conv is spectrally normalised.
    """

    def __init__(self, c_in: int, c_out: int, down: bool):
        super().__init__()
        self.down = down
        self.conv1 = sn_conv(c_in, c_in, 3, RESIDUAL_GAIN)
        self.conv2 = sn_conv(c_in, c_out, 3, RESIDUAL_GAIN)
        self.shortcut = sn_conv(c_in, c_out, 1) if down or c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(F.relu(x))))
        skip = self.shortcut(x)
        if self.down:
            h, skip = F.avg_pool2d(h, 2), F.avg_pool2d(skip, 2)
        return h + skip


class ImageBlock(nn.Module):
    """D's first block (the reference's "optimised" block), reading the image: (N, c_in, S, S)
    -> (N, c_out, S/2, S/2). Residual: 3x3 conv, ReLU, 3x3 conv, 2x2 average pooling (no ReLU
    before the first conv: the input is pixels); shortcut: pooling, then a 1x1 conv. Spectrally
    normalised."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = sn_conv(c_in, c_out, 3, RESIDUAL_GAIN)
        self.conv2 = sn_conv(c_out, c_out, 3, RESIDUAL_GAIN)
        self.shortcut = sn_conv(c_in, c_out, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.avg_pool2d(self.conv2(F.relu(self.conv1(x))), 2)
        return h + self.shortcut(F.avg_pool2d(x, 2))


class SumPool(nn.Module):
    """Global sum pooling: (N, C, H, W) -> (N, C)."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.sum(x, dim=(2, 3))
