"""Plugin ``callbacks``: a generator EMA used for sampling, early stopping on an evaluation
score, training-health warnings and the run report (the last two switched on by ``[output]``
``health`` and ``report``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class EMAParams:
    decay: float = param(
        0.999,
        "weight of the old average on each step: ema = decay * ema + (1 - decay) * G (when half_life_images "
        "is not set)",
        min=0.0,
        max=1.0,
    )
    start_step: int = param(0, "steps before which the average just copies G (0: average from the first step)", min=0)
    half_life_images: float | None = param(
        None,
        "half-life of the average in images trained on (all ranks): each step weighs the old average by "
        "0.5 ** (images / half_life_images), so it means the same at any batch size (StyleGAN2: 10000); "
        "replaces decay",
        min=0.0,
        min_exclusive=True,
    )
    rampup: float | None = param(
        None,
        "with half_life_images: the half-life is at most rampup x the images trained on so far, so that an "
        "early average forgets G's first steps (StyleGAN2-ADA: 0.05)",
        min=0.0,
        min_exclusive=True,
    )


@dataclass(frozen=True)
class EarlyStoppingParams:
    metric: str = param("fid", "the evaluation score to watch (a key of the [eval] scores)")
    mode: Literal["min", "max"] = param("min", "whether lower or higher scores are better")
    patience: int = param(3, "evaluations without improvement after which training stops", min=1)
    min_delta: float = param(0.0, "a score must beat the best by more than this to count as an improvement", min=0.0)


@dataclass(frozen=True)
class HealthParams:
    window: int = param(
        50, "steps per judging window: D winning is judged on its accuracy averaged over whole windows", min=1
    )
    patience: int = param(
        3, "windows (D winning) or log lines (divergence) in a row a sign must show before a warning", min=1
    )
    d_acc: float = param(
        0.85,
        "D's accuracy (real and fake images alike) at or above which D is winning "
        "(balanced runs hover between 0.5 and 0.8)",
        min=0.5,
        max=1.0,
    )
    blowup: float = param(
        10.0, "a loss this many times its usual size (the median of earlier log lines) is diverging", min=1.0
    )
    memory: int = param(100, "log lines kept to know a loss's usual size", min=11)
    samples: int = param(
        500, "images drawn at each epoch's end to check their diversity and classes (0: no such checks)", min=0
    )
    min_distance: float = param(
        0.1,
        "warn when two generated images differ by less than this per pixel (root mean square, images in [-1, 1])",
        min=0.0,
    )
    min_classes: float = param(
        0.5,
        "warn when the judge finds fewer than this share of the dataset's classes among the generated images",
        min=0.0,
        max=1.0,
    )
    from_step: int = param(
        1000, "steps before which the images are not checked (a young generator's images look alike)", min=0
    )


@hookimpl
def ganfw_callbacks() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="ema",
            kind="callback",
            params=EMAParams,
            summary="Moving average of G's weights, used for sampling and evaluation (Karras et al. 2018)",
            factory="ganfw_plugins.callbacks.ema:GeneratorEMA",
        ),
        ComponentSpec(
            name="early-stopping",
            kind="callback",
            params=EarlyStoppingParams,
            summary="Stop training once an evaluation score stops improving",
            factory="ganfw_plugins.callbacks.early_stopping:EarlyStopping",
        ),
        ComponentSpec(
            name="health",
            kind="callback",
            params=HealthParams,
            summary="Warn of D winning, divergence, class collapse and near-identical samples (on by "
            "default: [output] health)",
            factory="ganfw_plugins.callbacks.health:TrainingHealth",
        ),
        ComponentSpec(
            name="report",
            kind="callback",
            summary="Keep <run>/report.html up to date after each epoch (on by default: [output] report)",
            factory="ganfw_plugins.callbacks.report:ReportCallback",
        ),
    ]
