"""The ``image-folder`` dataset component: a folder of PNG/JPEG images as square (C, S, S) images.

Each image is decoded with Pillow (JPEGs at a reduced scale when much larger than needed), turned
upright (EXIF orientation), laid on white where transparent, converted to grayscale or RGB, its
short side resized to ``S = image_size`` and its centre cropped to S x S.

Memory: building the dataset lists the files and decodes nothing. The first of ``len()``,
``load()``, ``load_labels()``, ``held_out()`` or ``dataset[i]`` decodes every training file (the
first ``limit``) and every held-out file once, keeping only which ones are readable; unreadable
ones (truncated, not an image) are skipped from then on, with one warning line (logger
``ganfw_plugins.image_folder.dataset``) giving their number and the first three, and one INFO
line per file with Pillow's reason. After that:

- ``load()`` returns all training images at once: N x C x S x S float32 (4 bytes a value:
  12 KiB an image at 3 x 32 x 32, 48 KiB at 3 x 64 x 64), the in-memory path;
- ``dataset[i]`` decodes one image on each access and the dataset holds only its file list
  (about 100 bytes a file), the path by which the engine streams a folder too large for memory;
- ``held_out()`` decodes the held-out images on each call and keeps nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import IO, Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor

from ganfw.plugin import Dataset, Split, UserError, printable
from ganfw_plugins.mnist.idx import to_unit_range

from . import ImageFolderParams
from .files import list_folder, resolve_folder, split

log = logging.getLogger(__name__)

#: (file path, label or -1)
Entry = tuple[str, int]


def decode(path: str | os.PathLike[str] | IO[bytes], size: int, channels: int) -> Tensor:
    """One image file -> (channels, size, size) uint8: upright, alpha over white, grayscale or
    RGB, short side resized to ``size`` (bicubic), centre-cropped. Raises whatever Pillow raises
    for a file it cannot read."""
    with Image.open(path) as opened:
        opened.draft("L" if channels == 1 else "RGB", (size, size))  # JPEG: decode at 1/2..1/8 scale
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("I", "I;16", "I;16B", "I;16L"):  # 16-bit grayscale: keep the top 8 bits
            image = Image.fromarray((np.clip(np.asarray(image, dtype=np.int64), 0, 65535) >> 8).astype(np.uint8))
        if "A" in image.getbands() or "transparency" in image.info:
            rgba = image.convert("RGBA")
            image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        image = ImageOps.fit(image.convert("L" if channels == 1 else "RGB"), (size, size), Image.Resampling.BICUBIC)
        pixels = np.asarray(image, dtype=np.uint8).reshape(size, size, channels)
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous()


class ImageFolder(Dataset):
    """A folder of images, (N, C, S, S) float32 in [-1, 1], labelled by class sub-folder when
    ``params.labels = "auto"`` finds them; a ``params.held_out`` share of each class is the
    held-out split. See the module docstring for what is decoded when.

    Args:
        params: the recipe's ``[data.params]`` (``path``, ``image_size``, ``channels``,
            ``held_out``, ``labels``).
        root: the data root; unused (``params.path`` names the folder).
        limit: keep only the first ``limit`` training files (of the fixed pseudo-random order of
            :func:`~ganfw_plugins.image_folder.files.split`); the held-out split is always whole.
    """

    def __init__(self, params: ImageFolderParams, root: str | None = None, limit: int | None = None):
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")
        self.params = params
        listing = list_folder(resolve_folder(params.path), labelled=params.labels == "auto")
        self.folder = listing.folder
        self.key = listing.key
        self.class_names = listing.class_names
        self.image_shape = (params.channels, params.image_size, params.image_size)
        train, held = split(listing, params.held_out)
        self._candidates = tuple(
            [(str(self.folder / listing.files[i]), listing.labels[i]) for i in part] for part in (train[:limit], held)
        )

    def load(self) -> Tensor:
        """The readable training images, (N, C, S, S) float32 in [-1, 1] on the CPU."""
        return self._decoded(self._train)

    def load_labels(self) -> Tensor | None:
        """The class of each image of :meth:`load`, (N,) int64; ``None`` when unlabelled."""
        return self._labels(self._train)

    def held_out(self) -> Split | None:
        """The readable held-out images and their labels (see :meth:`load`); ``None`` when
        ``params.held_out`` set none aside."""
        held = self._readable[1]
        if not held:
            return None
        return Split(self._decoded(held), self._labels(held))

    def __len__(self) -> int:
        """The number of readable training images."""
        return len(self._train)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        """Training image ``i`` decoded now, (C, S, S) float32 in [-1, 1], and its label (-1
        when unlabelled). Should the file have become unreadable since it was checked, the next
        readable one stands in (with a warning), so that an epoch never stops halfway."""
        entries = self._train
        if not -len(entries) <= i < len(entries):
            raise IndexError(f"image {i} of {len(entries)}")
        for step in range(len(entries)):
            path, label = entries[(i + step) % len(entries)]
            try:
                return to_unit_range(self._decode(path)), label
            except Exception as e:
                log.warning(
                    "image-folder: %s became unreadable (%s); using the next image", printable(path), _reason(e)
                )
        raise UserError(f"none of the {len(entries)} training images in {self.folder} can be read any more")

    @property
    def _train(self) -> list[Entry]:
        return self._readable[0]

    @cached_property
    def _readable(self) -> tuple[list[Entry], list[Entry]]:
        """(training, held-out) entries whose files decode: every candidate decoded once (and
        dropped), the unreadable ones logged: one warning line, one INFO line each."""
        train, held = self._candidates
        problems = dict(zip([path for path, _ in train + held], self._map(self._problem, train + held)))
        bad = {path: why for path, why in problems.items() if why is not None}
        for path, why in bad.items():
            log.info("image-folder: skipped %s: %s", printable(path), why)
        if bad:
            names = [printable(os.path.relpath(path, self.folder)) for path in list(bad)[:3]]
            more = f" and {len(bad) - 3} more (-v lists them)" if len(bad) > 3 else ""
            log.warning(
                "image-folder: skipped %d of %d image files in %s that cannot be read (truncated or not images): %s%s",
                len(bad),
                len(problems),
                printable(str(self.folder)),
                ", ".join(names),
                more,
            )
        readable = ([e for e in train if e[0] not in bad], [e for e in held if e[0] not in bad])
        if not readable[0]:
            raise UserError(
                f"none of the {len(train)} training image files in {self.folder} can be read (truncated or not images)"
            )
        return readable

    def _decode(self, path: str) -> Tensor:
        return decode(path, self.params.image_size, self.params.channels)

    def _decoded(self, entries: list[Entry]) -> Tensor:
        """The entries' images, (M, C, S, S) float32 in [-1, 1]."""
        return to_unit_range(torch.stack(self._map(lambda entry: self._decode(entry[0]), entries)))

    def _problem(self, entry: Entry) -> str | None:
        """Why the entry's file does not decode; ``None`` when it does."""
        try:
            self._decode(entry[0])
        except Exception as e:
            return _reason(e)
        return None

    @staticmethod
    def _map(work: Callable[[Entry], Any], entries: list[Entry]) -> list[Any]:
        """``work`` applied to each entry, in order, on threads (Pillow decodes without the GIL)."""
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            return list(pool.map(work, entries))

    def _labels(self, entries: list[Entry]) -> Tensor | None:
        return torch.tensor([label for _, label in entries], dtype=torch.int64) if self.class_names else None


def _reason(e: BaseException) -> str:
    return printable(" ".join(f"{type(e).__name__}: {e}".split()))  # Pillow's text may quote the path
