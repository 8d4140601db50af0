"""ganfw: a plugin-based GAN framework for PyTorch.

Plugin authors need only ``from ganfw import ComponentSpec, component_param, hookimpl, param``.
The Python API (:mod:`ganfw.api`: ``load_recipe``, ``train``, ``load_generator``, ``score``...) is
importable from here too, and loaded on first use: importing this package does not import torch.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pluggy

from ganfw.params import component_param, param
from ganfw.plugins import API_VERSION
from ganfw.specs import ComponentSpec

hookimpl = pluggy.HookimplMarker("ganfw")

try:
    __version__ = version("ganfw")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

#: The names of :mod:`ganfw.api` that ``ganfw`` exports, imported when first asked for.
_API = ("LoadedGenerator", "Run", "Samples", "Scores", "TrainingInterrupted", "load_generator", "load_recipe",
        "score", "train")

__all__ = ["API_VERSION", "ComponentSpec", "component_param", "hookimpl", "param", "__version__", *_API]


def __getattr__(name: str) -> Any:
    """``ganfw.train`` and the other names of :data:`_API`, from :mod:`ganfw.api` (which imports
    torch) when first used."""
    if name in _API:
        from ganfw import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganfw' has no attribute {name!r}")
