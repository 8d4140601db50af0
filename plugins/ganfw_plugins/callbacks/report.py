"""The ``report`` callback: keeps ``report.html`` in the run directory up to date."""

from __future__ import annotations

from pathlib import Path

from ganfw.plugin import Callback, TrainerView, write_report


class ReportCallback(Callback):
    """Rewrite ``<run>/report.html`` (see :func:`ganfw.report.write_report`) after every epoch
    and when the run ends, on rank 0 only. It has no parameters and no state."""

    def __init__(self, params: None = None):
        """``params``: always ``None`` (the callback has no parameters)."""

    def on_epoch_end(self, view: TrainerView) -> None:
        self._write(view)

    def on_run_end(self, view: TrainerView) -> None:
        self._write(view)

    @staticmethod
    def _write(view: TrainerView) -> None:
        if view.is_main and view.run_dir is not None:
            write_report(Path(view.run_dir))
