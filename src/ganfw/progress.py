"""How a run shows its progress: a rich progress bar, or plain log lines (``--quiet``)."""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class Reporter(Protocol):
    def start(self, total: int, done: int, steps_per_epoch: int) -> None: ...
    def update(self, step: int, record: dict[str, Any]) -> None: ...
    def epoch_end(self, epoch: int, epochs: int) -> None: ...
    def message(self, text: str) -> None: ...
    def warning(self, code: str, text: str) -> None: ...
    def close(self) -> None: ...


def _summary(record: dict[str, Any]) -> str:
    return (
        f"d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
        f"D(real) {record['d_real']:.2f}  D(fake) {record['d_fake']:.2f}  {record['images_per_s']:.0f} img/s"
    )


class RichReporter:
    """A live bar: epoch, step, losses, images/s, elapsed and ETA."""

    def __init__(self) -> None:
        self.console = Console(stderr=True, log_path=False)
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.task = None
        self.steps_per_epoch = 1
        self.alert = ""  # the latest training-health warning's code, kept on the bar

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.progress.start()
        self.task = self.progress.add_task(
            "train", total=total, completed=done, epoch=done // steps_per_epoch + 1, stats=""
        )

    def update(self, step: int, record: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=step, epoch=record["epoch"], stats=_summary(record) + self.alert)

    def epoch_end(self, epoch: int, epochs: int) -> None:
        self.progress.console.log(f"epoch {epoch}/{epochs} done")

    def message(self, text: str) -> None:
        self.progress.console.log(text)

    def warning(self, code: str, text: str) -> None:
        self.progress.console.log(f"[yellow]warning[/] ({escape(code)}): {escape(text)}")
        self.alert = f"  [yellow]warning: {escape(code)}[/]"

    def close(self) -> None:
        self.progress.stop()


class PlainReporter:
    """One line per logged step at most every 10 s, and one per epoch, on stderr."""

    def __init__(self, min_interval: float = 10.0) -> None:
        self.min_interval = min_interval
        self.last = 0.0
        self.total = 0

    def _print(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self.total = total
        self._print(f"training: step {done}/{total} ({steps_per_epoch} steps per epoch)")

    def update(self, step: int, record: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last >= self.min_interval:
            self.last = now
            self._print(f"epoch {record['epoch']} step {step}/{self.total}  {_summary(record)}")

    def epoch_end(self, epoch: int, epochs: int) -> None:
        self._print(f"epoch {epoch}/{epochs} done")

    def message(self, text: str) -> None:
        self._print(text)

    def warning(self, code: str, text: str) -> None:
        self._print(f"warning ({code}): {text}")

    def close(self) -> None:
        pass


class SilentReporter:
    """For the ranks other than 0 under torchrun: rank 0 reports for all."""

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        pass

    def update(self, step: int, record: dict[str, Any]) -> None:
        pass

    def epoch_end(self, epoch: int, epochs: int) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def warning(self, code: str, text: str) -> None:
        pass

    def close(self) -> None:
        pass
