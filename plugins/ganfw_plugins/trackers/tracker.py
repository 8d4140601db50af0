"""What the ``mlflow`` and ``wandb`` callbacks share: one tracker run per ganfw run, kept across
resumes, fed from rank 0 with what TensorBoard shows.

A :class:`Tracker` opens the tracker's run when its process starts training (a new one, or the
one whose id the checkpoint holds), logs every number of every ``metrics.jsonl`` record at its
step under the TensorBoard callback's tags (``loss/d_loss``, ``eval/fid``:
:func:`ganfw_plugins.tensorboard.records.scalars`), health warnings and a stop's reason as notes,
each epoch's sample grid, and the final checkpoint when the run ends.

A resumed run repeats the steps past its checkpoint, which the process that died may already have
logged; the tracker says what it holds (:meth:`Tracker.logged_steps`) and a number is logged
only at a step past the last one its key holds, so each step is in the tracker once.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from ganfw.plugin import Callback, TrainerView, UserError, latest_checkpoint
from ganfw_plugins.tensorboard.callback import SAMPLES_TAG, sample_grid
from ganfw_plugins.tensorboard.records import scalars, warning_text

#: ``<recipe stem>-<YYYYmmdd-HHMMSS>`` or ``...-<n>``: how ganfw names a new run directory.
_STAMPED = re.compile(r"(.+)-\d{8}-\d{6}(?:-\d+)?")


def missing_package(what: str, package: str) -> UserError:
    """The one line that says which extra brings ``package`` (the extra has its name)."""
    return UserError(f'{what} (the callback "{package}") needs the package {package}: pip install "ganfw[{package}]"')


def recipe_name(run_dir: Path) -> str:
    """The recipe's name as the run directory says it: ``runs/mnist_quick-20260101-120000`` ->
    ``mnist_quick``; a directory named by ``--out`` gives its own name."""
    match = _STAMPED.fullmatch(run_dir.name)
    return match.group(1) if match else run_dir.name


def grid_pixels(samples: Tensor) -> np.ndarray:
    """The epoch's grid (S, C, H, W) in [-1, 1] -> one picture laid out as the run's PNG grids
    (``ceil(sqrt(S))`` images a row, 2 white pixels around each; at the images' own size, where
    the PNGs are enlarged): (H', W') uint8 for grey images, (H', W', 3) for colour ones."""
    pixels = sample_grid(samples).permute(1, 2, 0).numpy()
    return pixels[..., 0] if samples.shape[1] == 1 else pixels


class Tracker(Callback, ABC):
    """A tracker run fed on rank 0 (other ranks log nothing); see the module's docstring.

    Subclasses implement the tracker's calls: :meth:`open`, :meth:`logged_steps`,
    :meth:`log_metrics`, :meth:`note`, :meth:`log_grid`, :meth:`log_checkpoint` and
    :meth:`close`. The tracker run's id is the callback's checkpointed state.
    """

    def __init__(self, log_checkpoint: bool):
        self.log_checkpoint_at_end = log_checkpoint
        self.run_id: str | None = None
        self.live = False  # this process opened the tracker run (rank 0)
        self.held: dict[str, int] = {}  # key -> the last step the tracker held when this process started
        self.stopped = False  # a callback ended the run early (it counts as finished)

    # ------------------------------------------------------------------ the tracker's calls
    @abstractmethod
    def open(self, view: TrainerView, run_id: str | None) -> str:
        """Open the tracker run ``run_id`` (resumed), or a new one when ``None``; return its id."""

    @abstractmethod
    def logged_steps(self) -> dict[str, int]:
        """The last step logged of each key (the grid's under ``samples``) the open run holds."""

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        """Numbers by key, at ``step``."""

    @abstractmethod
    def note(self, key: str, text: str, step: int) -> None:
        """A line of text (a warning: ``warning/<code>``, or ``stop``) logged at ``step``."""

    @abstractmethod
    def log_grid(self, pixels: np.ndarray, step: int, epoch: int) -> None:
        """The sample grid of ``epoch`` (1-based), ending at ``step``: (H, W, 3) or (H, W) uint8."""

    @abstractmethod
    def log_checkpoint(self, path: Path, step: int) -> None:
        """The checkpoint file at ``path``, the newest when the process ends at ``step``."""

    @abstractmethod
    def close(self, finished: bool) -> None:
        """End this process's part of the run: ``finished`` (trained to the end, or stopped by a
        callback) or not (interrupted, failed: a resume may continue it)."""

    # ------------------------------------------------------------------ the callback
    def on_run_start(self, view: TrainerView) -> None:
        if not view.is_main:
            return
        resumed = self.run_id is not None
        self.run_id, self.live = self.open(view, self.run_id), True
        self.held = self.logged_steps() if resumed else {}

    def _new(self, key: str, step: int) -> bool:
        """``key`` at ``step`` is not in the tracker yet."""
        return step > self.held.get(key, -1)

    def on_log(self, view: TrainerView, record: dict[str, Any]) -> None:
        if not self.live:
            return
        step = record["step"]
        if metrics := {k: v for k, v in scalars(record).items() if self._new(k, step)}:
            self.log_metrics(metrics, step)
        if (text := warning_text(record)) is not None:
            self.note(f"warning/{record['code']}", text, step)
        if record.get("event") == "stop":
            self.stopped = True
            self.note("stop", record["reason"], step)

    def on_epoch_end(self, view: TrainerView) -> None:
        if self.live and view.latest_samples is not None and self._new(SAMPLES_TAG, view.step):
            self.log_grid(grid_pixels(view.latest_samples), view.step, view.epoch)

    def on_run_end(self, view: TrainerView) -> None:
        if not self.live:
            return
        if self.log_checkpoint_at_end and (path := latest_checkpoint(Path(view.run_dir) / "checkpoints")) is not None:
            self.log_checkpoint(path, view.step)
        self.close(self.stopped or view.step >= view.total_steps)
        self.live = False

    def state_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.run_id = state.get("run_id")
