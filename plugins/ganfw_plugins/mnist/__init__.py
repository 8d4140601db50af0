"""Plugin ``mnist``: the MNIST training split, held in memory, with the test split held out."""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class MNISTParams:
    """The params of the MNIST-format datasets (``mnist``, ``fashion-mnist``)."""

    download: bool = param(True, "download the four IDX files when they are missing")


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="mnist",
            kind="dataset",
            summary="MNIST digits, 1x28x28 in [-1, 1]: 60,000 to train, the 10,000 test digits held out; 10 classes",
            factory="ganfw_plugins.mnist.dataset:MNIST",
            params=MNISTParams,
        )
    ]
