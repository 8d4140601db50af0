"""``ganfw report RUN``: one self-contained HTML page about a training run (no torch needed).

The page holds the resolved recipe, every epoch's sample grid (a slider and a play button),
loss and D-output curves, evaluation scores over time, the final metrics with their protocol,
the training-health warnings and the environment the run used. Images are inlined as ``data:``
URIs and the charts are inline SVG, so the file opens anywhere, offline, and can be sent on.
"""

from __future__ import annotations

from pathlib import Path

from ganfw.atomic import write_text
from ganfw.errors import UserError
from ganfw.report.page import render
from ganfw.report.records import load_run

__all__ = ["write_report"]


def write_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write the report of the run in ``run_dir`` to ``out`` (default ``run_dir/report.html``),
    atomically, and return its path. A missing run directory or ``metrics.jsonl``, or a file that
    cannot be written, is a one-line :class:`UserError`."""
    run_dir = Path(run_dir)
    target = Path(out) if out is not None else run_dir / "report.html"
    html = render(load_run(run_dir))
    try:
        write_text(target, html)
    except OSError as e:
        raise UserError(f"{e.filename or target}: cannot write the report ({e.strerror})") from None
    return target
