"""Plugin ``image_folder``: a folder of your own PNG/JPEG images, resized and centre-cropped to
a square, grayscale or RGB, with class sub-folders as labels and a share held out for
evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class ImageFolderParams:
    path: str = param("", "the folder of PNG/JPEG images, searched recursively (relative: to the working directory)")
    image_size: int = param(
        32, "side of the square images: the short side is resized to it, then centre-cropped", min=1
    )
    channels: Literal[1, 3] = param(3, "1: grayscale, 3: RGB")
    held_out: float = param(0.1, "share of each class set aside (deterministically) for evaluation", min=0.0, max=0.9)
    labels: Literal["auto", "none"] = param(
        "auto",
        "auto: first-level sub-folders are the classes when every image is in one (two or more); none: unlabelled",
    )


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="image-folder",
            kind="dataset",
            summary="your own PNG/JPEG images (a folder), square, grayscale or RGB; class sub-folders as labels",
            factory="ganfw_plugins.image_folder.dataset:ImageFolder",
            params=ImageFolderParams,
        )
    ]
