"""The plugin ``trackers`` and what its trackers share: the hook, the names taken from the run
directory, the final checkpoint, the grid's pixels, rank 0 alone, and the resume rule (a step the
tracker holds is not logged again) on a scripted tracker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

import ganfw_plugins.trackers as trackers
from ganfw.artifacts import save_grid
from ganfw.testing import check_installed, plugin_specs
from ganfw.testing.probes import FakeTrainerView
from ganfw_plugins.trackers.tracker import Tracker, grid_pixels, recipe_name
from tests.plugins.trackers.runs import PNG_SCALE, WARNING, grid_cells, probe_view


def test_the_plugin_declares_three_callbacks():
    specs = plugin_specs(trackers)
    assert [(s.name, s.kind) for s in specs] == [("mlflow", "callback"), ("wandb", "callback"), ("csv", "callback")]
    check_installed("trackers", specs)


def test_the_recipe_name_is_the_run_directory_name_less_its_date():
    assert recipe_name(Path("runs/mnist_quick-20260101-120000")) == "mnist_quick"
    assert recipe_name(Path("runs/mnist_quick-20260101-120000-3")) == "mnist_quick"  # a second run that second
    assert recipe_name(Path("runs/my-experiment")) == "my-experiment"  # --out names it


def test_grid_pixels_lay_out_the_images_as_the_runs_png_grid(tmp_path):
    generator = torch.Generator().manual_seed(0)
    for shape, picture in (((4, 1, 8, 8), (22, 22)), ((7, 3, 8, 8), (32, 32, 3))):  # 2 and 3 a row
        images = torch.rand(shape, generator=generator) * 2 - 1
        save_grid(images, tmp_path / "grid.png")
        png = grid_cells(np.asarray(Image.open(tmp_path / "grid.png")), 8, PNG_SCALE)
        pixels = grid_pixels(images)
        assert pixels.shape == picture and pixels.dtype == np.uint8
        assert np.array_equal(grid_cells(pixels, 8), png), shape


class Scripted(Tracker):
    """A tracker that holds its calls in lists (a resumed one starts holding ``held``)."""

    def __init__(self, held: dict[str, int] | None = None):
        super().__init__(log_checkpoint=True)
        self.calls: list[tuple] = []
        self.holds = held or {}

    def open(self, view, run_id):
        self.calls.append(("open", run_id))
        return run_id or "run-1"

    def logged_steps(self):
        return self.holds

    def log_metrics(self, metrics, step):
        self.calls.append(("metrics", step, sorted(metrics)))

    def note(self, key, text, step):
        self.calls.append(("note", key, step))

    def log_grid(self, pixels, step, epoch):
        self.calls.append(("grid", step, epoch, pixels.shape))

    def log_checkpoint(self, path, step):
        self.calls.append(("checkpoint", path.name, step))

    def close(self, finished):
        self.calls.append(("close", finished))


def drive(tracker: Scripted, view: FakeTrainerView, steps: range) -> None:
    """on_run_start, then each step's log line (and at an epoch's end its record and grid),
    on_run_end."""
    tracker.on_run_start(view)
    for step in steps:
        view.step, view.epoch = step, step // view.steps_per_epoch
        tracker.on_log(view, {"step": step, "epoch": view.epoch + 1, "d_loss": 1.0, "g_loss": 2.0})
        if step % view.steps_per_epoch == 0:
            tracker.on_log(view, {"event": "epoch", "epoch": view.epoch, "step": step, "seconds": 0.5})
            view.latest_samples = torch.zeros(4, 1, 8, 8)
            tracker.on_epoch_end(view)
    tracker.on_run_end(view)


def test_a_resumed_tracker_skips_the_steps_it_holds(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "step_00000008.safetensors").touch()
    first = Scripted()
    drive(first, probe_view(tmp_path), range(1, 6))  # killed after step 5 of 8
    assert first.state_dict() == {"run_id": "run-1"}
    assert first.calls[-1] == ("close", False)
    resumed = Scripted(held={"loss/d_loss": 5, "loss/g_loss": 5, "epoch/seconds": 4, "samples": 4})
    resumed.load_state_dict(first.state_dict())
    drive(resumed, probe_view(tmp_path, 4), range(5, 9))  # from the checkpoint at step 4 to the end
    assert resumed.calls == [
        ("open", "run-1"),
        ("metrics", 6, ["loss/d_loss", "loss/g_loss"]),  # step 5 is held
        ("metrics", 7, ["loss/d_loss", "loss/g_loss"]),
        ("metrics", 8, ["loss/d_loss", "loss/g_loss"]),
        ("metrics", 8, ["epoch/seconds"]),
        ("grid", 8, 2, (22, 22)),  # 4 grey 8 x 8 images, 2 a row, 2 pixels around each
        ("checkpoint", "step_00000008.safetensors", 8),
        ("close", True),
    ]


def test_warnings_and_a_stop_are_notes_and_a_stop_finishes(tmp_path):
    tracker, view = Scripted(), probe_view(tmp_path, 3)
    tracker.on_run_start(view)
    tracker.on_log(view, WARNING)
    tracker.on_log(view, {"event": "stop", "step": 3, "reason": "early stopping"})
    tracker.on_run_end(view)
    assert tracker.calls == [("open", None), ("note", "warning/d-winning", 3), ("note", "stop", 3), ("close", True)]


def test_other_ranks_call_no_tracker(tmp_path):
    tracker = Scripted()
    drive(tracker, probe_view(tmp_path, is_main=False), range(1, 9))
    assert tracker.calls == [] and tracker.state_dict() == {"run_id": None}
