"""ganfw: a plugin-based GAN framework for PyTorch.

Plugin authors need only ``from ganfw import ComponentSpec, component_param, hookimpl, param``.
Importing this package does not import torch.
"""

from importlib.metadata import PackageNotFoundError, version

import pluggy

from ganfw.params import component_param, param
from ganfw.plugins import API_VERSION
from ganfw.specs import ComponentSpec

hookimpl = pluggy.HookimplMarker("ganfw")

try:
    __version__ = version("ganfw")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["API_VERSION", "ComponentSpec", "component_param", "hookimpl", "param", "__version__"]
