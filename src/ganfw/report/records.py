"""What a run directory says about its run, sorted by kind for the report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganfw.errors import UserError
from ganfw.rundir import RunDir, read_metrics

GRID_NAME = re.compile(r"image_at_epoch_(\d+)\.png")


@dataclass(frozen=True)
class RunRecords:
    """The records of one run directory.

    Attributes:
        name: the directory's name (the report's title).
        recipe: the text of ``recipe.toml``; ``None`` when it is missing.
        start: the latest ``start`` record (a resumed run has one per process); ``None`` if none.
        windows: the step windows (records without an ``event`` key), in log order.
        epochs, evals, warnings, stops: the ``epoch``, ``eval``, ``warning`` and ``stop`` records.
        grids: ``(epoch, path)`` of every sample grid, by epoch.
    """

    name: str
    recipe: str | None
    start: dict[str, Any] | None
    windows: list[dict[str, Any]]
    epochs: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    stops: list[dict[str, Any]]
    grids: list[tuple[int, Path]]


def load_run(path: Path) -> RunRecords:
    """Read the run directory ``path``; a missing directory or ``metrics.jsonl`` is a
    :class:`UserError` (corrupt lines are skipped by :func:`read_metrics`)."""
    run = RunDir(Path(path))
    if not run.path.is_dir():
        raise UserError(f"{run.path}: no such run directory")
    if not run.metrics.is_file():
        raise UserError(f"{run.path}: not a run directory (no metrics.jsonl)")
    records = read_metrics(run.metrics)
    kinds = ("start", "epoch", "eval", "warning", "stop")
    by_event = {kind: [r for r in records if r.get("event") == kind] for kind in kinds}
    return RunRecords(
        name=run.path.resolve().name,
        recipe=run.recipe.read_text(encoding="utf-8", errors="replace") if run.recipe.is_file() else None,
        start=by_event["start"][-1] if by_event["start"] else None,
        windows=[r for r in records if "event" not in r],
        epochs=by_event["epoch"],
        evals=by_event["eval"],
        warnings=by_event["warning"],
        stops=by_event["stop"],
        grids=sample_grids(run),
    )


def sample_grids(run: RunDir) -> list[tuple[int, Path]]:
    """``(epoch, path)`` of each ``samples/image_at_epoch_NNNN.png``, by epoch."""
    found = ((GRID_NAME.fullmatch(p.name), p) for p in run.sample_grids())
    return sorted((int(m.group(1)), p) for m, p in found if m)
