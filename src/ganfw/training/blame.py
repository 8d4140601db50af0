"""When training cannot go on: errors in plugin code become one line naming the component; a
non-finite loss stops the run naming the step."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ganfw.checkpoint import latest_checkpoint
from ganfw.contracts import StepReport
from ganfw.errors import UserError
from ganfw.recipe import ComponentChoice, ComponentError


class TrainingStopped(UserError):
    """Training cannot go on (a NaN/Inf loss, a component that raised); the last good checkpoint
    is kept."""


def one_line(e: BaseException) -> str:
    """``TypeName: message`` on one line."""
    return f"{type(e).__name__}: {' '.join(str(e).split())}"


@contextlib.contextmanager
def blame(choice: ComponentChoice, call: str) -> Iterator[None]:
    """Run ``choice``'s code: any error it raises (a plugin's bug, or torch refusing what it
    does) becomes a one-line :class:`ComponentError` naming the component, its plugin and
    ``call``; a :class:`UserError` passes as is."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:  # third-party code
        raise ComponentError(f"{choice.who} raised in {call}: {one_line(e)}") from e


def call_checked(choice: ComponentChoice, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on a component's first input: an error becomes one line naming it and the
    input's shape."""
    try:
        return fn(*args)
    except UserError:
        raise
    except Exception as e:  # third-party code
        shapes = ", ".join(str(tuple(a.shape)) for a in args if hasattr(a, "shape"))
        raise ComponentError(f"{choice.who} failed on its first input {shapes}: {one_line(e)}") from e


def check_finite(report: StepReport, checkpoints: Path) -> None:
    """Stop on a NaN or infinite loss, naming the step and the last good checkpoint kept."""
    for name in ("d_loss", "g_loss"):
        value = getattr(report, name)
        if not math.isfinite(value):
            last = latest_checkpoint(checkpoints)
            kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
            raise TrainingStopped(f"step {report.step + 1}: {name} is {value}; training stopped, {kept}")
