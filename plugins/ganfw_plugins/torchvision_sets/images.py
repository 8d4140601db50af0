"""Pictures as the torchvision datasets hand them over (PIL images) turned into ganfw's square
images, and the keys that name a dataset at a resolution."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def square(image: Image.Image, size: int, crop: int = 0) -> Tensor:
    """A PIL image (W x H, any mode) -> (3, size, size) uint8 RGB: its centre square of side
    ``crop`` (0: the largest, min(W, H)) resized to ``size`` x ``size`` by Pillow's bicubic
    filter (antialiased when shrinking; pixels just outside the square weigh in at its edges).
    An image already ``size`` x ``size`` comes back exactly as stored."""
    image = image.convert("RGB")
    side = crop or min(image.size)
    left, top = (image.width - side) / 2, (image.height - side) / 2
    image = image.resize((size, size), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).contiguous()


def dataset_key(name: str, resolution: int, *qualifiers: str) -> str:
    """What a dataset's images are, for judges and reference features: ``name-resolution``, then
    each non-empty qualifier (``celeba-64``, ``celeba-64-crop108-valid``)."""
    return "-".join([name, str(resolution), *filter(None, qualifiers)])
