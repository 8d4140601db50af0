"""StyleGAN2's building blocks: layers with an equalised learning rate, leaky ReLU with gain, and
resampling through the [1, 3, 3, 1] low-pass filter.

Equalised learning rate (Karras et al. 2018): weights are stored N(0, 1) (divided by the layer's
learning-rate multiplier) and scaled by ``multiplier / sqrt(fan_in)`` on every call, so that Adam
moves every layer at the same relative speed. Shapes: features (N, F), images (N, C, H, W).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

#: The gain that keeps a leaky ReLU (slope 0.2) from shrinking its input's second moment.
LRELU_GAIN = math.sqrt(2.0)


def lrelu(x: Tensor) -> Tensor:
    """Leaky ReLU of slope 0.2 times :data:`LRELU_GAIN`, any shape."""
    return F.leaky_relu(x, 0.2) * LRELU_GAIN


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    """(N, F) -> (N, F), each row scaled to a mean square of 1."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class EqualLinear(nn.Module):
    """A dense layer with an equalised learning rate: (N, in) -> (N, out), then leaky ReLU when
    ``activation`` is ``"lrelu"``. ``lr_multiplier`` scales its effective learning rate (0.01 in
    the mapping network); ``bias_init`` is the bias's starting value (1 for style affines)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return lrelu(x) if self.activation == "lrelu" else x


class LowPass(nn.Module):
    """Resampling by 2 through the separable [1, 3, 3, 1] filter (normalised), channel by channel:
    images (N, C, H, W) -> :meth:`up` (N, C, 2H, 2W), :meth:`down` (N, C, H/2, W/2),
    :meth:`blur` (N, C, H + 2p - 3, W + 2p - 3) for padding ``p``."""

    kernel: Tensor  # (4, 4), a buffer

    def __init__(self):
        super().__init__()
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
        kernel = torch.outer(taps, taps)
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)

    def _depthwise(self, x: Tensor, gain: float = 1.0) -> Tensor:
        """The filter as a (C, 1, 4, 4) depthwise weight for ``x``'s channels and dtype."""
        return (self.kernel * gain).to(x.dtype).expand(x.shape[1], 1, 4, 4)

    def up(self, x: Tensor) -> Tensor:
        """Zero insertion and the filter times 4: (N, C, H, W) -> (N, C, 2H, 2W)."""
        return F.conv_transpose2d(x, self._depthwise(x, 4.0), stride=2, padding=1, groups=x.shape[1])

    def down(self, x: Tensor) -> Tensor:
        """The filter, every other pixel: (N, C, H, W) -> (N, C, H/2, W/2) (H, W even)."""
        return F.conv2d(x, self._depthwise(x), stride=2, padding=1, groups=x.shape[1])

    def blur(self, x: Tensor, padding: int) -> Tensor:
        """The filter alone, with ``padding`` zeros on every side."""
        return F.conv2d(x, self._depthwise(x), padding=padding, groups=x.shape[1])


class EqualConv2d(nn.Module):
    """A convolution with an equalised learning rate: (N, in, H, W) -> (N, out, H, W), or
    (N, out, H/2, W/2) with ``down`` (low-pass filtered first, as StyleGAN2 downsamples), then
    leaky ReLU when ``activation`` is ``"lrelu"``; ``forward``'s ``gain`` scales the output
    (sqrt(1/2) on both branches of a residual block)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        bias: bool = True,
        activation: str = "linear",
        down: bool = False,
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size**2)
        self.activation = activation
        self.low_pass = LowPass() if down else None

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        weight, k = self.weight * self.weight_gain, self.weight.shape[-1]
        if self.low_pass is None:
            x = F.conv2d(x, weight, self.bias, padding=k // 2)
        elif k == 1:
            x = F.conv2d(self.low_pass.down(x), weight, self.bias)
        else:  # 3x3: blur to H + 1, then a strided valid convolution to H / 2
            x = F.conv2d(self.low_pass.blur(x, padding=(k + 1) // 2), weight, self.bias, stride=2)
        return (lrelu(x) if self.activation == "lrelu" else x) * gain
