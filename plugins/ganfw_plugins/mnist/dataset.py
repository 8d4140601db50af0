"""The MNIST dataset component: the handwritten digits, ``<root>/MNIST/raw/`` (torchvision's
layout), each image labelled with its digit; the 10,000 test digits are the held-out split.

Reading, checking, downloading and the error messages are :mod:`ganfw_plugins.mnist.idx`'s,
shared with Fashion-MNIST. The module-level functions read the MNIST files by root, for code that
needs a split without building the component.
"""

from __future__ import annotations

from ganfw.plugin import resolve_data_root

from .idx import IDX_FILES, IdxDataset, IdxSource

__all__ = ["IDX_FILES", "MNIST", "SOURCE", "load_labels", "load_split", "raw_folder", "resolve_root"]

SOURCE = IdxSource("MNIST", "MNIST")

#: ``<root>/MNIST/raw``; one split's images (N, 28, 28) uint8; its digits (N,) int64.
raw_folder = SOURCE.raw_folder
load_split = SOURCE.load_split
load_labels = SOURCE.load_labels

#: The data root and where it came from (``"data.root"``, ``"GANFW_DATA"`` or ``"cache"``): the
#: core's rule, under the name this module has always exported.
resolve_root = resolve_data_root


class MNIST(IdxDataset):
    """The MNIST training digits, (N, 1, 28, 28) float32 in [-1, 1], labelled 0..9 (class ``d``
    is named ``"d"``); see :class:`~ganfw_plugins.mnist.idx.IdxDataset` for the arguments."""

    source = SOURCE
    key = "mnist"
    class_names = tuple(str(digit) for digit in range(10))
