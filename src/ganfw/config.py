"""The recipe's own settings (everything that is not a component's params), as declared params.

These dataclasses are the schema of the ``[optim.*]``, ``[train]``, ``[output]`` and ``[eval]``
sections; ``ganfw list``-style docs and validation come from the same declarations.
This module must not import torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ganfw.params import ParamError, param

#: A training budget: hours, minutes and seconds, each optional, in that order (``1h30m``, ``90s``).
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")


def budget_seconds(text: str) -> float | None:
    """``train.budget`` in seconds (``None`` for ``""``); raises ``ValueError`` for text that is
    not a positive duration such as ``90s``, ``10m`` or ``1h30m``."""
    if not text:
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration such as 90s, 10m or 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"{text!r} is no time at all")
    return total


@dataclass(frozen=True)
class OptimizerConfig:
    """Adam settings of one network (``[optim.generator]``, ``[optim.discriminator]``), in the
    ranges ``torch.optim.Adam`` accepts (``ganfw check`` refuses what a run would)."""

    lr: float = param(2e-4, "learning rate", min=0.0, min_exclusive=True)
    betas: list[float] = param([0.5, 0.999], "Adam (beta1, beta2), each below 1", min=0.0, max=1.0, length=2)
    eps: float = param(1e-8, "Adam epsilon", min=0.0, min_exclusive=True)
    weight_decay: float = param(0.0, "L2 weight decay", min=0.0)

    def __post_init__(self) -> None:
        for i, beta in enumerate(self.betas):
            if beta >= 1.0:  # param's max is inclusive; Adam's is not
                raise ParamError(f"betas[{i}]", f"{beta!r} is out of range (Adam takes 0 <= beta < 1)")


@dataclass(frozen=True)
class TrainConfig:
    """``[train]``: how long and where to train."""

    epochs: int = param(20, "passes over the dataset", min=1)
    batch_size: int = param(256, "real images per step (and as many generated ones)", min=1)
    drop_last: bool = param(False, "skip each epoch's last, partial batch")
    seed: int = param(0, "seed of weights, noise and shuffling", min=0, max=2**62)
    device: str = param("auto", "auto | cpu | cuda | cuda:N | mps (auto: cuda, then mps, then cpu)")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = param(
        "auto",
        "autocast precision of the forward passes (auto: bf16 where the device runs it natively, "
        "fp16 on CUDA devices without bf16, else fp32)",
    )
    channels_last: bool = param(False, "keep images and conv weights channels-last (faster convs on some hardware)")
    fused_d_pass: bool = param(
        False, "one discriminator pass over real and generated images together (not for a D with batch norm)"
    )
    compile: bool = param(False, "torch.compile the generator and discriminator (pays off on long runs)")
    fast_dropout: bool = param(
        True, "on the CPU, draw dropout masks from uniform noise (same distribution, about 2.5x faster than nn.Dropout)"
    )
    sync_batchnorm: bool = param(False, "under torchrun: batch-norm statistics over all ranks (SyncBatchNorm, CUDA)")
    budget: str = param(
        "",
        "stop after this much training time, e.g. 90s, 10m, 1h30m: the learning rates anneal to the deadline "
        "instead of to train.epochs, the last (partial) epoch is evaluated and the best checkpoint kept ('': none)",
    )
    dist_timeout: float = param(
        300.0, "under torchrun: seconds a rank waits for the others before failing", min=1.0, max=604800.0
    )
    accumulate: int = param(
        1,
        "split each step's batch into this many micro-batches whose gradients add up to one update (less memory; "
        "batch norm, minibatch statistics and batch-averaged losses see each micro-batch)",
        min=1,
        max=1024,
    )


@dataclass(frozen=True)
class OutputConfig:
    """``[output]``: what the run directory receives and how often."""

    dir: str = param("runs", "parent of new run directories (relative to the working directory)")
    samples: int = param(16, "fixed noise vectors drawn as the per-epoch grid (a square number)", min=1, max=10000)
    gif: bool = param(True, "assemble training.gif from the per-epoch grids")
    log_every: int = param(10, "write a metrics.jsonl line every N steps", min=1)
    checkpoint_every: int = param(0, "also checkpoint every N steps (0: at the end of each epoch only)", min=0)
    keep_checkpoints: int = param(2, "how many of the newest checkpoints to keep", min=1)
    health: bool = param(
        True, "watch for the classic failures (D winning, a collapsing G, divergence) and warn (the health callback)"
    )
    tensorboard: bool = param(
        False,
        "write TensorBoard event files to <run>/tensorboard (the tensorboard "
        'callback; needs pip install "ganfw[tensorboard]")',
    )
    report: bool = param(
        True,
        "keep <run>/report.html, a self-contained page of the run, up to date after each "
        "epoch (the report callback; also: ganfw report RUN)",
    )
    keep_best: str = param(
        "",
        "an [eval] score to keep the best checkpoint by, in <run>/checkpoints/best.safetensors (fid, kid, swd: "
        "lower is better; any other: higher); ganfw sample/evaluate RUN --best use it ('': none)",
    )


@dataclass(frozen=True)
class EvalConfig:
    """``[eval]``: sample-quality metrics during training."""

    every: int = param(1, "evaluate every N epochs (0: never during training)", min=0)
    n: int = param(
        1000, "generated samples per evaluation (FID reads higher at 1,000 than at 10,000: docs/metrics.md)", min=10
    )
    metrics: list[str] = param(["fid"], "metric components to compute (ganfw list --kind metric)")
    features: Literal["auto", "judge", "inception", "dinov2"] = param(
        "auto",
        "feature space of the scores: auto (the dataset's judge when it has one, else inception), judge, inception "
        "or dinov2 (docs/metrics.md)",
    )

    def due(self, epoch: int) -> bool:
        """Whether training evaluates after ``epoch`` (1-based)."""
        return bool(self.every and self.metrics and epoch % self.every == 0)


#: The keys allowed in the table of a component section, besides ``name`` and ``params``.
DATA_KEYS = {
    "root": "directory holding the dataset files (default: GANFW_DATA, then a user cache directory)",
    "limit": "use only the first N training images (smoke runs)",
    "stream": "auto | always | never: read images through DataLoader workers instead of holding them "
    "on the device (auto: when they would take more than 2 GiB)",
}

#: Settings sections: recipe key -> schema.
SETTINGS: dict[str, type] = {
    "train": TrainConfig,
    "output": OutputConfig,
    "eval": EvalConfig,
}

#: Optimiser sub-tables.
OPTIMIZERS = ("generator", "discriminator")

#: Component sections: recipe key -> (component kind, default name or None when required).
COMPONENT_SECTIONS: dict[str, tuple[str, str | None]] = {
    "generator": ("generator", None),
    "discriminator": ("discriminator", None),
    "loss": ("loss", "non-saturating"),
    "schedule": ("schedule", "alternating"),
    "lr_schedule": ("lr-schedule", "constant"),
    "data": ("dataset", "mnist"),
}

#: Optional component sections (absent: none): recipe key -> component kind.
OPTIONAL_SECTIONS: dict[str, str] = {"augment": "augmentation"}

#: Arrays of component tables (``[[callbacks]]``): recipe key -> component kind.
COMPONENT_LISTS: dict[str, str] = {"callbacks": "callback"}

#: Observers: ``[output]`` switches that add the callback of the same name (default params)
#: unless ``[[callbacks]]`` lists it; in this order, after the recipe's callbacks.
OBSERVERS = ("health", "tensorboard", "report")
