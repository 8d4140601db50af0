"""ADA, the adaptive discriminator augmentation of Karras et al. 2020, "Training generative
adversarial networks with limited data" (NVlabs/stylegan2-ada-pytorch, commit d72cc7d: the
adjustment in training/training_loop.py, the pipeline in training/augment.py).

Every image D sees, real and generated, goes through the transforms of :mod:`.ada_transforms`,
each applied with probability ``p``. D overfitting shows as confidence on the real images:
``r_t = E[sign(D(x_real))]`` (:attr:`ganfw.plugin.StepReport.real_sign`) near 1. Every
``interval`` D steps, ``p`` moves by ``sign(r_t - target) * images / (speed_kimg * 1000)`` for the
``images`` those steps trained on (``StepReport.images``, all ranks), clamped to [0, 1]: it can go
from 0 to 1 in ``speed_kimg`` thousand images, whatever the batch size.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ganfw.plugin import Augmentation, StepReport
from ganfw_plugins.augment import AdaParams
from ganfw_plugins.augment.ada_transforms import TRANSFORMS


class ADA(Augmentation):
    """The transforms of ``params.policy`` at probability :attr:`p`, which adapts to ``r_t``.

    State (checkpointed): ``p``, the last measured ``r_t`` (``rt``), and the sum and count of
    ``real_sign`` and the images over the D steps of the current interval. ``log()``: ``p`` and ``rt``.
    """

    def __init__(self, params: AdaParams):
        self.transforms = [TRANSFORMS[name] for name in params.policy]
        self.adaptive, self.target, self.interval = params.adaptive, params.target, params.interval
        self.images_to_one = params.speed_kimg * 1000.0
        self.p, self.rt = params.p, 0.0
        self.signs, self.count, self.images = 0.0, 0, 0

    def __call__(self, images: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W); the images themselves while ``p`` is 0."""
        if images.dim() != 4:
            raise ValueError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
        if self.p == 0.0:
            return images
        for transform in self.transforms:
            images = transform(images, self.p)
        return images

    def observe(self, report: StepReport) -> None:
        """Add a D step's ``real_sign``; after ``interval`` of them, move ``p`` toward the target."""
        if not (self.adaptive and report.trained_d):
            return
        self.signs += report.real_sign
        self.count += 1
        self.images += report.images
        if self.count == self.interval:
            self.rt = self.signs / self.count
            direction = (self.rt > self.target) - (self.rt < self.target)
            self.p = min(max(self.p + direction * self.images / self.images_to_one, 0.0), 1.0)
            self.signs, self.count, self.images = 0.0, 0, 0

    def log(self) -> dict[str, float]:
        return {"p": self.p, "rt": self.rt}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p, "rt": self.rt, "signs": self.signs, "count": self.count, "images": self.images}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p, self.rt = float(state["p"]), float(state["rt"])
        self.signs, self.count, self.images = float(state["signs"]), int(state["count"]), int(state["images"])
