"""The ``mlflow`` callback: a ganfw run as one MLflow run."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from ganfw.plugin import TrainerView, UserError
from ganfw_plugins.trackers import MlflowParams
from ganfw_plugins.trackers.tracker import Tracker, missing_package, recipe_name

#: MLflow takes at most 100 params in one call.
PARAMS_PER_CALL = 100
SQLITE = "sqlite:///"


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A recipe table as MLflow params: ``{"train": {"lr": 0.0002}}`` -> ``{"train.lr": "0.0002"}``;
    lists of tables by index (``callbacks.0.name``), other values as JSON (strings as they are)."""
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            value = {str(i): v for i, v in enumerate(value)}
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value if isinstance(value, str) else json.dumps(value)
    return flat


def local_store(run_dir: Path) -> str:
    """The store of a run tracked without a server: ``RUN/mlruns/mlflow.db`` (SQLite)."""
    folder = run_dir.resolve() / "mlruns"
    folder.mkdir(exist_ok=True)
    return f"{SQLITE}{folder / 'mlflow.db'}"


def artifact_location(tracking_uri: str) -> str | None:
    """Where a new experiment of a SQLite store keeps its files: ``artifacts/`` beside the
    database (MLflow's default is ``./mlruns`` in whatever folder the process runs from); a
    server decides for itself (``None``)."""
    if not tracking_uri.startswith(SQLITE):
        return None
    return (Path(tracking_uri[len(SQLITE) :]).resolve().parent / "artifacts").as_uri()


class MlflowTracker(Tracker):
    """Records the run in MLflow (see :mod:`ganfw_plugins.trackers.tracker` for what and when):

    - the store: ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else ``RUN/mlruns/mlflow.db``
      with the files in ``RUN/mlruns/artifacts``; the experiment ``experiment`` (default: the
      recipe's name), created when missing; the run named after the run directory, its tag
      ``ganfw.run_dir`` saying where that is;
    - params: the resolved recipe, flattened (:func:`flatten`), when the run is created (MLflow
      params never change; the artifact ``recipe.toml`` is the recipe each process trained with);
    - metrics: every number logged, by step; tags ``warning/<code>/<step>`` and ``stop/<step>``;
    - artifacts: ``samples/image_at_epoch_0001.png``..., ``checkpoints/step_<n>.safetensors``
      (the newest when a process ends), ``recipe.toml``;
    - status: RUNNING while a process trains, then FINISHED, or KILLED when interrupted or failed
      (``--resume`` sets it running again).
    """

    def __init__(self, params: MlflowParams):
        try:
            from mlflow.entities import Metric, Param
            from mlflow.exceptions import MlflowException
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing_package("MLflow tracking", "mlflow") from None
        # Its INFO lines on creating a store's tables would cut through the progress bar.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        super().__init__(params.log_checkpoint)
        self.params, self.metric, self.param = params, Metric, Param
        self.client_class, self.error = MlflowClient, MlflowException
        self.client: Any = None

    def open(self, view: TrainerView, run_id: str | None) -> str:
        run_dir = Path(view.run_dir)
        uri = self.params.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or local_store(run_dir)
        self.client = self.client_class(tracking_uri=uri)
        if run_id is None:
            run_id = self._create(view.recipe, run_dir, uri)
        else:
            self._reopen(run_id, uri)
        self.client.log_text(run_id, tomli_w.dumps(view.recipe), "recipe.toml")
        return run_id

    def _create(self, recipe: dict[str, Any], run_dir: Path, uri: str) -> str:
        name = self.params.experiment or recipe_name(run_dir)
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = (
            experiment.experiment_id if experiment else self.client.create_experiment(name, artifact_location(uri))
        )
        tags = {"ganfw.run_dir": str(run_dir.resolve())}
        run_id = self.client.create_run(experiment_id, run_name=run_dir.name, tags=tags).info.run_id
        params = [self.param(k, v) for k, v in flatten(recipe).items()]
        for start in range(0, len(params), PARAMS_PER_CALL):
            self.client.log_batch(run_id, params=params[start : start + PARAMS_PER_CALL])
        return run_id

    def _reopen(self, run_id: str, uri: str) -> None:
        try:
            self.client.get_run(run_id)
        except self.error as e:
            if e.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise UserError(
                f"mlflow: the MLflow run {run_id} that this checkpoint continues is not in {uri}; "
                "resume with the tracking_uri the run started with"
            ) from None
        self.client.update_run(run_id, status="RUNNING")

    def logged_steps(self) -> dict[str, int]:
        keys = self.client.get_run(self.run_id).data.metrics
        return {key: max(m.step for m in self.client.get_metric_history(self.run_id, key)) for key in keys}

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        batch = [self.metric(key, value, now, step) for key, value in metrics.items()]
        self.client.log_batch(self.run_id, metrics=batch)

    def note(self, key: str, text: str, step: int) -> None:
        self.client.set_tag(self.run_id, f"{key}/{step}", text)

    def log_grid(self, pixels: np.ndarray, step: int, epoch: int) -> None:
        self.client.log_image(self.run_id, pixels, artifact_file=f"samples/image_at_epoch_{epoch:04d}.png")

    def log_checkpoint(self, path: Path, step: int) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path="checkpoints")

    def close(self, finished: bool) -> None:
        self.client.set_terminated(self.run_id, status="FINISHED" if finished else "KILLED")
