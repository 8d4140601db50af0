"""Plugin ``torchvision_sets``: the datasets GAN papers report on (CIFAR-10, CIFAR-100, STL-10,
CelebA, LSUN), read by torchvision's own dataset classes from torchvision's file layout below the
data root, downloaded by torchvision where it can, squared to a ``resolution`` and scaled to
[-1, 1]. docs/datasets.md lists the files each one needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2

#: LSUN's ten scene categories (torchvision's names).
LSUN_CATEGORIES = Literal[
    "bedroom",
    "bridge",
    "church_outdoor",
    "classroom",
    "conference_room",
    "dining_room",
    "kitchen",
    "living_room",
    "restaurant",
    "tower",
]

_DOWNLOAD = "download the published archive with torchvision when the files are missing"
_RESOLUTION = "side of the square images: the short side is resized to it (bicubic), then centre-cropped"


@dataclass(frozen=True)
class CifarParams:
    """The params of ``cifar10`` and ``cifar100``."""

    resolution: int = param(32, _RESOLUTION + " (32: the images as stored)", min=4)
    download: bool = param(True, _DOWNLOAD)


@dataclass(frozen=True)
class STL10Params:
    split: Literal["unlabeled", "train", "train+unlabeled"] = param(
        "unlabeled",
        "the images trained on: the 100,000 unlabelled ones (as SNGAN), the 5,000 labelled ones (10 classes), or both (unlabelled)",
    )
    resolution: int = param(48, _RESOLUTION + " (96: as stored; 48: SNGAN's)", min=4)
    download: bool = param(True, _DOWNLOAD)


@dataclass(frozen=True)
class CelebAParams:
    resolution: int = param(64, _RESOLUTION, min=4)
    crop: int = param(
        0,
        "side of the centre square cut from each 178x218 aligned face before resizing; 0: the largest (178); 108: DCGAN's",
        min=0,
        max=178,
    )
    held_out: Literal["test", "valid"] = param("test", "the published split evaluation scores against")
    download: bool = param(True, _DOWNLOAD + " (from Google Drive; needs the gdown package)")


@dataclass(frozen=True)
class LSUNParams:
    categories: list[LSUN_CATEGORIES] = param(
        ["bedroom"],
        "the scene categories: <category>_train_lmdb is trained on, <category>_val_lmdb held out; two or more are the classes",
    )
    resolution: int = param(64, _RESOLUTION, min=4)


def _spec(name: str, summary: str, factory: str, params: type) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        kind="dataset",
        summary=summary,
        factory=f"ganfw_plugins.torchvision_sets.{factory}",
        params=params,
    )


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        _spec(
            "cifar10",
            "CIFAR-10, 3x32x32 (or resized): 50,000 to train, the 10,000 test images held out; 10 classes",
            "cifar:CIFAR10",
            CifarParams,
        ),
        _spec(
            "cifar100",
            "CIFAR-100, 3x32x32 (or resized): 50,000 to train, the 10,000 test images held out; 100 classes",
            "cifar:CIFAR100",
            CifarParams,
        ),
        _spec(
            "stl10",
            "STL-10, 3x96x96 resized (48 by default): 100,000 unlabelled and/or 5,000 labelled, the 8,000 test images held out",
            "stl10:STL10",
            STL10Params,
        ),
        _spec(
            "celeba",
            "CelebA aligned faces, centre-cropped and resized (64 by default): 162,770 to train, test or valid held out",
            "celeba:CelebA",
            CelebAParams,
        ),
        _spec(
            "lsun",
            "LSUN scenes (lmdb) by category, resized and centre-cropped (64 by default); each category's val set held out",
            "lsun:LSUN",
            LSUNParams,
        ),
    ]
