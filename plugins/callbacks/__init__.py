"""Plugin ``callbacks``: a generator EMA used for sampling, and early stopping on an evaluation
score."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class EMAParams:
    decay: float = param(0.999, "weight of the old average on each step: ema = decay * ema + (1 - decay) * G",
                         min=0.0, max=1.0)
    start_step: int = param(0, "steps before which the average just copies G (0: average from the first step)", min=0)


@dataclass(frozen=True)
class EarlyStoppingParams:
    metric: str = param("fid", "the evaluation score to watch (a key of the [eval] scores)")
    mode: Literal["min", "max"] = param("min", "whether lower or higher scores are better")
    patience: int = param(3, "evaluations without improvement after which training stops", min=1)
    min_delta: float = param(0.0, "a score must beat the best by more than this to count as an improvement", min=0.0)


@hookimpl
def ganfw_callbacks() -> list[ComponentSpec]:
    return [
        ComponentSpec(name="ema", kind="callback", params=EMAParams,
                      summary="Moving average of G's weights, used for sampling and evaluation (Karras et al. 2018)",
                      factory="ganfw_plugins.callbacks.ema:GeneratorEMA"),
        ComponentSpec(name="early-stopping", kind="callback", params=EarlyStoppingParams,
                      summary="Stop training once an evaluation score stops improving",
                      factory="ganfw_plugins.callbacks.early_stopping:EarlyStopping"),
    ]
