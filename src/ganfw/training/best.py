"""Keeping the best checkpoint by an evaluation score (``[output] keep_best = "fid"``):
``<run>/checkpoints/best.safetensors`` is the checkpoint of the epoch whose evaluation was the best
so far. ``ganfw sample RUN --best`` and ``ganfw evaluate RUN --best`` read it."""

from __future__ import annotations

import contextlib
import math
import os
from pathlib import Path
from typing import Any

from ganfw.atomic import write_bytes
from ganfw.errors import UserError

#: Scores where lower is better (distances); every other score is better higher.
LOWER_IS_BETTER = frozenset({"fid", "kid", "swd"})
BEST_NAME = "best.safetensors"


class BestCheckpoint:
    """The best value of ``score`` seen at an evaluation, and the step it was seen at; its state
    travels in checkpoints, so a resumed run keeps comparing against the same best."""

    def __init__(self, score: str):
        self.score = score
        self.lower = score in LOWER_IS_BETTER
        self.value: float | None = None
        self.step: int | None = None

    def consider(self, scores: dict[str, float], step: int) -> bool:
        """Whether ``scores`` (an evaluation at ``step``) beat the best so far (it becomes the best)."""
        if self.score not in scores:
            raise UserError(
                f"output.keep_best = {self.score!r} is not a score of this run's [eval] (it gives: "
                f"{', '.join(sorted(scores))})"
            )
        value = scores[self.score]
        if not math.isfinite(value):
            return False
        if self.value is not None and (value >= self.value if self.lower else value <= self.value):
            return False
        self.value, self.step = value, step
        return True

    def keep(self, checkpoint: Path) -> Path:
        """Make ``checkpoint`` (the best step's, just written) the run's best: a hard link where the
        file system allows (no copy; the step's file may be pruned later), else a copy; atomic."""
        best = checkpoint.with_name(BEST_NAME)
        tmp = checkpoint.with_name(f".{BEST_NAME}.link.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            os.link(checkpoint, tmp)
            os.replace(tmp, best)
        except OSError:
            write_bytes(best, checkpoint.read_bytes())
        return best

    def state_dict(self) -> dict[str, Any]:
        return {"score": self.score, "value": self.value, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("score") == self.score:
            self.value, self.step = state.get("value"), state.get("step")


def best_checkpoint(run: Path) -> Path:
    """The best checkpoint of the run directory ``run`` (``--best``), or one line saying why not."""
    best = run / "checkpoints" / BEST_NAME
    if not best.is_file():
        raise UserError(
            f"{run}: no best checkpoint ({best}): a run keeps one when its recipe sets [output] keep_best "
            '(e.g. keep_best = "fid") and [eval] is on'
        )
    return best
