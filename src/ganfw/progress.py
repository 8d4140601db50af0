"""How a run shows its progress: a rich progress line, or plain log lines (``--quiet``).

The rich line fits any terminal width: its parts, most important first, are the step
(n/total), the epoch, images per second, the ETA, the latest training-health warning, the
losses, the elapsed time and D's outputs; the least important are left out until the line fits,
and the bar takes the room left (none under :data:`MIN_BAR` columns). At 80 columns a line
keeps step, epoch, rate and ETA, and the losses where there is room.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from rich.console import Console, ConsoleOptions, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from ganfw.errors import printable

#: The bar is shown only with this many columns to spare, and is at most BAR_WIDTH wide.
MIN_BAR, BAR_WIDTH = 10, 40
SEPARATOR = "  "


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


def fit(parts: list[tuple[int, Text] | None], width: int, bar: Callable[[int], Text]) -> Text:
    """One line of at most ``width`` cells: ``parts`` in their order, each ``(rank, text)``
    (rank 0 is left out last) or ``None``, the bar's place. The parts are taken most
    important first, each that still fits; the bar (``bar(width)``) fills what is left, up to
    :data:`BAR_WIDTH`, where that is at least :data:`MIN_BAR`. The most important part is always
    kept (cut short where even it does not fit)."""
    used, kept = -len(SEPARATOR), set[int]()
    for rank, text in sorted((part for part in parts if part is not None), key=lambda part: part[0]):
        need = len(SEPARATOR) + text.cell_len
        if used + need <= width or not kept:
            used += need
            kept.add(rank)
    room = min(width - used - len(SEPARATOR), BAR_WIDTH)
    show_bar = room >= MIN_BAR
    shown = [
        bar(room) if part is None else part[1] for part in parts if (show_bar if part is None else part[0] in kept)
    ]
    line = Text(SEPARATOR).join(shown)
    line.no_wrap, line.overflow = True, "ellipsis"
    return line


class _Line:
    """The progress line of one task (its fields: ``epoch``, ``epochs``, the latest logged
    ``record`` or None, the latest warning's code ``alert`` or ""), laid out for the width it
    is given (:func:`fit`)."""

    COLUMNS = MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()

    def __init__(self, task: Task) -> None:
        self.task = task

    def parts(self) -> list[tuple[int, Text] | None]:
        """(rank, text) in the line's order (rank 0 is the most important); None: the bar."""
        step, elapsed, remaining = (column.render(self.task) for column in self.COLUMNS)
        fields = self.task.fields
        record, alert = fields["record"], fields["alert"]
        parts = [(1, Text(f"epoch {fields['epoch']}/{fields['epochs']}")), None, (0, step)]
        if record:
            parts += [
                (5, Text(f"d_loss {record['d_loss']:.3f} g_loss {record['g_loss']:.3f}")),
                (7, Text(f"D(real) {record['d_real']:.2f} D(fake) {record['d_fake']:.2f}")),
                (2, Text(f"{record['images_per_s']:.0f} img/s")),
            ]
        parts += [(6, elapsed), (3, Text.assemble("ETA ", remaining))]
        return parts + ([(4, Text(f"warning: {alert}", style="yellow"))] if alert else [])

    def _bar(self, console: Console, options: ConsoleOptions, width: int) -> Text:
        bar = BarColumn(bar_width=width).render(self.task)
        text = Text()
        for segment in console.render(bar, options.update(width=width)):
            text.append(segment.text, segment.style)
        return text + " " * (width - text.cell_len)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(1, options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        yield fit(self.parts(), options.max_width, lambda width: self._bar(console, options, width))


class _LineColumn(ProgressColumn):
    """The display's only column: the whole line (:class:`_Line`)."""

    def render(self, task: Task) -> RenderableType:
        return _Line(task)


class RichReporter:
    """A live line: step, epoch, images/s, ETA, warning, losses, elapsed, D's outputs and a bar,
    as many as the terminal's width holds (``console``, ``get_time``: for tests)."""

    def __init__(self, console: Console | None = None, get_time: Callable[[], float] | None = None) -> None:
        self.console = console or Console(stderr=True, log_path=False)
        self.progress = Progress(_LineColumn(), console=self.console, get_time=get_time)
        self.task: TaskID | None = None
        self.alert = ""  # the latest training-health warning's code, kept on the line

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self.progress.start()
        epochs = math.ceil(total / steps_per_epoch)
        epoch = min(done // steps_per_epoch + 1, epochs)
        self.task = self.progress.add_task(
            "train", total=total, completed=done, epoch=epoch, epochs=epochs, record=None, alert=self.alert
        )

    def update(self, step: int, record: dict[str, Any]) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=step, epoch=record["epoch"], record=record, alert=self.alert)

    def epoch_end(self, epoch: int, epochs: int) -> None:
        self.progress.console.log(f"epoch {epoch}/{epochs} done")

    def message(self, text: str) -> None:
        self.progress.console.log(escape(printable(text)))

    def warning(self, code: str, text: str) -> None:
        self.progress.console.log(f"[yellow]warning[/] ({escape(printable(code))}): {escape(printable(text))}")
        self.alert = code
        if self.task is not None:
            self.progress.update(self.task, alert=code)

    def close(self) -> None:
        self.progress.stop()


class PlainReporter:
    """One line per logged step at most every 10 s, and one per epoch, on stderr."""

    def __init__(self, min_interval: float = 10.0) -> None:
        self.min_interval = min_interval
        self.last = 0.0
        self.total = 0

    def _print(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {printable(text)}", file=sys.stderr, flush=True)

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
