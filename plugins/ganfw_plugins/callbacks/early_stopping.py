"""Early stopping on an evaluation score."""

from __future__ import annotations

import math
from typing import Any

from ganfw.plugin import Callback, TrainerView, UserError
from ganfw_plugins.callbacks import EarlyStoppingParams


class EarlyStopping(Callback):
    """Ask the run to stop once ``patience`` evaluations in a row have not beaten the best score
    of ``metric`` by more than ``min_delta`` (lower is better for ``mode = "min"``, higher for
    ``"max"``). A score that is NaN never counts as an improvement.

    State (saved in checkpoints): the best score so far and the evaluations since it.
    """

    def __init__(self, params: EarlyStoppingParams):
        self.params = params
        self.best: float | None = None
        self.since_best = 0

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return not math.isnan(value)
        p = self.params
        return value < self.best - p.min_delta if p.mode == "min" else value > self.best + p.min_delta

    def on_evaluation(self, view: TrainerView, scores: dict[str, float]) -> None:
        metric = self.params.metric
        if metric not in scores:
            available = ", ".join(sorted(scores)) or "(none)"
            raise UserError(
                f"early-stopping watches the score {metric!r}, which the evaluation does not give; "
                f"its scores: {available} (set params.metric of the callback, or [eval] metrics)"
            )
        value = float(scores[metric])
        if self._improves(value):
            self.best, self.since_best = value, 0
            return
        self.since_best += 1
        if self.since_best >= self.params.patience:
            best = "none yet" if self.best is None else f"{self.best:.6g}"
            view.request_stop(
                f"early stopping: {metric} has not improved by more than {self.params.min_delta:g} "
                f"for {self.since_best} evaluations (best {best}, latest {value:.6g})"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "since_best": self.since_best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.since_best = state["best"], state["since_best"]

    def log(self) -> dict[str, float]:
        """The best score so far (once there is one) and the evaluations since it."""
        since = {"evaluations_since_best": float(self.since_best)}
        return since if self.best is None else {"best": self.best, **since}
