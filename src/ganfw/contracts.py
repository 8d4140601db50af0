"""The core's whole vocabulary: what every generator, discriminator, loss, schedule, dataset and
metric promises. Concrete components live in plugins.

Shapes: ``N`` batch, ``C, H, W`` image channels/height/width (MNIST: 1, 28, 28),
``Z`` the generator's ``latent_dim``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from ganfw.version import API_VERSION as API_VERSION  # the version of these contracts

ImageShape = tuple[int, int, int]


def as_image_shape(shape: Any) -> ImageShape:
    """``shape`` (any sequence of three ints: a list from JSON, ``Tensor.shape[1:]``) as ``(C, H, W)``."""
    channels, height, width = (int(n) for n in shape)
    return channels, height, width


class Stateful:
    """State that survives a checkpoint, and numbers for ``metrics.jsonl``.

    Losses, schedules, augmentations and callbacks inherit this; the defaults hold no state and
    log nothing. ``state_dict`` must be JSON-serialisable (tensors belong in a callback's
    :meth:`Callback.modules`).
    """

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state saved in checkpoints."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def log(self) -> dict[str, float]:
        """Named numbers for ``metrics.jsonl`` (read at each log line)."""
        return {}


class Generator(nn.Module, ABC):
    """Maps noise (and, when conditional, class labels) to images.

    Attributes:
        latent_dim: ``Z``, the length of one noise vector.
        image_shape: ``(C, H, W)`` of the images it produces.
        num_classes: ``K`` > 0 for a class-conditional generator (its spec says
            ``conditional=True`` and its factory receives ``num_classes=K``); 0 otherwise.
    """

    latent_dim: int
    image_shape: ImageShape
    num_classes: int = 0

    @abstractmethod
    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """``z``: (N, Z), ``labels``: (N,) int64 in [0, K) when conditional, else ``None``
        -> images (N, C, H, W), values in [-1, 1]."""

    def sample_latent(
        self, n: int, *, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Noise of shape (n, Z), standard normal by default. The engine always calls it with
        both keywords; an override must accept them."""
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def sample_labels(
        self, n: int, *, device: torch.device | str | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Labels for generated images, (n,) int64, uniform over the ``K`` classes by default."""
        return torch.randint(self.num_classes, (n,), device=device, generator=generator)


class Discriminator(nn.Module, ABC):
    """Scores images (and, when conditional, their labels): real high, generated low.

    Attributes:
        image_shape: ``(C, H, W)`` of the images it accepts.
        num_classes: ``K`` > 0 for a class-conditional discriminator (e.g. a projection
            discriminator); 0 otherwise.
    """

    image_shape: ImageShape
    num_classes: int = 0

    @abstractmethod
    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """``images``: (N, C, H, W) in [-1, 1], ``labels``: (N,) int64 when conditional, else
        ``None`` -> logits (N,)."""


#: What D is called as inside the step: ``(images (N, C, H, W), labels (N,) | None) -> logits
#: (N,)`` - the training-mode discriminator (DDP-wrapped and compiled where the recipe says so),
#: with the recipe's augmentation applied to the images first.
DiscriminatorFn = Callable[[Tensor, "Tensor | None"], Tensor]

#: A loss's value: one scalar, or named scalar terms that are summed (and each logged).
LossValue = Tensor | Mapping[str, Tensor]


@dataclass(frozen=True)
class PenaltyInputs:
    """What a penalty sees, on the step of the network it regularises.

    Attributes:
        discriminator: D as the step calls it (see :data:`DiscriminatorFn`).
        generator: G as the step calls it: ``(z, labels | None) -> images``.
        real: (N, C, H, W) real images, no gradient.
        fake: (N, C, H, W) generated images: detached on D's step, attached to G on G's.
        real_labels, fake_labels: (N,) int64, or ``None`` for an unlabelled dataset.
        z: (N, Z) the noise ``fake`` came from.
        generator_module: G itself (not wrapped for DDP or compiled; ``None`` where a caller has
            no module), for penalties that need more of G than its forward: the path-length
            penalty runs a StyleGAN2 generator's ``mapping`` and ``synthesis`` to differentiate its
            images with respect to its intermediate latent w.
        num_classes: the classes of a class-conditional G and D (labels in [0, num_classes)), 0
            for an unconditional pair.
    """

    discriminator: DiscriminatorFn
    generator: Callable[[Tensor, Tensor | None], Tensor]
    real: Tensor
    fake: Tensor
    real_labels: Tensor | None
    fake_labels: Tensor | None
    z: Tensor
    generator_module: Generator | None = None
    num_classes: int = 0


class Penalty(ABC):
    """A regulariser added to one network's loss, computed on every ``every``-th update of that
    network and then multiplied by ``every`` (lazy regularisation, Karras et al. 2020), so that its
    average strength does not depend on the interval.

    Attributes:
        name: logged as ``penalty/<name>`` (its unscaled value).
        player: ``"d"`` or ``"g"``: whose loss it joins.
        every: compute it on the ``u``-th update of that network (counted from 0 over the run,
            checkpointed) when ``u % every == 0``.
        needs_labels: the penalty reads the labels of a class-conditional pair: on an unlabelled
            batch (or ``num_classes`` < 2) it raises ``ValueError`` saying so.
    """

    name: str
    player: Literal["d", "g"]
    every: int = 1
    needs_labels: bool = False

    @abstractmethod
    def __call__(self, inputs: PenaltyInputs) -> Tensor:
        """The penalty, a scalar (before the ``every`` scaling)."""


class Loss(Stateful, ABC):
    """An adversarial objective. Logits are the discriminator's raw outputs, shape (N,).

    Attributes:
        g_needs_real: set by losses whose generator term uses D(real) (relativistic losses): the
            engine then computes real logits on G's step too (with the updated D, no gradient to
            D). Otherwise ``g_loss`` receives ``real_logits=None``.
    """

    g_needs_real: bool = False

    @abstractmethod
    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> LossValue:
        """The discriminator's loss from logits on real (N,) and generated (N,) images."""

    @abstractmethod
    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> LossValue:
        """The generator's loss from D's logits on its images (N,) and, when
        :attr:`g_needs_real`, on the real batch (N,)."""

    def penalties(self) -> list[Penalty]:
        """Regularisers on D and on G (gradient penalty, R1, ...); default none."""
        return []

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """D's statistics on one step, as 0-dim tensors in [0, 1]: ``acc_real``/``acc_fake``, the
        share of real/generated images D gets right, and ``d_real``/``d_fake``, its mean belief that
        they are real. Default: absolute logits (positive = real) through a sigmoid; a loss whose
        logits mean something else (relativistic) overrides it."""
        r, f = real_logits.detach().float(), fake_logits.detach().float()
        return {
            "d_real": torch.sigmoid(r).mean(),
            "d_fake": torch.sigmoid(f).mean(),
            "acc_real": (r > 0).float().mean(),
            "acc_fake": (f < 0).float().mean(),
        }


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
    """What happened on one step (averaged over ranks), as schedules and callbacks see it.

    ``d_real``/``d_fake``/``acc_real``/``acc_fake``: the loss's :meth:`Loss.statistics` on D's
    pass of the step; ``terms``: every named loss term and penalty (``d/<name>``, ``g/<name>``,
    ``penalty/<name>``) computed on the step. D's raw logits on that pass, whatever the loss makes of
    them: ``real_sign``, the mean of ``sign(D(real))`` (ADA's overfitting heuristic r_t, Karras et
    al. 2020), and ``real_logit``/``fake_logit``, the mean logits on real and generated images.
    ``images``: the real images the step trained on, over all ranks (the batch times the number of
    processes): what ADA and an EMA by half-life count in.
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
    terms: dict[str, float] = field(default_factory=dict)
    real_sign: float = 0.0
    real_logit: float = 0.0
    fake_logit: float = 0.0
    images: int = 0


class Schedule(Stateful, ABC):
    """A balancing strategy: asked before each step, told after it."""

    def begin(self, total_steps: int) -> None:
        """Called once per process before its first step (after a resume has loaded the state),
        with the run's length in steps: a schedule that anneals over the run (a cosine n-critic)
        reads it here. Default: nothing."""

    @abstractmethod
    def decide(self, step: int) -> Decision:
        """What to update on ``step`` (0-based, counted over the whole run)."""

    def observe(self, report: StepReport) -> None:
        """Learn from what the step did (default: nothing)."""


class LRSchedule(ABC):
    """A learning-rate schedule: each network's rate on a step is the recipe's ``lr`` times
    :meth:`factor`. A pure function of the step, so it needs no state to resume."""

    @abstractmethod
    def factor(self, step: int, total_steps: int) -> tuple[float, float]:
        """(generator factor, discriminator factor) on ``step`` of ``total_steps``."""


class Augmentation(Stateful, ABC):
    """A differentiable transform of every image D sees, real and generated, on D's and on G's
    steps (DiffAugment, ADA). Randomness must come from torch's global generator (or the
    images' device's), which checkpoints save, so that a resumed run continues bit for bit."""

    @abstractmethod
    def __call__(self, images: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W), differentiable with respect to ``images``."""

    def observe(self, report: StepReport) -> None:
        """Adapt to what D did (ADA's probability); default: nothing."""


@dataclass(frozen=True)
class Batch:
    """One training batch: ``images`` (B, C, H, W) in [-1, 1] and ``labels`` (B,) int64 or
    ``None`` for an unlabelled dataset."""

    images: Tensor
    labels: Tensor | None = None


@dataclass(frozen=True)
class Split:
    """A set of images with their labels: ``images`` (M, C, H, W) float32 in [-1, 1] on the CPU,
    ``labels`` (M,) int64 in [0, K) or ``None`` when unlabelled; ``name`` says what it is in score
    protocols (``"test"``: a published test split; ``"held-out"``: images set aside from training)."""

    images: Tensor
    labels: Tensor | None = None
    name: str = "held-out"


class Dataset(ABC):
    """Training images (and optional class labels), and a held-out split that evaluation
    scores generated images against.

    Small datasets hand over everything at once (:meth:`load`, kept on the training device).
    A dataset that can be large also implements ``__len__`` and ``__getitem__``; the engine then
    streams it through a ``DataLoader`` (workers, pinned memory) when it would not fit in memory,
    and never calls :meth:`load`.

    Attributes:
        image_shape: ``(C, H, W)``.
        class_names: one name per class (``("0", ..., "9")``); empty for an unlabelled dataset.
        key: what the data is (``"mnist"``, ``"fashion-mnist"``, ``"image-folder-1a2b3c4d"``):
            judges are matched to datasets and scores labelled by it; two parameterisations that
            give different images need different keys. Empty: the component's name, followed by
            a short hash of its params when they are not the defaults.
    """

    image_shape: ImageShape
    class_names: tuple[str, ...] = ()
    key: str = ""

    @property
    def num_classes(self) -> int:
        """``K``, the number of classes (0: unlabelled)."""
        return len(self.class_names)

    @abstractmethod
    def load(self) -> Tensor:
        """All training images, (N, C, H, W) float32 in [-1, 1], on the CPU."""

    def load_labels(self) -> Tensor | None:
        """The class of each image of :meth:`load`, (N,) int64 in [0, K); ``None`` when
        unlabelled (the default)."""
        return None

    def held_out(self) -> Split | None:
        """The evaluation split (a test set, or images set aside from training); ``None``: the
        dataset has none, and evaluation refuses it."""
        return None

    @property
    def indexable(self) -> bool:
        """Whether the dataset implements ``__len__`` and ``__getitem__(i) -> (image (C, H, W),
        label or -1)`` and so can be streamed."""
        return callable(getattr(type(self), "__getitem__", None)) and callable(getattr(type(self), "__len__", None))

    def iterate(self, shard: int, shards: int, epoch: int, seed: int) -> Iterator[tuple[Tensor, int]]:
        """For a dataset too large to index (tar shards, a streamed hub dataset): this process's share
        (``shard`` of ``shards``, disjoint) of the training images of ``epoch`` in an order shuffled
        by ``seed``, each as (image (C, H, W) float32 in [-1, 1], label or -1); the same sequence for
        the same arguments, so a resumed run can skip what it has seen. ``__len__`` gives the total
        count (all shards). Implement it only for such datasets (see :attr:`iterable`)."""
        raise NotImplementedError(f"{type(self).__name__} does not stream by iteration")

    @property
    def iterable(self) -> bool:
        """Whether the dataset implements :meth:`iterate` (and ``__len__``)."""
        return type(self).iterate is not Dataset.iterate and callable(getattr(type(self), "__len__", None))


class TrainerView(ABC):
    """What a callback may read of the run (and the one thing it may ask for: a stop).

    Attributes (read-only):
        step: steps completed so far (over resumes); ``epoch``: epochs completed.
        steps_per_epoch, total_steps: the run's length in steps.
        generator, discriminator: the plain modules (not DDP-wrapped or compiled).
        device: where they live; ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"``.
        num_classes: ``K`` of the dataset (0: unlabelled); ``class_names``.
        run_dir: the run directory (``None`` on ranks other than 0, which write nothing).
        is_main: this is rank 0 (or the only process).
        scores: the latest evaluation's scores (``{"fid": ...}``), empty before the first.
        recipe: the resolved recipe as a table (what ``recipe.toml`` holds).
        latest_samples: (S, C, H, W) images in [-1, 1], the latest epoch grid (drawn from the
            fixed noise by the sampling generator); ``None`` before this process drew one.
    """

    step: int
    epoch: int
    steps_per_epoch: int
    total_steps: int
    generator: Generator
    discriminator: Discriminator
    device: torch.device
    precision: str
    num_classes: int
    class_names: tuple[str, ...]
    run_dir: Any
    is_main: bool
    scores: dict[str, float]
    recipe: dict[str, Any]
    latest_samples: Tensor | None

    @abstractmethod
    def classify(self, images: Tensor) -> Tensor | None:
        """The class logits (N, K), float32 on the CPU, that the dataset's judge (the classifier
        evaluation sees through) gives ``images`` (N, C, H, W) in [-1, 1]; ``None`` when the
        dataset has no judge."""

    @abstractmethod
    def warn(self, code: str, message: str) -> None:
        """Report a training-health problem: ``code`` names it (``"d-winning"``), ``message``
        says what was seen and what to try. It is shown on the progress line, written to
        ``metrics.jsonl`` as a ``warning`` record (with the callback's name as ``source``) and
        listed in the run report. Training goes on."""

    @abstractmethod
    def request_stop(self, reason: str) -> None:
        """End training after the current step or epoch: a checkpoint is written, ``reason`` is
        printed and logged, and the run counts as finished (not interrupted)."""


class Callback(Stateful):
    """Code that runs at the loop's boundaries; every hook's default does nothing.

    Called in recipe order, on every rank (write files only where ``view.is_main``). Between
    calls the networks are in train mode; a callback that evaluates must restore the mode and
    draw randomness only inside ``torch.random.fork_rng`` (exact resume depends on it).
    """

    def on_run_start(self, view: TrainerView) -> None:
        """Before the first step of this process (also after a resume: state already loaded)."""

    def on_step_end(self, view: TrainerView, report: StepReport) -> None:
        """After each step's optimiser updates (``view.step`` already counts it)."""

    def on_epoch_end(self, view: TrainerView) -> None:
        """After each epoch's checkpoint and the built-in outputs (grid, evaluation)."""

    def on_evaluation(self, view: TrainerView, scores: dict[str, float]) -> None:
        """After each ``[eval]`` evaluation, with its scores."""

    def on_log(self, view: TrainerView, record: dict[str, Any]) -> None:
        """After each record is written to ``metrics.jsonl`` (on rank 0 only, which alone writes
        it): the ``start`` event, a log window of step means (no ``event`` key), or an ``epoch``,
        ``eval``, ``warning`` or ``stop`` event (their keys: docs/architecture.md)."""

    def on_run_end(self, view: TrainerView) -> None:
        """When training ends (finished, stopped or interrupted), before the process exits."""

    def modules(self) -> dict[str, nn.Module]:
        """Modules this callback owns (an EMA copy of G): their state is saved in checkpoints
        and restored on resume. Build them in :meth:`setup`, which runs before a resume loads
        them."""
        return {}

    def setup(self, view: TrainerView) -> None:
        """Build owned modules from the freshly built networks (before a resume loads state)."""

    def sampling_generator(self) -> Generator | None:
        """A generator with G's architecture to use for grids, evaluation and ``ganfw sample``
        instead of G (an EMA of G's weights); ``None``: use G."""
        return None


@dataclass(frozen=True)
class Embedding:
    """A set of images as the judge (a classifier of the dataset's classes) sees them.

    Attributes:
        features: (N, D) float32, a feature space: the judge's penultimate layer, or Inception's
            pool3 (D = 2048) when asked for.
        logits: (N, K) float32, the judge's class logits (K = 10 digits for MNIST).
        labels: (N,) int64, the class each generated image was asked to be (a conditional
            generator's labels); ``None`` for unconditional samples and for real images.
        images: (N, C, H, W) float32 in [-1, 1], the images themselves, given when a metric of
            the evaluation says :attr:`Metric.needs_images`; else ``None``.
    """

    features: Tensor
    logits: Tensor
    labels: Tensor | None = None
    images: Tensor | None = None

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

    Attributes:
        needs_labels: the metric reads ``generated.labels`` (the classes a conditional generator
            was asked for); it is refused for an unconditional generator before training starts.
        needs_judge: the metric reads the judge's class ``logits``; it is left out where the
            dataset has no judge.
        needs_images: the metric reads ``images`` (pixel-space metrics); the evaluation then
            passes them in both embeddings.
        needs_classes: the metric reads ``logits`` as the dataset's classes (class coverage,
            conditional accuracy); it is refused where the logits are Inception's (the paper
            protocol's).

    Randomness (subsets, shuffles) must come from torch's global generator, which the caller
    seeds (and restores afterwards), so that a result depends only on its inputs and the seed.
    """

    needs_labels: bool = False
    needs_judge: bool = False
    needs_images: bool = False
    needs_classes: bool = False

    @abstractmethod
    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        """Score ``generated`` (N images) against ``reference`` (M images)."""
