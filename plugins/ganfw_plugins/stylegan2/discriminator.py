"""The StyleGAN2 discriminator, plain or class-conditional (one class: the ``cstylegan2`` spec
passes ``num_classes``): blocks that halve the resolution down to 4..7 pixels (residual by
default), then minibatch standard deviation, a 3x3 convolution and two dense layers.

A conditional one maps the label to a vector ``c`` (N, M) (embedding and dense layers, as G's
mapping network) and projects the head's last features on it: ``logit = <out, c> / sqrt(M)``
(stylegan2-ada-pytorch's conditional D).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ganfw.plugin import Discriminator, ImageShape, UserError
from ganfw_plugins.stylegan2 import ConditionalStyleGAN2DiscriminatorParams, StyleGAN2DiscriminatorParams
from ganfw_plugins.stylegan2.layers import EqualConv2d, EqualLinear
from ganfw_plugins.stylegan2.mapping import MappingNetwork
from ganfw_plugins.stylegan2.sizes import channels, resolutions


class DiscriminatorBlock(nn.Module):
    """(N, C_in, side, side) -> (N, C_out, side/2, side/2): a 3x3 convolution, a downsampling 3x3
    convolution and, when ``residual``, a downsampling 1x1 skip, both branches scaled by sqrt(1/2).
    The first block reads the image itself through a 1x1 fromRGB convolution."""

    def __init__(self, image_channels: int, width: int, out_width: int, *, first: bool, residual: bool):
        super().__init__()
        self.fromrgb = EqualConv2d(image_channels, width, 1, activation="lrelu") if first else None
        self.conv0 = EqualConv2d(width, width, 3, activation="lrelu")
        self.conv1 = EqualConv2d(width, out_width, 3, activation="lrelu", down=True)
        self.skip = EqualConv2d(width, out_width, 1, bias=False, down=True) if residual else None

    def forward(self, x: Tensor) -> Tensor:
        if self.fromrgb is not None:
            x = self.fromrgb(x)
        if self.skip is None:
            return self.conv1(self.conv0(x))
        return self.skip(x, gain=math.sqrt(0.5)) + self.conv1(self.conv0(x), gain=math.sqrt(0.5))


class MinibatchStd(nn.Module):
    """Appends the standard deviation over groups of images: (N, C, H, W) -> (N, C + F, H, W).

    Images are split into groups of ``group_size`` (image i in group i mod N/G, as the reference
    does; G = gcd(N, group_size), so every batch size works) and channels into ``num_channels``
    (F) parts; each group's per-pixel standard deviation is averaged over channels and pixels
    per part, and broadcast as F constant feature maps to the group's images.
    """

    def __init__(self, group_size: int, num_channels: int):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g, f = math.gcd(n, self.group_size), self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (N/G, F, C/F, H, W)
        y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # (N, F, H, W)
        return torch.cat([x, y], dim=1)


class Epilogue(nn.Module):
    """(N, C, b, b) at the smallest side b -> (N, out): minibatch standard deviation, a 3x3
    convolution, a dense layer to C features and a linear one to ``out`` (1, or the projection
    length of a conditional D)."""

    def __init__(self, width: int, side: int, out: int, mbstd_group: int, mbstd_channels: int):
        super().__init__()
        self.mbstd = MinibatchStd(mbstd_group, mbstd_channels) if mbstd_channels else None
        self.conv = EqualConv2d(width + mbstd_channels, width, 3, activation="lrelu")
        self.fc = EqualLinear(width * side * side, width, activation="lrelu")
        self.out = EqualLinear(width, out)

    def forward(self, x: Tensor) -> Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        return self.out(self.fc(self.conv(x).flatten(1)))


def label_mapping(params: StyleGAN2DiscriminatorParams, num_classes: int, projection: int) -> MappingNetwork:
    """A conditional D's mapping of labels (N,) in [0, K) to the projection vectors (N, M), M =
    ``projection``; ``params`` must be the conditional ones (they size the mapping)."""
    if not isinstance(params, ConditionalStyleGAN2DiscriminatorParams):
        raise TypeError(
            f"a conditional StyleGAN2 discriminator (num_classes={num_classes}) needs "
            f"ConditionalStyleGAN2DiscriminatorParams (mapping_layers, mapping_lr), got {type(params).__name__}"
        )
    return MappingNetwork(0, num_classes, projection, params.mapping_layers, params.mapping_lr)


class StyleGAN2Discriminator(Discriminator):
    """Images (N, C, H, W) (and labels (N,) when ``num_classes`` K > 0) -> logits (N,)."""

    def __init__(
        self,
        params: StyleGAN2DiscriminatorParams | ConditionalStyleGAN2DiscriminatorParams,
        image_shape: ImageShape,
        num_classes: int = 0,
    ):
        super().__init__()
        image_channels, height, width = image_shape
        self.image_shape = (image_channels, height, width)
        self.num_classes = num_classes
        who = "discriminator 'cstylegan2'" if num_classes else "discriminator 'stylegan2'"
        sides = resolutions(image_shape, params.channel_base, who)[::-1]  # H, H/2, ..., b
        widths = [channels(side, params.channel_base, params.channel_max) for side in sides]
        if params.mbstd_channels and widths[-1] % params.mbstd_channels:
            raise UserError(
                f"{who}: mbstd_channels {params.mbstd_channels} does not divide the {widths[-1]} channels "
                f"of the {sides[-1]}x{sides[-1]} head"
            )
        self.blocks = nn.Sequential(
            *(
                DiscriminatorBlock(image_channels, a, b, first=i == 0, residual=params.residual)
                for i, (a, b) in enumerate(zip(widths, widths[1:]))
            )
        )
        projection = widths[-1] if num_classes else 0
        self.epilogue = Epilogue(widths[-1], sides[-1], projection or 1, params.mbstd_group, params.mbstd_channels)
        self.label_mapping = label_mapping(params, num_classes, projection) if num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        out = self.epilogue(self.blocks(images))  # (N, 1), or (N, M) to project
        if self.label_mapping is None:
            return out.squeeze(1)
        projection = self.label_mapping(None, labels)
        return (out * projection).sum(dim=1) / math.sqrt(projection.shape[1])
