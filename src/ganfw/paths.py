"""Where ganfw keeps files of its own outside a run directory. This module must not import torch."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ganfw``, else ``~/.cache/ganfw`` (absolute): downloaded data, reference
    features, the precision probe's measurements."""
    return (Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "ganfw").absolute()
