"""A tiny real run tracked by ``mlflow``, ``wandb`` and ``csv`` at once, cut short and resumed,
and what each tracker should then hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ganfw.rundir import read_metrics
from ganfw.testing.probes import FakeTrainerView, ProbeDiscriminator, ProbeGenerator
from ganfw_plugins.tensorboard.records import scalars
from tests.helpers.cli import run_cli
from tests.helpers.recipes import tiny_recipe

#: Environment of a run in a test: W&B offline, silent and kept out of the home directory; no
#: MLflow server or W&B account from the environment, and no W&B service of this process (wandb
#: exports ``WANDB_SERVICE`` for child processes to share its service: a child's exit then tears
#: down what the tests' own runs use).
DROPPED = ("MLFLOW_TRACKING_URI", "WANDB_API_KEY", "WANDB_BASE_URL", "WANDB_SERVICE")


def tracker_env(home: Path) -> dict[str, str]:
    """``WANDB_*`` settings that keep W&B offline, quiet and inside ``home``."""
    return {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        **{f"WANDB_{name}_DIR": str(home / name.lower()) for name in ("CONFIG", "CACHE", "DATA", "ARTIFACT")},
    }


#: A health warning's record (docs/architecture.md lists the records).
WARNING = {
    "event": "warning",
    "step": 3,
    "epoch": 1,
    "source": "health",
    "code": "d-winning",
    "message": "D is right about 99% of images",
}


def probe_view(run_dir: Path, step: int = 0, is_main: bool = True) -> FakeTrainerView:
    """A stand-in trainer view over probe networks at ``step`` of 8 (4 an epoch), writing into
    ``run_dir`` (created)."""
    run_dir.mkdir(exist_ok=True)
    view = FakeTrainerView(ProbeGenerator((1, 8, 8)), ProbeDiscriminator((1, 8, 8)), run_dir)
    view.step, view.epoch, view.is_main = step, step // view.steps_per_epoch, is_main
    return view


#: The run directory's name: how ganfw names a new run of the recipe ``tiny``.
RUN_NAME = "tiny-20260102-030405"
#: Two epochs of 2 steps, a log line every step; the resume continues from step 2 to 6.
FIRST_EPOCHS, LAST_EPOCHS, CHECKPOINT, CUT = 2, 3, 2, 4


#: How much larger than the images the run's PNG grids draw them (``ganfw.artifacts.save_grid``).
PNG_SCALE = 4


def grid_cells(pixels: np.ndarray, size: int, scale: int = 1, padding: int = 2) -> np.ndarray:
    """The images of a grid picture (H', W') or (H', W', 3) whose cells hold ``size`` x ``size``
    images drawn ``scale`` times larger, ``padding`` pixels around each: (N, size, size[, 3]),
    row by row."""
    cell = size * scale + padding
    rows, cols = (pixels.shape[0] - padding) // cell, (pixels.shape[1] - padding) // cell
    return np.stack(
        [
            pixels[padding + r * cell : (r + 1) * cell : scale, padding + c * cell : (c + 1) * cell : scale]
            for r in range(rows)
            for c in range(cols)
        ]
    )


@dataclass(frozen=True)
class TrackedRun:
    """A run killed after logging step ``CUT`` with its newest checkpoint at step ``CHECKPOINT``,
    then resumed to step 6. ``first``: ``metrics.jsonl``'s records when it was cut; ``final``:
    after the resume (steps past ``CHECKPOINT`` trained again)."""

    path: Path
    first: list[dict[str, Any]]
    final: list[dict[str, Any]]
    first_recipe: str

    def grid(self, epoch: int) -> np.ndarray:
        """The images of the run's own PNG grid of ``epoch``: (4, 28, 28) uint8."""
        png = np.asarray(Image.open(self.path / "samples" / f"image_at_epoch_{epoch:04d}.png"))
        return grid_cells(png, 28, PNG_SCALE)


def ganfw_run(recipe: Path, out: Path, home: Path, *extra: str):
    """``ganfw run RECIPE --out OUT --quiet EXTRA...`` with :func:`tracker_env`; it must succeed."""
    result = run_cli("run", str(recipe), "--out", str(out), "--quiet", *extra, env=tracker_env(home), timeout=300)
    assert result.returncode == 0, result.both
    return result


def tracked_run(base: Path, mnist_root: Path) -> TrackedRun:
    """Train 2 epochs with the three trackers, drop the newest checkpoint (as a kill between the
    last log line and its checkpoint leaves the run), then ``--resume`` to 3 epochs. The
    variables :data:`DROPPED` are left out of the runs' environment."""
    recipe = tiny_recipe(
        base / "tiny.toml",
        mnist_root,
        train={"epochs": FIRST_EPOCHS},
        output={"log_every": 1},
        callbacks=[{"name": "mlflow"}, {"name": "wandb"}, {"name": "csv"}],
    )
    run = base / RUN_NAME
    with pytest.MonkeyPatch.context() as mp:
        for name in DROPPED:
            mp.delenv(name, raising=False)
        ganfw_run(recipe, run, base / "home")
        first, first_recipe = read_metrics(run / "metrics.jsonl"), (run / "recipe.toml").read_text()
        (run / "checkpoints" / f"step_{CUT:08d}.safetensors").unlink()
        ganfw_run(recipe, run, base / "home", "--resume", "--set", f"train.epochs={LAST_EPOCHS}")
    return TrackedRun(run, first, read_metrics(run / "metrics.jsonl"), first_recipe)


def expected_numbers(run: TrackedRun) -> dict[str, dict[int, float]]:
    """What a tracker must hold: each number once, at its step - the first process's up to the
    cut, the resumed process's past it (the steps it trained again were logged already)."""
    records = run.first + [r for r in run.final if r["step"] > CUT]
    expected: dict[str, dict[int, float]] = {}
    for record in records:
        for key, value in scalars(record).items():
            assert record["step"] not in expected.get(key, {}), (key, record["step"])
            expected.setdefault(key, {})[record["step"]] = value
    return expected
