"""The core's whole vocabulary: what every generator, discriminator, loss, schedule, dataset and
metric promises. Concrete components live in plugins.

Shapes: ``N`` batch, ``C, H, W`` image channels/height/width (MNIST: 1, 28, 28),
``Z`` the generator's ``latent_dim``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

ImageShape = tuple[int, int, int]


class Generator(nn.Module, ABC):
    """Maps noise to images.

    Attributes:
        latent_dim: ``Z``, the length of one noise vector.
        image_shape: ``(C, H, W)`` of the images it produces.
    """

    latent_dim: int
    image_shape: ImageShape

    @abstractmethod
    def forward(self, z: Tensor) -> Tensor:
        """``z``: (N, Z) -> images (N, C, H, W), values in [-1, 1]."""

    def sample_latent(
        self, n: int, *, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Standard normal noise of shape (n, Z)."""
        return torch.randn(n, self.latent_dim, device=device, generator=generator)


class Discriminator(nn.Module, ABC):
    """Scores images as real (positive logit) or generated (negative logit).

    Attributes:
        image_shape: ``(C, H, W)`` of the images it accepts.
    """

    image_shape: ImageShape

    @abstractmethod
    def forward(self, images: Tensor) -> Tensor:
        """``images``: (N, C, H, W) in [-1, 1] -> logits (N,)."""


class Loss(ABC):
    """An adversarial objective. Logits are the discriminator's raw outputs, shape (N,)."""

    #: Set by losses whose :meth:`regularizer` adds a term (the engine then computes it).
    has_regularizer: bool = False

    @abstractmethod
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The discriminator's loss (scalar) from logits on real (N,) and generated (M,) images."""

    @abstractmethod
    def g_loss(self, fake_logits: Tensor) -> Tensor:
        """The generator's loss (scalar) from the discriminator's logits on its images (M,)."""

    def regularizer(self, discriminator: Discriminator, real: Tensor, fake: Tensor) -> Tensor:
        """An extra discriminator term (scalar), e.g. a gradient penalty; ``real``, ``fake``:
        (N, C, H, W). Only called when :attr:`has_regularizer` is true."""
        raise NotImplementedError


@dataclass(frozen=True)
class Decision:
    """What to update on one step.

    Attributes:
        train_d: step the discriminator.
        train_g: step the generator.
        joint: both networks step on gradients from one forward pass, i.e. from the same state
            (the course's "simultaneous" update); otherwise D steps first and G's loss uses the
            updated D.
    """

    train_d: bool
    train_g: bool
    joint: bool = False


@dataclass(frozen=True)
class StepReport:
    """What happened on one step, as a schedule sees it.

    ``acc_real``/``acc_fake``: the share of real images with a positive logit and of generated
    images with a negative one; ``d_real``/``d_fake``: mean sigmoid of the logits.
    """

    step: int
    d_loss: float
    g_loss: float
    d_real: float
    d_fake: float
    acc_real: float
    acc_fake: float
    trained_d: bool
    trained_g: bool


class Schedule(ABC):
    """A balancing strategy: asked before each step, told after it."""

    @abstractmethod
    def decide(self, step: int) -> Decision:
        """What to update on ``step`` (0-based, counted over the whole run)."""

    def observe(self, report: StepReport) -> None:
        """Learn from what the step did (default: nothing)."""

    def log(self) -> dict[str, float]:
        """Extra numbers for metrics.jsonl (e.g. counts of skipped updates)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state saved in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


class Dataset(ABC):
    """Training images, small enough to hold in memory.

    Attributes:
        image_shape: ``(C, H, W)``.
    """

    image_shape: ImageShape

    @abstractmethod
    def load(self) -> Tensor:
        """All training images, (N, C, H, W) float32 in [-1, 1], on the CPU."""


@dataclass(frozen=True)
class Embedding:
    """A set of images as the judge (a classifier of the dataset's classes) sees them.

    Attributes:
        features: (N, D) float32, a feature space: the judge's penultimate layer, or Inception's
            pool3 (D = 2048) when asked for.
        logits: (N, K) float32, the judge's class logits (K = 10 digits for MNIST).
    """

    features: Tensor
    logits: Tensor

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.logits.ndim != 2 or len(self.features) != len(self.logits):
            raise ValueError(
                f"expected features (N, D) and logits (N, K), got {tuple(self.features.shape)} and {tuple(self.logits.shape)}"
            )


@dataclass(frozen=True)
class MetricResult:
    """What a metric found.

    Attributes:
        scores: flat numbers by key (``{"fid": 12.3}``); training logs them as ``eval/<key>``.
        details: JSON-ready extras for people (``{"missing_digits": [3, 7]}``); shown by
            ``ganfw evaluate``, not logged.
    """

    scores: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


class Metric(ABC):
    """A sample-quality measure: generated images against a reference set of real ones, both
    seen through the judge (features computed once and shared by every metric).

    Randomness (subsets, shuffles) must come from torch's global generator, which the caller
    seeds (and restores afterwards), so that a result depends only on its inputs and the seed.
    """

    @abstractmethod
    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        """Score ``generated`` (N images) against ``reference`` (M images)."""
