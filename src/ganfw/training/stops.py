"""When training cannot go on: a non-finite loss stops the run naming the step and the last good
checkpoint kept."""

from __future__ import annotations

import math
from pathlib import Path

from ganfw.checkpoint import latest_checkpoint
from ganfw.contracts import StepReport
from ganfw.errors import UserError


class TrainingStopped(UserError):
    """Training cannot go on (a NaN/Inf loss, a component that raised); the last good checkpoint
    is kept."""


def check_finite(report: StepReport, checkpoints: Path) -> None:
    """Stop on a NaN or infinite loss, naming the step and the last good checkpoint kept."""
    for name in ("d_loss", "g_loss"):
        value = getattr(report, name)
        if not math.isfinite(value):
            last = latest_checkpoint(checkpoints)
            kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
            raise TrainingStopped(f"step {report.step + 1}: {name} is {value}; training stopped, {kept}")
