"""A pixel-space metric: the sliced Wasserstein distance between the distributions of image
patches, after the SWD that Karras et al. 2018 (Progressive GAN, "Progressive Growing of GANs
for Improved Quality, Stability, and Variation") report, at one scale.

It reads the images themselves (``needs_images``: :attr:`ganfw.contracts.Embedding.images`,
(N, C, H, W) in [-1, 1]), so it sees what no feature network does (colour casts, noise, blur)
and needs no weights. Each image gives ``patches`` random square patches of ``patch`` pixels
(the whole image with ``patch = 0``); every patch is a vector of C x patch x patch values,
standardised per channel by the reference patches' mean and standard deviation (Progressive
GAN standardised each set by its own, which hides a shift of the mean). The distance is the
mean, over random unit directions, of the 1-D Wasserstein-1 distance between the two sets'
projections: the mean absolute difference of their sorted values on equally many patches.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganfw.plugin import Embedding, Metric, MetricResult, UserError

from . import SlicedWassersteinParams

#: Directions projected onto at a time.
DIRECTIONS_AT_ONCE = 32


def sliced_wasserstein(a: Tensor, b: Tensor, directions: Tensor) -> float:
    """The mean over the unit columns of ``directions`` (D, R) of the Wasserstein-1 distance
    between the projections of ``a`` (N, D) and ``b`` (N, D) (equally many rows), in float64."""
    if len(a) != len(b):
        raise ValueError(f"expected equally many rows, got {len(a)} and {len(b)}")
    a, b, total = a.double(), b.double(), 0.0
    for block in directions.double().split(DIRECTIONS_AT_ONCE, dim=1):  # memory: N x 32 projections a set
        total += (((a @ block).sort(0).values - (b @ block).sort(0).values).abs().mean(0)).sum().item()
    return total / directions.shape[1]


def random_patches(images: Tensor, size: int, count: int) -> Tensor:
    """``count`` patches of ``size`` x ``size`` pixels at uniform random places in each of
    ``images`` (N, C, H, W) (torch's global generator), flattened: (N * count, C * size * size);
    ``size = 0``: each whole image once, (N, C * H * W)."""
    if not size:
        return images.flatten(1)
    n, channels, height, width = images.shape
    if size > min(height, width):
        raise UserError(f"sliced-wasserstein: patches of {size} pixels do not fit images of {height}x{width}")
    top = torch.randint(height - size + 1, (n, count))
    left = torch.randint(width - size + 1, (n, count))
    rows = (top[..., None] + torch.arange(size))[..., :, None]  # (N, count, size, 1)
    cols = (left[..., None] + torch.arange(size))[..., None, :]  # (N, count, 1, size)
    picked = images[torch.arange(n)[:, None, None, None], :, rows, cols]  # (N, count, size, size, C)
    return picked.permute(0, 1, 4, 2, 3).reshape(n * count, channels * size * size)


def standardise(patches: Tensor, reference: Tensor, channels: int) -> Tensor:
    """``patches`` (P, C * S) with each channel's values shifted and scaled by the mean and the
    standard deviation of that channel in ``reference`` (Q, C * S)."""
    ref = reference.reshape(len(reference), channels, -1)
    mean, std = ref.mean((0, 2)), ref.std((0, 2)).clamp(min=1e-8)
    return ((patches.reshape(len(patches), channels, -1) - mean[:, None]) / std[:, None]).flatten(1)


class SlicedWasserstein(Metric):
    """Scores ``swd``: the sliced Wasserstein distance between generated and reference patches
    (0 for identical distributions; see the module docstring). Both sets are cut to the smaller
    one's number of images at random."""

    needs_images = True

    def __init__(self, params: SlicedWassersteinParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        fake, real = generated.images, reference.images
        if fake is None or real is None:
            raise UserError("sliced-wasserstein reads the images themselves, and none were given")
        n = min(len(fake), len(real))
        fake, real = (x[torch.randperm(len(x))[:n]] for x in (fake, real))
        p = self.params
        a, b = (random_patches(x.float(), p.patch, p.patches) for x in (fake, real))
        a, b = standardise(a, b, fake.shape[1]), standardise(b, b, fake.shape[1])
        directions = torch.randn(a.shape[1], p.directions, dtype=torch.float64)
        return MetricResult({"swd": sliced_wasserstein(a, b, directions / directions.norm(dim=0))})
