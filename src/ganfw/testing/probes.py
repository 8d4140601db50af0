"""Small stand-in networks and a stand-in trainer, for the checks of components that work on
networks (penalties, callbacks) without being networks themselves."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganfw.contracts import Discriminator, Generator, ImageShape, TrainerView, as_image_shape

#: The probe generator's ``latent_dim``.
PROBE_LATENT_DIM = 4


def _built_with_seed_zero(build: Any) -> nn.Module:
    """``build()`` with torch's global generator seeded 0 and then restored: the same probe
    every time, and the caller's random stream untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build()


class ProbeDiscriminator(Discriminator):
    """A small smooth discriminator: flatten, dense to 16, tanh, dense to one logit; labels (when
    ``num_classes``) add a learned per-class offset. Images (N, C, H, W) -> logits (N,). Its input
    gradient has a non-zero gradient with respect to every weight (tanh has curvature), as
    gradient penalties need."""

    def __init__(self, image_shape: ImageShape, num_classes: int = 0):
        super().__init__()
        self.image_shape = as_image_shape(image_shape)
        self.num_classes = num_classes
        self.net = _built_with_seed_zero(
            lambda: nn.Sequential(nn.Flatten(), nn.Linear(math.prod(image_shape), 16), nn.Tanh(), nn.Linear(16, 1))
        )
        self.offset = nn.Parameter(torch.linspace(-1, 1, num_classes)) if num_classes else None

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, C, H, W), labels (N,) | None -> (N,)."""
        logits = self.net(images).squeeze(1)
        return logits if self.offset is None or labels is None else logits + self.offset[labels]


class ProbeGenerator(Generator):
    """Noise (N, 4) -> dense -> tanh -> images (N, C, H, W); labels are ignored."""

    def __init__(self, image_shape: ImageShape):
        super().__init__()
        self.latent_dim = PROBE_LATENT_DIM
        self.image_shape = as_image_shape(image_shape)
        self.net = _built_with_seed_zero(
            lambda: nn.Sequential(
                nn.Linear(PROBE_LATENT_DIM, math.prod(image_shape)), nn.Tanh(), nn.Unflatten(1, image_shape)
            )
        )

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, 4) -> (N, C, H, W) in [-1, 1]."""
        return self.net(z)


class FakeTrainerView(TrainerView):
    """A :class:`ganfw.contracts.TrainerView` over plain networks, with counters the check
    advances as the loop would; ``stops`` collects the reasons of :meth:`request_stop`,
    ``warnings`` the ``(code, message)`` of :meth:`warn`; :meth:`classify` gives the logits of
    a judge of ``num_classes`` classes that sorts images by their mean brightness."""

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        run_dir: Path,
        steps_per_epoch: int = 4,
        epochs: int = 2,
    ):
        self.generator, self.discriminator = generator, discriminator
        self.step, self.epoch = 0, 0
        self.steps_per_epoch, self.total_steps = steps_per_epoch, steps_per_epoch * epochs
        self.device = next(generator.parameters()).device
        self.precision = "fp32"
        self.num_classes = generator.num_classes
        self.class_names = tuple(str(k) for k in range(generator.num_classes))
        self.run_dir, self.is_main = run_dir, True
        self.scores: dict[str, float] = {}
        self.recipe: dict[str, Any] = {"generator": {"name": "probe"}, "discriminator": {"name": "probe"}}
        self.latest_samples: Tensor | None = None
        self.stops: list[Any] = []
        self.warnings: list[tuple[Any, Any]] = []

    def classify(self, images: Tensor) -> Tensor | None:
        k = self.num_classes
        if not k:
            return None
        centres = torch.linspace(-1, 1, k)
        return -(images.float().flatten(1).mean(1, keepdim=True).cpu() - centres).abs()  # (N, K)

    def warn(self, code: str, message: str) -> None:
        self.warnings.append((code, message))

    def request_stop(self, reason: str) -> None:
        self.stops.append(reason)
