"""Fault injection (issue 11), SIGKILL: a ``ganfw run`` (tiny recipe, the default ``[eval]`` on, a
GIF, a checkpoint every step) is killed at a moment a seeded RNG picks within one phase of the
run - mid-step, during a checkpoint write, during the epoch's grid/GIF/curves, during evaluation,
in the middle of a ``metrics.jsonl`` line. ``--resume`` then continues from the newest intact
checkpoint and finishes; the log has no torn or duplicated records; the final weights equal an
uninterrupted run's.

The run kills itself: a wrapper patches the phase's function to send the process SIGKILL on its
n-th call (nothing is flushed or cleaned up, as with ``kill -9`` at that moment); ganfw itself
has no fault-injection hook.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from ganfw.checkpoint import CorruptCheckpoint, checkpoint_name, list_checkpoints, load_training_checkpoint
from tests.helpers.cli import REPO, cli
from tests.helpers.recipes import DEFAULT_EVAL, assert_same_file, tiny_recipe

EPOCHS, STEPS = 2, 4  # 2 steps an epoch

#: Runs ``ganfw ARGS`` after arranging a SIGKILL on the AT-th call of PHASE's function:
#: ``python -c KILLER PHASE AT ARGS...``.
KILLER = r"""
import os, signal, sys
import ganfw.atomic, ganfw.engine, ganfw.evaluation.evaluate, ganfw.rundir, ganfw.training.phase
from ganfw.cli import main

phase, at, calls = sys.argv[1], int(sys.argv[2]), [0]

def die_on_call(owner, name, counts=lambda *a: True, before=lambda *a: None):
    real = getattr(owner, name)
    def wrapper(*args, **kwargs):
        if counts(*args):
            calls[0] += 1
            if calls[0] == at:
                before(*args)
                os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(owner, name, wrapper)

def tear(tmp, dst):  # the temporary file half written, as a kill in the middle of writing it leaves
    os.truncate(tmp, os.path.getsize(tmp) // 2)

def half_a_line(log, record):
    log._file.write(__import__("json").dumps(record)[:20])
    log._file.flush()

if phase == "step":  # between D's and G's optimiser steps
    die_on_call(ganfw.training.phase.StepPhase, "updating")  # called before each optimiser step
elif phase == "checkpoint":
    die_on_call(os, "replace", lambda tmp, dst: str(dst).endswith(".safetensors"), tear)
elif phase == "outputs":  # the grid, the GIF, the curves
    die_on_call(os, "replace", lambda tmp, dst: str(dst).endswith((".png", ".gif")), tear)
elif phase == "evaluation":
    die_on_call(ganfw.evaluation.evaluate, "evaluate_generator")
elif phase == "metrics-line":
    die_on_call(ganfw.rundir.MetricsLog, "write", before=half_a_line)
main(sys.argv[3:])
"""

#: phase -> how many calls of its function a run makes (the kill lands on one of them).
PHASES = {
    "step": 2 * STEPS,
    "checkpoint": STEPS,
    "outputs": 3 * EPOCHS,
    "evaluation": EPOCHS,
    "metrics-line": 2 * EPOCHS,
}


def recipe_for(path: Path, root: Path) -> Path:
    """The tiny recipe with ``[eval]`` as by default, on 100 images rather than 1,000 (time)."""
    return tiny_recipe(
        path,
        root,
        train={"epochs": EPOCHS},
        eval={**DEFAULT_EVAL, "n": 100},
        output={"checkpoint_every": 1, "gif": True},
    )


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_root, cache_home):
    """The final checkpoint of the run never killed."""
    base = tmp_path_factory.mktemp("straight")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache_home))
        with pytest.raises(SystemExit) as done:
            from ganfw.cli import main

            main(["run", str(recipe_for(base / "r.toml", mnist_root)), "--out", str(base / "run"), "--quiet"])
    assert done.value.code in (0, None)
    return base / "run" / "checkpoints" / checkpoint_name(STEPS)


def newest_intact(run: Path) -> Path | None:
    for path in reversed(list_checkpoints(run / "checkpoints")):
        try:
            load_training_checkpoint(path)
            return path
        except CorruptCheckpoint:
            continue
    return None


def assert_log_is_whole(run: Path) -> None:
    """Every line a JSON object; each step logged once; each epoch's record and evaluation once."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if "event" not in r]
    assert len(steps) == len(set(steps)) and steps == sorted(steps)
    for event in ("epoch", "eval"):
        assert [r["epoch"] for r in records if r.get("event") == event] == list(range(1, EPOCHS + 1))


@pytest.mark.parametrize("phase, seed", [(p, s) for s, p in enumerate(PHASES)])
def test_sigkill_then_resume_finishes_as_if_never_killed(
    phase, seed, uninterrupted, tmp_path, mnist_root, reference_cache, capsys
):
    at = random.Random(seed).randint(1, PHASES[phase])
    recipe, run = recipe_for(tmp_path / "r.toml", mnist_root), tmp_path / "run"
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, phase, str(at), "run", str(recipe), "--out", str(run), "--quiet"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, f"{phase} call {at} never came: {killed.stderr}"
    start = newest_intact(run)

    code, _, err = cli(capsys, "run", str(recipe), "--out", str(run), "--resume", "--quiet")
    assert code == 0, err
    assert f"resuming from {start}" in err if start else "starting it over" in err
    assert_log_is_whole(run)
    assert not list(run.rglob("*.tmp"))
    assert_same_file(uninterrupted, run / "checkpoints" / checkpoint_name(STEPS))
