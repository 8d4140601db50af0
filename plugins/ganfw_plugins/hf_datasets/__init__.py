"""Plugin ``hf_datasets``: a Hugging Face ``datasets`` dataset (saved on disk, or by name from
the Hub or its local cache), its image column squared to a ``resolution``, an optional
ClassLabel column as the classes, a split held out, read whole or streamed. Needs the ``hf``
extra (``pip install 'ganfw[hf]'``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class HFDatasetParams:
    path: str = param(
        "", "a dataset saved with save_to_disk: its folder (relative: to the working directory); or give name"
    )
    name: str = param(
        "",
        "a dataset as datasets.load_dataset takes it: a Hub id (read from the local cache when it is there; "
        "HF_HUB_OFFLINE=1: only from it) or a folder of data files",
    )
    config: str = param("", "the configuration of a dataset by name, when it has several")
    split: str = param("train", "the split trained on")
    held_out: str = param("test", "the split evaluation scores against; empty: none")
    image_column: str = param("image", "the column of images (an Image feature, encoded bytes or file paths)")
    label_column: str = param(
        "", "the column of classes, a ClassLabel feature (its names name the classes); empty: unlabelled"
    )
    resolution: int = param(
        32, "side of the square images: the short side is resized to it (bicubic), then centre-cropped", min=1
    )
    channels: Literal[1, 3] = param(3, "1: grayscale, 3: RGB")
    streaming: bool = param(
        False,
        "stream the splits (an IterableDataset, shuffled in a buffer) instead of reading their Arrow files by index",
    )
    size: int = param(
        0,
        "streaming: how many images the training split holds, where the dataset's info does not say (0: from it)",
        min=0,
    )
    shuffle_buffer: int = param(1000, "streaming: how many images the shuffle buffer holds", min=1)


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="hf-dataset",
            kind="dataset",
            summary="a Hugging Face dataset (on disk, or by name), squared, grayscale or RGB; a ClassLabel column as labels; streamable",
            factory="ganfw_plugins.hf_datasets.dataset:hf_dataset",
            params=HFDatasetParams,
        )
    ]
