"""Plugin ``augment``: differentiable augmentations of every image the discriminator sees."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2

Policy = Literal["color", "translation", "cutout"]
AdaGroup = Literal["blit", "geometric", "color", "noise", "cutout"]


def check_policy(policy: Sequence[str]) -> None:
    """Refuse an empty policy, or one that names a transform twice."""
    if not policy:
        raise ValueError("policy is empty, which augments nothing (leave out [augment] instead)")
    if len(set(policy)) != len(policy):
        raise ValueError(f"policy names a transform twice: {policy}")


@dataclass(frozen=True)
class DiffAugmentParams:
    policy: list[Policy] = param(["translation", "cutout"], "transforms applied in this order")
    translation: float = param(0.125, "largest shift, as a fraction of the image's height and width", min=0.0, max=1.0)
    cutout: float = param(
        0.5, "side of the zeroed rectangle, as a fraction of the image's height and width", min=0.0, max=1.0
    )

    def __post_init__(self) -> None:
        check_policy(self.policy)


@dataclass(frozen=True)
class AdaParams:
    policy: list[AdaGroup] = param(
        ["blit", "geometric", "color"], "transform groups applied in this order (ADA's default: blit, geometric, color)"
    )
    p: float = param(0.0, "the probability each transform is applied with at the start", min=0.0, max=1.0)
    adaptive: bool = param(True, "adapt p to D's overfitting (false: keep p fixed)")
    target: float = param(
        0.6, "the r_t = E[sign(D(real))] p steers toward: p rises above it, falls below", min=0.0, max=1.0
    )
    interval: int = param(4, "D steps between adjustments of p (r_t is their mean)", min=1)
    speed_kimg: float = param(500.0, "thousands of images in which p can go from 0 to 1", min=0.0, min_exclusive=True)

    def __post_init__(self) -> None:
        check_policy(self.policy)


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
        ComponentSpec(
            name="ada",
            kind="augmentation",
            params=AdaParams,
            summary="ADA: flips, rotations, translations, scaling, colour; p adapts to D's overfitting (Karras et al. 2020)",
            factory="ganfw_plugins.augment.ada:ADA",
        ),
    ]
