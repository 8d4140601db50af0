"""The ``csv`` callback, read back with the ``csv`` module: on a stand-in trainer view (the header
growing, a resume, other ranks) and after a real run cut short and resumed (the rows are
``metrics.jsonl``'s)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.tensorboard.records import scalars
from ganfw_plugins.trackers.csv_log import CsvLog
from tests.plugins.trackers.runs import WARNING, TrackedRun, probe_view

WINDOW = {"step": 10, "epoch": 1, "d_loss": 1.25, "g_loss": 0.75, "d/real": 0.5}
EPOCH = {"event": "epoch", "epoch": 1, "step": 20, "seconds": 3.5, "elapsed_s": 4.0}
EVAL = {"event": "eval", "epoch": 1, "step": 20, "n": 100, "protocol": {"dataset": "mnist"}, "eval/fid": 42.5}


def table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


def run_through(run_dir: Path, records: list[dict], step: int = 0, is_main: bool = True) -> CsvLog:
    log, view = CsvLog(), probe_view(run_dir, step, is_main)
    log.on_run_start(view)
    for record in records:
        log.on_log(view, record)
    log.on_run_end(view)
    return log


def test_a_column_appears_with_the_first_record_that_has_it(tmp_path):
    run_through(tmp_path, [WINDOW, {**WINDOW, "step": 20, "d_loss": 1.0}, EPOCH, EVAL, WARNING])
    columns, rows = table(tmp_path / "metrics.csv")
    assert columns == [
        "step",
        "epoch",
        "loss/d_loss",
        "loss/g_loss",
        "loss/d/real",
        "epoch/seconds",
        "epoch/elapsed_s",
        "eval/fid",
    ]
    assert [(r["step"], r["loss/d_loss"], r["epoch/seconds"], r["eval/fid"]) for r in rows] == [
        ("10", "1.25", "", ""),
        ("20", "1.0", "", ""),
        ("20", "", "3.5", ""),
        ("20", "", "", "42.5"),
    ]  # the warning has no number: no row
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_resume_drops_the_rows_past_its_checkpoint_and_a_new_start_the_file(tmp_path):
    run_through(tmp_path, [WINDOW, {**WINDOW, "step": 20}, EVAL, {**WINDOW, "step": 30}])
    run_through(tmp_path, [{**WINDOW, "step": 30, "d_loss": 3.0}], step=20)
    columns, rows = table(tmp_path / "metrics.csv")
    assert [(r["step"], r["loss/d_loss"], r["eval/fid"]) for r in rows] == [
        ("10", "1.25", ""),
        ("20", "1.25", ""),
        ("20", "", "42.5"),
        ("30", "3.0", ""),
    ]
    assert "eval/fid" in columns
    run_through(tmp_path, [WINDOW])  # a run that died before its first checkpoint, started over
    columns, rows = table(tmp_path / "metrics.csv")
    assert "eval/fid" not in columns and [r["step"] for r in rows] == ["10"]


def test_other_ranks_write_nothing(tmp_path):
    run_through(tmp_path, [WINDOW, EVAL], is_main=False)
    assert not any(tmp_path.iterdir())


def test_the_contract_kit_passes():
    check_component(load_registry().resolve("callback", "csv"))


@pytest.mark.slow
def test_the_rows_are_the_records_of_metrics_jsonl(tracked: TrackedRun):
    columns, rows = table(tracked.path / "metrics.csv")
    numbered = [r for r in tracked.final if scalars(r)]
    assert len(rows) == len(numbered) and max(int(r["step"]) for r in rows) == 6
    for row, record in zip(rows, numbered):
        assert (int(row["step"]), int(row["epoch"])) == (record["step"], record["epoch"])
        written = {k: float(v) for k, v in row.items() if k not in ("step", "epoch") and v != ""}
        assert written == scalars(record)
    assert columns[:4] == ["step", "epoch", "loss/d_loss", "loss/g_loss"]
