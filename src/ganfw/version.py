"""ganfw's versions, defined once (torch-free): the release and the plugin API.

``__version__`` is the installed distribution's version; ``API_VERSION`` is the major version of
the plugin contracts (:mod:`ganfw.contracts`) that a plugin module declares as ``GANFW_API``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ganfw")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

#: The plugin API (contract) major version; a plugin module declares ``GANFW_API = 2``.
API_VERSION = 2
