"""Ctrl-C in the middle of a log window, then ``--resume``: the log and every observer's state are
those of the uninterrupted run (the open window belongs to the checkpoint), and a stop a
callback asks for mid-window logs the steps since the last line before its ``stop`` record."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from ganfw import engine
from ganfw.checkpoint import list_checkpoints, load_checkpoint
from ganfw.rundir import locks_released
from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe

#: What differs between two runs of the same steps: the clock.
TIMING = {"images_per_s", "seconds", "elapsed_s", "environment"}


def windows(run: Path) -> list[dict]:
    """The step-window records of a run's metrics.jsonl, without their timing."""
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in r.items() if k not in TIMING} for r in map(json.loads, lines) if "event" not in r]


@pytest.fixture
def recipe(tmp_path, mnist_root) -> Path:
    """4 steps an epoch, 2 epochs, a log line every 3 steps (at 3, 4, 6, 8): windows span steps."""
    return tiny_recipe(
        tmp_path / "r.toml", mnist_root, data={"limit": 64}, train={"epochs": 2, "batch_size": 16},
        output={"log_every": 3, "samples": 4, "gif": False},
    )  # fmt: skip


def run(capsys, recipe: Path, out: Path, *args: str) -> int:
    with locks_released():  # a command's lock lasts its process; these runs share one
        code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet", *args)
    assert code in (0, 130), err
    return code


def test_a_ctrl_c_mid_window_then_resume_logs_what_the_uninterrupted_run_logs(recipe, tmp_path, capsys, monkeypatch):
    assert run(capsys, recipe, tmp_path / "straight") == 0
    original = engine.Trainer._train_step

    def ctrl_c_after_step_5(self, real):  # step 5 is mid-window: the last line was at step 4
        report = original(self, real)
        if self.step == 5:
            os.kill(os.getpid(), signal.SIGINT)
        return report

    monkeypatch.setattr(engine.Trainer, "_train_step", ctrl_c_after_step_5)
    assert run(capsys, recipe, tmp_path / "split") == 130
    monkeypatch.setattr(engine.Trainer, "_train_step", original)
    saved = load_checkpoint(list_checkpoints(tmp_path / "split" / "checkpoints")[-1]).state
    assert saved["step"] == 5 and saved["log_window"]["counts"]["d_loss"] == 1  # step 5 awaits its line
    assert run(capsys, recipe, tmp_path / "split", "--resume") == 0

    assert windows(tmp_path / "split") == windows(tmp_path / "straight")
    assert [r["step"] for r in windows(tmp_path / "split")] == [3, 4, 6, 8]
    final = [
        load_checkpoint(list_checkpoints(tmp_path / name / "checkpoints")[-1]).state for name in ("straight", "split")
    ]
    assert final[0]["parts"]["observers.health"] == final[1]["parts"]["observers.health"]


STOPPER = """
from ganfw.plugin import Callback, ComponentSpec, hookimpl

GANFW_API = 2


class StopAfterFive(Callback):
    def __init__(self, params):
        pass

    def on_step_end(self, view, report):
        if view.step == 5:
            view.request_stop("enough after step 5")


@hookimpl
def ganfw_callbacks():
    return [ComponentSpec(name="stop-after-five", kind="callback", summary="stops", factory="stopper:StopAfterFive")]
"""


def test_a_stop_mid_window_logs_the_open_window_before_its_stop_record(recipe, tmp_path, capsys, site):
    site.add("ganfw-stopper", "1.0", {"stopper": STOPPER}, {"stopper": "stopper"})
    recipe.write_text(recipe.read_text() + '[[callbacks]]\nname = "stop-after-five"\n')
    assert run(capsys, recipe, tmp_path / "run") == 0
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    tail = [(r.get("event", "window"), r["step"]) for r in records if r.get("event") in (None, "stop")]
    assert tail == [("window", 3), ("window", 4), ("window", 5), ("stop", 5)]
    assert records[-1]["reason"] == "enough after step 5"
