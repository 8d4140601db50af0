"""Plugin ``mnist``: the MNIST training split, held in memory."""

from __future__ import annotations

from dataclasses import dataclass

from ganfw import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class MNISTParams:
    download: bool = param(True, "download the four IDX files when they are missing")


@hookimpl
def ganfw_datasets() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="mnist",
            kind="dataset",
            summary="MNIST training digits (60,000, 1x28x28), scaled to [-1, 1]",
            factory="ganfw_plugins.mnist.dataset:MNIST",
            params=MNISTParams,
        )
    ]
