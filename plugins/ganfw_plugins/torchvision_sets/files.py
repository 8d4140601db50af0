"""Where a torchvision dataset's files live below the data root, and opening torchvision's class
on them with every failure (missing files, a failed download, files that fail torchvision's
checksums) said in one line that names the folder and the files to put there."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganfw.plugin import UserError
from ganfw_plugins.mnist.idx import _first_missing, _one_line

_HINT = "or set data.root / GANFW_DATA"


@dataclass(frozen=True)
class Files:
    """The files of one dataset, as torchvision lays them out.

    Attributes:
        title: the dataset's name in messages (``"CIFAR-10"``).
        folder: the folder below the data root that holds them (``"cifar-10-batches-py"``).
        names: the files (or folders) torchvision needs there.
        origin: where they come from, for the message when they are missing.
    """

    title: str
    folder: str
    names: tuple[str, ...]
    origin: str

    def missing(self, root: Path) -> list[str]:
        """Which of :attr:`names` are not in ``root/folder``."""
        return [name for name in self.names if not (root / self.folder / name).exists()]

    def open(self, root: Path, make: Callable[[bool], Any], download: bool, source: str) -> Any:
        """``make(download)``: torchvision's dataset built on ``root``, downloading the files first
        when ``download`` and some are missing (what a failed download created is removed).

        ``source`` says how ``root`` was chosen (``"data.root"``, ``"GANFW_DATA"``, ``"cache"``).
        Raises a :class:`UserError` when files are missing and cannot be had, or torchvision
        refuses them (its MD5 checks).
        """
        missing = self.missing(root)
        if missing and not download:
            raise self._not_found(root, source, missing, "data.params.download = false")
        created = _first_missing(root / self.folder)
        try:
            return make(download and bool(missing))
        except Exception as e:  # a failed download, or torchvision refusing a file
            still_missing = self.missing(root)
            if still_missing:
                if created is not None:
                    shutil.rmtree(created, ignore_errors=True)
                raise self._not_found(root, source, still_missing, f"download failed: {_one_line(e)}") from None
            raise UserError(
                f"cannot read {self.title} from {root / self.folder}: {_one_line(e)} (torchvision checks each file's "
                "published MD5 sum: delete the files that are not the published ones and download them again)"
            ) from None

    def _not_found(self, root: Path, source: str, missing: list[str], why: str) -> UserError:
        partial = f"; missing: {', '.join(missing)}" if len(missing) < len(self.names) else ""
        return UserError(
            f"{self.title} not found in {root / self.folder} (root from {source}; {why}): put "
            f"{', '.join(self.names)} there, from {self.origin} ({_HINT}){partial}"
        )
