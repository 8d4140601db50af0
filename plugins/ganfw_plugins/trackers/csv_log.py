"""The ``csv`` callback: ``metrics.csv`` in the run directory, for spreadsheets and pandas."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from ganfw.plugin import Callback, TrainerView
from ganfw_plugins.tensorboard.records import PLACE, scalars

FILE = "metrics.csv"


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a CSV file (empty when there is none)."""
    if not path.exists():
        return [], []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Replace ``path`` by the rows under ``columns`` (written beside it as ``.<name>.tmp``, which
    ganfw removes when a killed run resumes, then renamed: a reader never sees half a file)."""
    partial = path.with_name(f".{path.name}.tmp")
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(partial, path)


class CsvLog(Callback):
    """Writes ``RUN/metrics.csv`` on rank 0: a row for each ``metrics.jsonl`` record holding a
    number (step windows, ``epoch`` and ``eval`` records), columns ``step``, ``epoch``, then the
    numbers under the TensorBoard callback's names (``loss/d_loss``, ``eval/fid``:
    :func:`ganfw_plugins.tensorboard.records.scalars`) in the order they first appear; a cell is
    empty where a row's record has no such number.

    The header grows when a record brings a new name (an evaluation's first score): the file is
    then rewritten whole. Like ``metrics.jsonl``, a resumed run drops the rows past its
    checkpoint's step and writes them again; a run that starts over starts a new file.
    """

    def __init__(self, params: None = None):
        self.path: Path | None = None
        self.columns: list[str] = []

    def on_run_start(self, view: TrainerView) -> None:
        if not view.is_main:
            return
        self.path = Path(view.run_dir) / FILE
        columns, rows = read_rows(self.path) if view.step else ([], [])
        self.columns = columns or list(PLACE)
        write_rows(self.path, self.columns, [row for row in rows if int(row["step"]) <= view.step])

    def on_log(self, view: TrainerView, record: dict[str, Any]) -> None:
        if self.path is None or not (numbers := scalars(record)):
            return
        row = {key: record[key] for key in PLACE if key in record} | numbers
        if new := [key for key in numbers if key not in self.columns]:
            self.columns += new
            write_rows(self.path, self.columns, [*read_rows(self.path)[1], row])
            return
        with self.path.open("a", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, self.columns, restval="").writerow(row)
