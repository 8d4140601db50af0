"""The Fashion-MNIST dataset component: ``<root>/FashionMNIST/raw/`` (torchvision's layout), the
same four IDX files as MNIST, read, checked and downloaded by :mod:`ganfw_plugins.mnist.idx`."""

from __future__ import annotations

from ganfw_plugins.mnist.idx import IdxDataset, IdxSource

SOURCE = IdxSource("Fashion-MNIST", "FashionMNIST")


class FashionMNIST(IdxDataset):
    """The Fashion-MNIST training images, (N, 1, 28, 28) float32 in [-1, 1], labelled 0..9 by
    kind of clothing (:attr:`class_names`, torchvision's order); see
    :class:`~ganfw_plugins.mnist.idx.IdxDataset` for the arguments."""

    source = SOURCE
    key = "fashion-mnist"
    class_names = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
