"""DiffAugment: Zhao et al. 2020, "Differentiable augmentation for data-efficient GAN training".

The same random transforms are applied to every image D sees, real and generated, on D's and on
G's steps; since each is differentiable with respect to the images, G learns through them. Every
transform maps (N, C, H, W) to (N, C, H, W), draws one independent setting per image from torch's
global generator on the images' device, and fills what it removes with zeros (mid-grey for
images in [-1, 1]).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor
from torch.nn import functional as F

from ganfw.plugin import Augmentation
from ganfw_plugins.augment import DiffAugmentParams


def _uniform(images: Tensor, low: float, high: float) -> Tensor:
    """One draw from U[low, high) per image, shaped (N, 1, 1, 1) to broadcast over it."""
    u = torch.rand(images.shape[0], 1, 1, 1, device=images.device, dtype=images.dtype)
    return low + (high - low) * u


def color(images: Tensor) -> Tensor:
    """Random brightness (add U[-0.5, 0.5)), saturation (scale each pixel's deviation from its
    channel mean by U[0, 2); RGB images only) and contrast (scale the deviation from the image's
    mean by U[0.5, 1.5)), in that order."""
    x = images + _uniform(images, -0.5, 0.5)
    if x.shape[1] == 3:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * _uniform(images, 0.0, 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * _uniform(images, 0.5, 1.5) + mean


def _pixels(size: int, ratio: float) -> int:
    """``ratio`` of ``size``, rounded to whole pixels."""
    return int(size * ratio + 0.5)


def translation(images: Tensor, ratio: float) -> Tensor:
    """Shift each image by whole pixels, up to ``ratio`` of its height and width each way (each
    shift uniform over the integers in range); pixels shifted in are zeros."""
    n, _, h, w = images.shape
    max_y, max_x = _pixels(h, ratio), _pixels(w, ratio)
    if max_y == max_x == 0:
        return images
    dy = torch.randint(-max_y, max_y + 1, (n, 1), device=images.device)
    dx = torch.randint(-max_x, max_x + 1, (n, 1), device=images.device)
    padded = F.pad(images, (max_x, max_x, max_y, max_y)).permute(0, 2, 3, 1)  # (N, H + 2 max_y, W + 2 max_x, C)
    # out[i, j] = images[i - dy, j - dx], read from the padded image
    rows = torch.arange(h, device=images.device) - dy + max_y  # (N, H)
    cols = torch.arange(w, device=images.device) - dx + max_x  # (N, W)
    batch = torch.arange(n, device=images.device).view(n, 1, 1)
    return padded[batch, rows.unsqueeze(2), cols.unsqueeze(1)].permute(0, 3, 1, 2)


def cutout(images: Tensor, ratio: float) -> Tensor:
    """Zero a rectangle of ``ratio`` of the image's height and width in each image, centred on a
    uniformly drawn pixel (the part that falls outside the image is lost)."""
    n, _, h, w = images.shape
    size_y, size_x = _pixels(h, ratio), _pixels(w, ratio)
    if size_y == 0 or size_x == 0:
        return images
    top = torch.randint(0, h, (n, 1, 1), device=images.device) - size_y // 2
    left = torch.randint(0, w, (n, 1, 1), device=images.device) - size_x // 2
    rows = torch.arange(h, device=images.device).view(1, h, 1)
    cols = torch.arange(w, device=images.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)  # (N, H, W)
    return images * (~inside).unsqueeze(1).to(images.dtype)


class DiffAugment(Augmentation):
    """The transforms of ``params.policy`` (``"color"``, ``"translation"``, ``"cutout"``), in
    that order. The paper's defaults for few-shot data are ``["color", "translation",
    "cutout"]``; colour on a single channel is brightness and contrast only."""

    def __init__(self, params: DiffAugmentParams):
        transforms: dict[str, Callable[[Tensor], Tensor]] = {
            "color": color,
            "translation": partial(translation, ratio=params.translation),
            "cutout": partial(cutout, ratio=params.cutout),
        }
        self.transforms = [transforms[name] for name in params.policy]

    def __call__(self, images: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        if images.dim() != 4:
            raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        for transform in self.transforms:
            images = transform(images)
        return images
