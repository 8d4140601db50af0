"""Plugin ``augment``: differentiable augmentations of every image the discriminator sees."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2

Policy = Literal["color", "translation", "cutout"]


@dataclass(frozen=True)
class DiffAugmentParams:
    policy: list[Policy] = param(["translation", "cutout"], "transforms applied in this order")
    translation: float = param(0.125, "largest shift, as a fraction of the image's height and width", min=0.0, max=1.0)
    cutout: float = param(
        0.5, "side of the zeroed rectangle, as a fraction of the image's height and width", min=0.0, max=1.0
    )

    def __post_init__(self) -> None:
        if not self.policy:
            raise ValueError("policy is empty, which augments nothing (leave out [augment] instead)")
        if len(set(self.policy)) != len(self.policy):
            raise ValueError(f"policy names a transform twice: {self.policy}")


@hookimpl
def ganfw_augmentations() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="diffaugment",
            kind="augmentation",
            params=DiffAugmentParams,
            summary="DiffAugment: random colour, translation and cutout, differentiable (Zhao et al. 2020)",
            factory="ganfw_plugins.augment.diffaugment:DiffAugment",
        ),
    ]
