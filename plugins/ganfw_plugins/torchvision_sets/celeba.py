"""CelebA (Liu et al. 2015), the aligned and cropped faces: torchvision's layout below the data
root (``<root>/celeba/img_align_celeba/*.jpg`` and the five annotation files), 178x218 JPEGs
split by ``list_eval_partition.txt`` into 162,770 training, 19,867 valid and 19,962 test images.
Each face is centre-cropped to a square (``params.crop``, else the largest) and resized; the
faces are unlabelled (the 40 attributes are not classes)."""

from __future__ import annotations

from typing import Any

import torchvision
from PIL import Image
from torch import Tensor

from ganfw_plugins.torchvision_sets import CelebAParams

from .base import TorchvisionSet
from .files import Files
from .images import dataset_key, square


class CelebA(TorchvisionSet):
    """CelebA's training faces, (N, 3, S, S) float32 in [-1, 1], unlabelled; ``params.held_out``
    (``test`` or ``valid``) is held out. See :class:`~ganfw_plugins.torchvision_sets.base.TorchvisionSet`."""

    files = Files(
        "CelebA",
        "celeba",
        (
            "img_align_celeba",
            "list_eval_partition.txt",
            "identity_CelebA.txt",
            "list_attr_celeba.txt",
            "list_bbox_celeba.txt",
            "list_landmarks_align_celeba.txt",
        ),
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (img_align_celeba.zip unpacked, and the annotation files)",
    )

    def __init__(self, params: CelebAParams, root: str | None = None, limit: int | None = None):
        super().__init__(params, root, limit)
        self.held_split = params.held_out
        crop = f"crop{params.crop}" if params.crop else ""
        self.key = dataset_key("celeba", params.resolution, crop, "" if params.held_out == "test" else params.held_out)

    def _open(self, split: str, download: bool) -> Any:
        return torchvision.datasets.CelebA(str(self.root), split=split, target_type=[], download=download)

    def _targets(self, reader: Any) -> None:
        return None

    def _picture(self, image: Image.Image) -> Tensor:
        return square(image, self.params.resolution, self.params.crop)
