"""Plugin ``webdataset_shards``: images in WebDataset tar shards (data larger than memory),
streamed: the shards divided between ranks and DataLoader workers, shuffled per epoch by the
seed. Needs the ``webdataset`` extra (``pip install 'ganfw[webdataset]'``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class WebDatasetParams:
    urls: list[str] = param(
        [],
        "the training shards: tar files, brace patterns (shards/train-{000000..000099}.tar) or what webdataset "
        "opens (http://..., pipe:...); relative paths: from the working directory",
    )
    held_out: list[str] = param([], "the held-out split's shards (the same forms); empty: none")
    image_keys: list[str] = param(
        ["png", "jpg", "jpeg", "webp"], "the extensions a sample's image may have, the first one present is used"
    )
    label_key: str = param("", "the extension of a sample's class, its index as text (cls); empty: unlabelled")
    class_names: list[str] = param([], "the names of classes 0..K-1, in order (with label_key)")
    size: int = param(0, "how many images the training shards hold (0: counted once, and cached)", min=0)
    resolution: int = param(
        32, "side of the square images: the short side is resized to it (bicubic), then centre-cropped", min=1
    )
    channels: Literal[1, 3] = param(3, "1: grayscale, 3: RGB")
    shuffle_buffer: int = param(1000, "how many images the shuffle buffer holds (1: the shards' order)", min=1)


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="webdataset",
            kind="dataset",
            summary="images in WebDataset tar shards, streamed per rank and worker and shuffled per epoch; a cls key as labels",
            factory="ganfw_plugins.webdataset_shards.dataset:WebDataset",
            params=WebDatasetParams,
        )
    ]
