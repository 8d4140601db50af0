"""The ``mlflow`` callback, read back through ``mlflow.tracking.MlflowClient``: a real run cut
short and resumed (each step once, the grids, the checkpoints, the recipe), the contract kit,
and the one line without the package."""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.trackers import MlflowParams
from ganfw_plugins.trackers.mlflow_tracker import MlflowTracker, artifact_location, flatten
from tests.plugins.trackers.runs import (
    CUT,
    RUN_NAME,
    WARNING,
    TrackedRun,
    expected_numbers,
    grid_cells,
    probe_view,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for this module's tests (MLflow takes seconds to create its tables)."""
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'mlflow.db'}"


def the_run(run_dir: Path) -> tuple[MlflowClient, object]:
    """The client of the run's own store and the one MLflow run in it."""
    client = MlflowClient(tracking_uri=f"sqlite:///{run_dir / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("tiny")  # the recipe's name
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run


def test_flatten_names_each_value_by_its_path():
    recipe = {
        "train": {"epochs": 2, "lr": 0.0002, "compile": False},
        "generator": {"name": "dcgan", "params": {"widths": [16, 8]}},
        "callbacks": [{"name": "ema", "params": {"decay": 0.99}}, {"name": "csv"}],
    }
    assert flatten(recipe) == {
        "train.epochs": "2",
        "train.lr": "0.0002",
        "train.compile": "false",
        "generator.name": "dcgan",
        "generator.params.widths": "[16, 8]",
        "callbacks.0.name": "ema",
        "callbacks.0.params.decay": "0.99",
        "callbacks.1.name": "csv",
    }


def test_a_sqlite_store_keeps_its_files_beside_the_database(tmp_path):
    assert artifact_location(f"sqlite:///{tmp_path}/db/mlflow.db") == (tmp_path / "db" / "artifacts").as_uri()
    assert artifact_location("http://mlflow.example:5000") is None


@pytest.mark.slow
def test_metrics_are_logged_once_at_their_steps_over_a_resume(tracked: TrackedRun):
    client, run = the_run(tracked.path)
    expected = expected_numbers(tracked)
    assert set(run.data.metrics) == set(expected)
    for key, by_step in expected.items():
        history = client.get_metric_history(run.info.run_id, key)
        assert sorted(m.step for m in history) == sorted(by_step), key  # each step once
        assert {m.step: m.value for m in history} == by_step, key
    assert max(expected["loss/d_loss"]) == 6 and CUT in expected["epoch/seconds"]


@pytest.mark.slow
def test_the_run_is_named_finished_and_holds_the_recipe(tracked: TrackedRun):
    client, run = the_run(tracked.path)
    assert (run.info.run_name, run.info.status) == (RUN_NAME, "FINISHED")
    assert run.data.tags["ganfw.run_dir"] == str(tracked.path.resolve())
    assert run.data.params == flatten(tomllib.loads(tracked.first_recipe))  # as the run started
    assert run.data.params["train.epochs"] == "2"
    saved = Path(client.download_artifacts(run.info.run_id, "recipe.toml", str(tracked.path.parent)))
    assert tomllib.loads(saved.read_text()) == tomllib.loads((tracked.path / "recipe.toml").read_text())


@pytest.mark.slow
def test_each_epoch_grid_and_each_final_checkpoint_is_an_artifact(tracked: TrackedRun, tmp_path):
    client, run = the_run(tracked.path)
    run_id = run.info.run_id
    grids = [f.path for f in client.list_artifacts(run_id, "samples")]
    assert grids == [f"samples/image_at_epoch_{e:04d}.png" for e in (1, 2, 3)]
    for epoch, path in enumerate(grids, 1):
        pixels = np.asarray(Image.open(client.download_artifacts(run_id, path, str(tmp_path))))
        assert pixels.shape == (62, 62)  # 4 grey 28 x 28 images, 2 a row, 2 pixels around each
        assert np.array_equal(grid_cells(pixels, 28), tracked.grid(epoch)), path
    checkpoints = [f.path for f in client.list_artifacts(run_id, "checkpoints")]
    assert checkpoints == ["checkpoints/step_00000004.safetensors", "checkpoints/step_00000006.safetensors"]
    last = Path(client.download_artifacts(run_id, checkpoints[-1], str(tmp_path)))
    assert last.read_bytes() == (tracked.path / "checkpoints" / "step_00000006.safetensors").read_bytes()


@pytest.mark.slow
def test_the_contract_kit_passes_with_a_shared_store(store):
    check_component(load_registry().resolve("callback", "mlflow"), params={"tracking_uri": store})
    client = MlflowClient(tracking_uri=store)
    (run,) = client.search_runs([client.get_experiment_by_name("whole").experiment_id])
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss/d_loss")] == list(range(1, 9))


@pytest.mark.slow
def test_warnings_and_a_stop_are_tags_and_a_stop_finishes_the_run(store, tmp_path):
    tracker, view = (
        MlflowTracker(MlflowParams(tracking_uri=store, log_checkpoint=False)),
        probe_view(tmp_path / "run", 3),
    )
    tracker.on_run_start(view)
    tracker.on_log(view, WARNING)
    tracker.on_log(view, {"event": "stop", "step": 3, "reason": "early stopping: fid did not improve"})
    tracker.on_run_end(view)  # step 3 of 8: not the end, but stopped
    run = MlflowClient(tracking_uri=store).get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["warning/d-winning/3"] == "**d-winning** (epoch 1, health): D is right about 99% of images"
    assert run.data.tags["stop/3"] == "early stopping: fid did not improve"


@pytest.mark.slow
def test_resuming_a_run_missing_from_the_store_is_one_line(store, tmp_path):
    tracker = MlflowTracker(MlflowParams(tracking_uri=store))
    tracker.load_state_dict({"run_id": "0123456789abcdef"})
    with pytest.raises(UserError, match="the MLflow run 0123456789abcdef that this checkpoint continues is not in"):
        tracker.on_run_start(probe_view(tmp_path / "run", 2))


def test_without_the_package_the_callback_is_one_user_error(monkeypatch):
    for name in ["mlflow", *(m for m in sys.modules if m.startswith("mlflow."))]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it (or a module of it) fails
    message = 'MLflow tracking (the callback "mlflow") needs the package mlflow: pip install "ganfw[mlflow]"'
    with pytest.raises(UserError, match=f"^{re.escape(message)}$"):
        MlflowTracker(MlflowParams())
