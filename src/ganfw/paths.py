"""Where ganfw keeps files of its own outside a run directory. This module must not import torch."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ganfw``, else ``~/.cache/ganfw`` (absolute): downloaded data, reference
    features, the precision probe's measurements."""
    return (Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "ganfw").absolute()


def resolve_data_root(root: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The data root a dataset is built with (absolute; a relative one is taken from the working
    directory) and where it came from: the recipe's ``data.root`` (``"data.root"``), else the
    ``GANFW_DATA`` environment variable, else ``user_cache_dir()/data`` (``"cache"``)."""
    if root is not None and str(root) != "":
        return Path(root).expanduser().absolute(), "data.root"
    env = os.environ.get("GANFW_DATA")
    if env:
        return Path(env).expanduser().absolute(), "GANFW_DATA"
    return user_cache_dir() / "data", "cache"
