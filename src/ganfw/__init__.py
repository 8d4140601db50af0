"""ganfw: a plugin-based GAN framework for PyTorch.

Plugin authors import what they use from :mod:`ganfw.plugin` (the whole plugin surface; the
specs, params and ``hookimpl`` are also here). The Python API (:mod:`ganfw.api`: ``load_recipe``,
``train``, ``load_generator``, ``score``...) is importable from here too, and loaded on first use:
importing this package does not import torch.
"""

from typing import Any

from ganfw.hookspecs import hookimpl
from ganfw.params import component_param, param
from ganfw.specs import ComponentSpec
from ganfw.version import API_VERSION, __version__

#: The names of :mod:`ganfw.api` that ``ganfw`` exports, imported when first asked for.
_API = (
    "LoadedGenerator",
    "Run",
    "Samples",
    "Scores",
    "TrainingInterrupted",
    "load_generator",
    "load_recipe",
    "score",
    "train",
)

__all__ = ["API_VERSION", "ComponentSpec", "component_param", "hookimpl", "param", "__version__", *_API]


def __getattr__(name: str) -> Any:
    """``ganfw.train`` and the other names of :data:`_API`, from :mod:`ganfw.api` (which imports
    torch) when first used."""
    if name in _API:
        from ganfw import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganfw' has no attribute {name!r}")
