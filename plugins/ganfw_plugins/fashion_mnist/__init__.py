"""Plugin ``fashion_mnist``: Zalando's Fashion-MNIST (MNIST's format and size, ten kinds of
clothing), the training split in memory, the test split held out."""

from __future__ import annotations

from ganfw.plugin import ComponentSpec, hookimpl
from ganfw_plugins.mnist import MNISTParams

GANFW_API = 2


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="fashion-mnist",
            kind="dataset",
            summary="Fashion-MNIST clothes, 1x28x28 in [-1, 1]: 60,000 to train, the 10,000 test images held out; 10 classes",
            factory="ganfw_plugins.fashion_mnist.dataset:FashionMNIST",
            params=MNISTParams,
        )
    ]
