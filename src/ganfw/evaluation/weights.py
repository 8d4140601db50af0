"""Finding the weights file of a feature network (Inception, DINOv2) on disk, offline first.

A file is looked for, by its published name, in this order:

1. ``$GANFW_WEIGHTS`` (a directory), where a machine without a network keeps the files;
2. the user cache, ``$XDG_CACHE_HOME/ganfw/weights/`` (else ``~/.cache/ganfw/weights/``);
3. torch hub's checkpoints directory (``$TORCH_HOME/hub/checkpoints/``, else
   ``~/.cache/torch/hub/checkpoints/``), where torch-fidelity and ``torch.hub`` leave the same
   files once they have downloaded them.

When none holds it, the file is downloaded from its published address into the user cache
(step 2), unless ``GANFW_OFFLINE=1`` says there is no network; a download that fails or is
refused ends in one line naming the file, where it comes from and where to put it. The wait
for a network that does not answer is bounded (:data:`TIMEOUT_S`), so an offline machine fails
in seconds rather than hanging.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ganfw.atomic import atomic_path
from ganfw.errors import UserError
from ganfw.paths import user_cache_dir

#: Seconds a download waits for the server to connect or send more data.
TIMEOUT_S = 20


@dataclass(frozen=True)
class WeightsFile:
    """A published weights file: its ``name`` on disk, the ``url`` it is published at, and the
    network it holds (``what``, for messages)."""

    name: str
    url: str
    what: str


def search_dirs() -> list[Path]:
    """Where weights files are looked for, in order (see the module docstring)."""
    import torch.hub

    dirs = [Path(os.environ["GANFW_WEIGHTS"]).expanduser()] if os.environ.get("GANFW_WEIGHTS") else []
    return [*dirs, user_cache_dir() / "weights", Path(torch.hub.get_dir()) / "checkpoints"]


def find_weights(weights: WeightsFile) -> Path:
    """The path of ``weights``: the first of :func:`search_dirs` that holds it, else downloaded
    into the user cache; a :class:`UserError` of one line when it cannot be had."""
    dirs = search_dirs()
    for folder in dirs:
        if (folder / weights.name).is_file():
            return folder / weights.name
    where = " or ".join(str(d) for d in dirs[:-1])
    hint = f"put {weights.name} (from {weights.url}) in {where}"
    if os.environ.get("GANFW_OFFLINE") == "1":
        raise UserError(f"{weights.what} weights are not on this machine (GANFW_OFFLINE=1): {hint}")
    target = user_cache_dir() / "weights" / weights.name
    try:
        download(weights.url, target)
    except OSError as e:  # URLError, a refused connection, a timeout, a disk error
        raise UserError(
            f"{weights.what} weights are not available offline: downloading {weights.name} failed "
            f"({' '.join(str(e).split())}); {hint}"
        ) from None
    return target


def download(url: str, target: Path) -> None:
    """Write what ``url`` serves to ``target`` (atomically: no partial file is ever left there)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, atomic_path(target) as tmp, open(tmp, "wb") as out:
        shutil.copyfileobj(response, out)


def sha256(path: Path) -> str:
    """The SHA-256 of the file ``path`` (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
