"""StyleGAN2's synthesis network: w -> images, through modulated and demodulated 3x3
convolutions with per-layer noise, from a learned constant, with a toRGB output at every
resolution, upsampled and summed (the "skip" generator of Karras et al. 2020, section 4.1).

Shapes: ``ws`` (N, L, W), one w per layer (StyleGAN2 broadcasts the same w to all L; a w feeds
a block's convolutions and the toRGB, which shares its w with the next block's first
convolution, as in the reference); features (N, C, H, W); images (N, C_img, H, W).
"""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from ganfw.plugin import ImageShape
from ganfw_plugins.stylegan2.layers import EqualLinear, LowPass, lrelu
from ganfw_plugins.stylegan2.sizes import channels, resolutions


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, *, demodulate: bool, up: LowPass | None) -> Tensor:
    """StyleGAN2's modulated convolution of ``x`` (N, I, H, W) by ``weight`` (O, I, k, k) scaled per
    sample by ``styles`` (N, I) -> (N, O, H, W), or (N, O, 2H, 2W) when ``up`` is given (a
    transposed convolution, then the low-pass filter).

    With ``demodulate``, each sample's output channel o is divided by ``||weight[o] * styles||_2``
    (weight demodulation, section 2.2). Computed by scaling the activations before and after one
    shared convolution, which equals convolving each sample with its own modulated weights.
    """
    x = x * styles[:, :, None, None].to(x.dtype)
    w = weight.to(x.dtype)
    if up is None:
        x = nn.functional.conv2d(x, w, padding=weight.shape[-1] // 2)
    else:  # (H - 1) * 2 + k wide, then the filter (times 4) with 1 pixel of padding: 2H
        x = up.blur(nn.functional.conv_transpose2d(x, w.transpose(0, 1), stride=2), padding=1) * 4
    if demodulate:
        squares = styles.square() @ weight.square().sum(dim=(2, 3)).T  # (N, O)
        x = x * (squares + 1e-8).rsqrt()[:, :, None, None].to(x.dtype)
    return x


class SynthesisLayer(nn.Module):
    """A modulated 3x3 convolution (upsampling by 2 when ``up``), noise, bias, leaky ReLU:
    (N, in, H, W) and w (N, W) -> (N, out, side, side).

    Noise: N(0, 1) per pixel, shared by the channels, times a learned strength that starts at 0;
    drawn afresh from torch's generator in train mode, the layer's fixed ``noise_const`` in eval
    mode (deterministic samples: the reference's ``noise_mode='const'``).
    """

    noise_const: Tensor  # (side, side), a buffer

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, side: int, *, up: bool = False):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.register_buffer("noise_const", torch.randn(side, side))
        self.low_pass = LowPass() if up else None

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, up=self.low_pass)
        if self.training:
            noise = torch.randn(x.shape[0], 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        else:
            noise = self.noise_const.to(x.dtype)
        return lrelu(x + noise * self.noise_strength + self.bias[:, None, None])


class ToRGB(nn.Module):
    """A modulated 1x1 convolution without demodulation, plus bias: (N, in, H, W) and w (N, W)
    -> (N, C_img, H, W)."""

    def __init__(self, in_channels: int, image_channels: int, w_dim: int):
        super().__init__()
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(image_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(image_channels))
        self.weight_gain = in_channels**-0.5

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False, up=None) + self.bias[:, None, None]


class SynthesisBlock(nn.Module):
    """One resolution: the first block starts from a learned constant (out, side, side) and has one
    layer; the others upsample with their first of two layers. Every block adds its toRGB to the
    upsampled image so far. Uses ``num_conv + 1`` consecutive ws of (N, L, W)."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, side: int, image_channels: int):
        super().__init__()
        first = in_channels == 0
        self.const = nn.Parameter(torch.randn(out_channels, side, side)) if first else None
        self.conv0 = None if first else SynthesisLayer(in_channels, out_channels, w_dim, side, up=True)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, side)
        self.torgb = ToRGB(out_channels, image_channels, w_dim)
        self.low_pass = None if first else LowPass()
        self.num_conv = 1 if first else 2

    def forward(self, x: Tensor | None, image: Tensor | None, ws: Tensor) -> tuple[Tensor, Tensor]:
        """Features (N, in, side/2, side/2) or ``None`` for the first block, the image so far (N,
        C_img, side/2, side/2) or ``None``, ws (N, num_conv + 1, W) -> features and image at side."""
        if self.const is not None:
            x = self.conv1(self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1), ws[:, 0])
        else:
            assert self.conv0 is not None, "a block without the constant upsamples with conv0"
            x = self.conv1(self.conv0(x, ws[:, 0]), ws[:, 1])
        rgb = self.torgb(x, ws[:, self.num_conv])
        if image is not None:
            assert self.low_pass is not None, "only the first block, which has no image to add to, lacks it"
            rgb = rgb + self.low_pass.up(image)
        return x, rgb


class SynthesisNetwork(nn.Module):
    """ws (N, L, W) -> images (N, C, H, W) in [-1, 1]: the blocks from the smallest side up to H,
    their summed toRGB outputs through tanh (the reference leaves them unbounded and clamps when
    saving images; the contract wants [-1, 1] from every generator, and tanh keeps a gradient
    where a clamp would have none).

    ``num_ws`` is L: one w per convolution plus one for the last toRGB.
    """

    def __init__(self, image_shape: ImageShape, w_dim: int, channel_base: int, channel_max: int, who: str):
        super().__init__()
        sides = resolutions(image_shape, channel_base, who)
        widths = [channels(side, channel_base, channel_max) for side in sides]
        blocks = [
            SynthesisBlock(widths[i - 1] if i else 0, widths[i], w_dim, side, image_shape[0])
            for i, side in enumerate(sides)
        ]
        starts = list(itertools.accumulate((block.num_conv for block in blocks), initial=0))
        #: The ws each block reads: ``num_conv + 1`` of them, its toRGB's shared with the next block.
        self.ws_slices = [slice(start, start + block.num_conv + 1) for start, block in zip(starts, blocks)]
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = starts[-1] + 1
        self.w_dim = w_dim

    def forward(self, ws: Tensor) -> Tensor:
        x = image = None
        for block, block_ws in zip(self.blocks, self.ws_slices):
            x, image = block(x, image, ws[:, block_ws])
        assert image is not None, "resolutions() gives at least one block"
        return torch.tanh(image)
