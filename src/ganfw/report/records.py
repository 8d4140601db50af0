"""What a run directory says about its run, sorted by kind for the report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganfw.errors import UserError
from ganfw.paths import TEXT_LIMIT, read_file_within, refused
from ganfw.rundir import RunDir, parse_metrics

GRID_NAME = re.compile(r"image_at_epoch_(\d+)\.png")
#: The first bytes of every PNG file.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: The most bytes read of a run's log, and of one sample grid.
METRICS_LIMIT, GRID_LIMIT = 256 << 20, 32 << 20


@dataclass(frozen=True)
class RunRecords:
    """The records of one run directory.

    Attributes:
        name: the directory's name (the report's title).
        recipe: the text of ``recipe.toml``; ``None`` when it is missing.
        start: the latest ``start`` record (a resumed run has one per process); ``None`` if none.
        windows: the step windows (records without an ``event`` key), in log order.
        epochs, evals, warnings, stops: the ``epoch``, ``eval``, ``warning`` and ``stop`` records.
        grids: ``(epoch, PNG bytes)`` of every sample grid, by epoch.
    """

    name: str
    recipe: str | None
    start: dict[str, Any] | None
    windows: list[dict[str, Any]]
    epochs: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    stops: list[dict[str, Any]]
    grids: list[tuple[int, bytes]]


def load_run(path: Path) -> RunRecords:
    """Read the run directory ``path``: only regular files inside it (:func:`ganfw.paths.read_file_within`:
    no link is followed, no FIFO waited on). A missing directory or ``metrics.jsonl`` is a
    :class:`UserError` (corrupt lines are skipped by :func:`ganfw.rundir.parse_metrics`)."""
    run = RunDir(Path(path))
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    if not run.metrics.exists():
        raise UserError(f"{run.path}: not a run directory (no metrics.jsonl)")
    try:
        records = parse_metrics(read_file_within(run.metrics, run.path, METRICS_LIMIT).decode("utf-8", "replace"))
    except OSError as e:
        raise UserError(f"{refused(e)} (the run's log)") from None
    kinds = ("start", "epoch", "eval", "warning", "stop")
    by_event = {kind: [r for r in records if r.get("event") == kind] for kind in kinds}
    return RunRecords(
        name=run.path.resolve().name,
        recipe=_recipe_text(run),
        start=by_event["start"][-1] if by_event["start"] else None,
        windows=[r for r in records if "event" not in r],
        epochs=by_event["epoch"],
        evals=by_event["eval"],
        warnings=by_event["warning"],
        stops=by_event["stop"],
        grids=sample_grids(run),
    )


def _recipe_text(run: RunDir) -> str | None:
    """The text of the run's ``recipe.toml``; ``None`` when it is missing or not a regular file
    of the run directory."""
    try:
        return read_file_within(run.recipe, run.path, TEXT_LIMIT).decode("utf-8", "replace")
    except OSError:
        return None


def sample_grids(run: RunDir) -> list[tuple[int, bytes]]:
    """``(epoch, PNG bytes)`` of each ``samples/image_at_epoch_NNNN.png`` that is a PNG, a
    regular file inside the run directory, by epoch; anything else of that name (a link, a
    FIFO, a file that is no PNG) is skipped."""
    grids = []
    for path in run.sample_grids():
        found = GRID_NAME.fullmatch(path.name)
        try:
            data = read_file_within(path, run.path, GRID_LIMIT)
        except OSError:
            continue
        if found and data.startswith(PNG_SIGNATURE):
            grids.append((int(found.group(1)), data))
    return sorted(grids)
