"""The TensorBoard callback: event files written on rank 0 as the run goes."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w
from torch import Tensor
from torchvision.utils import make_grid

from ganfw.plugin import PAD_VALUE, Callback, TrainerView, UserError, to_uint8
from ganfw_plugins.tensorboard import TensorBoardParams
from ganfw_plugins.tensorboard.records import scalars, warning_text

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

#: The tags of what is not a number of metrics.jsonl.
SAMPLES_TAG, RECIPE_TAG, WARNINGS_TAG = "samples", "recipe", "warnings"


def sample_grid(images: Tensor, padding: int = 2) -> Tensor:
    """(S, C, H, W) in [-1, 1] -> one (3, H', W') uint8 picture laid out as the run's PNG grids
    (at their pixel size): ``ceil(sqrt(S))`` images a row, ``padding`` white pixels around each
    (a lone image comes back as it is, (C, H, W))."""
    nrow = math.ceil(math.sqrt(len(images)))
    return make_grid(to_uint8(images), nrow=nrow, padding=padding, pad_value=PAD_VALUE)


class TensorBoardLogger(Callback):
    """Writes TensorBoard event files on rank 0 (other ranks write nothing):

    - scalars: every number of every ``metrics.jsonl`` record at its step (tags:
      :func:`ganfw_plugins.tensorboard.records.scalars`), health warnings as text;
    - the image ``samples``: the epoch's sample grid, at the step that ended the epoch;
    - the text ``recipe``: the resolved recipe as TOML, when the process starts training.

    The files go to ``RUN/tensorboard`` unless ``log_dir`` names a folder shared by runs. A
    resumed run discards the events logged past its checkpoint's step (TensorBoard's
    ``purge_step``), as it truncates ``metrics.jsonl``. The writer is built when the first thing
    is written, flushed at each epoch's end and closed when the run ends.
    """

    def __init__(self, params: TensorBoardParams):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise UserError(
                'TensorBoard logging ([output] tensorboard, or the callback "tensorboard") needs the '
                'package tensorboard: pip install "ganfw[tensorboard]"'
            ) from None
        self.params, self._writer_class = params, SummaryWriter
        self.writer: SummaryWriter | None = None

    def log_dir(self, run_dir: Path) -> Path:
        """Where this run's event files go."""
        if not self.params.log_dir:
            return run_dir / "tensorboard"
        return Path(self.params.log_dir).expanduser() / run_dir.name

    def _writer(self, view: TrainerView) -> SummaryWriter:
        if self.writer is None:
            # Resumed: events logged past the checkpoint's step (as metrics.jsonl's lines) are dropped.
            purge = view.step + 1 if view.step else None
            self.writer = self._writer_class(
                str(self.log_dir(Path(view.run_dir))), flush_secs=self.params.flush_secs, purge_step=purge
            )
        return self.writer

    def on_run_start(self, view: TrainerView) -> None:
        if view.is_main:
            text = f"```toml\n{tomli_w.dumps(view.recipe)}```"
            self._writer(view).add_text(RECIPE_TAG, text, view.step)

    def on_log(self, view: TrainerView, record: dict[str, Any]) -> None:
        if not view.is_main:
            return
        writer = self._writer(view)
        for tag, value in scalars(record).items():
            writer.add_scalar(tag, value, record["step"])
        if (text := warning_text(record)) is not None:
            writer.add_text(WARNINGS_TAG, text, record["step"])

    def on_epoch_end(self, view: TrainerView) -> None:
        if not view.is_main:
            return
        writer = self._writer(view)
        if view.latest_samples is not None:
            writer.add_image(SAMPLES_TAG, sample_grid(view.latest_samples), view.step)
        writer.flush()

    def on_run_end(self, view: TrainerView) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
