"""Plugin ``tensorboard``: a callback that writes a run to TensorBoard event files - every
number of ``metrics.jsonl``, the sample grid of each epoch and the resolved recipe.

It needs the optional package ``tensorboard`` (``pip install "ganfw[tensorboard]"``), imported
only when a recipe asks for the callback (``[output] tensorboard = true`` or ``[[callbacks]]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class TensorBoardParams:
    log_dir: str = param(
        "",
        "where the event files go: empty for RUN/tensorboard; otherwise a folder shared by "
        "runs (relative to the working directory), each run in <log_dir>/<run directory name>",
    )
    flush_secs: int = param(
        30, "seconds between writes of pending events to disk (also written at each epoch's end)", min=1
    )


@hookimpl
def ganfw_callbacks() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="tensorboard",
            kind="callback",
            params=TensorBoardParams,
            summary="TensorBoard event files of the run: every logged number, each epoch's sample "
            "grid, the recipe (switch: [output] tensorboard)",
            factory="ganfw_plugins.tensorboard.callback:TensorBoardLogger",
        ),
    ]
