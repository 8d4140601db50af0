"""Plugin ``trackers``: experiment tracking callbacks - ``mlflow`` (a local store in the run
directory, or a team's tracking server), ``wandb`` (Weights & Biases; offline without an account)
and ``csv`` (one ``metrics.csv`` in the run directory).

``mlflow`` and ``wandb`` need their optional packages (``pip install "ganfw[mlflow]"``,
``"ganfw[wandb]"``), imported only when a recipe names the callback. docs/tracking.md says how
to use each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2

#: Said of the ``experiment`` and ``project`` params' default.
RECIPE_NAME = "the recipe's name (the run directory's name without the date and time ganfw adds)"


@dataclass(frozen=True)
class MlflowParams:
    tracking_uri: str = param(
        "",
        "where runs are recorded: a tracking server (http://host:5000) or a store (sqlite:///path/mlflow.db); "
        "empty: MLFLOW_TRACKING_URI when set, else a store of its own in RUN/mlruns",
    )
    experiment: str = param("", f"the MLflow experiment the run belongs to; empty: {RECIPE_NAME}")
    log_checkpoint: bool = param(True, "upload the final checkpoint as an artifact when the run ends")


@dataclass(frozen=True)
class WandbParams:
    project: str = param("", f"the W&B project; empty: {RECIPE_NAME}")
    entity: str = param("", "the W&B team or user that owns the project; empty: your default entity")
    mode: Literal["auto", "online", "offline"] = param(
        "auto",
        "online: upload as the run goes; offline: write RUN/wandb only (upload later with wandb sync); "
        "auto: WANDB_MODE when set, else online where an API key is found (WANDB_API_KEY, wandb login) "
        "and offline elsewhere",
    )
    log_checkpoint: bool = param(True, "log the final checkpoint as a model artifact when the run ends")


@hookimpl
def ganfw_callbacks() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="mlflow",
            kind="callback",
            params=MlflowParams,
            summary="MLflow tracking: the recipe as params, every logged number by step, each epoch's "
            "grid and the final checkpoint as artifacts (a store in RUN/mlruns, or a tracking server)",
            factory="ganfw_plugins.trackers.mlflow_tracker:MlflowTracker",
        ),
        ComponentSpec(
            name="wandb",
            kind="callback",
            params=WandbParams,
            summary="Weights & Biases tracking: the recipe as config, every logged number by step, each "
            "epoch's grid, the final checkpoint as an artifact (offline without an account)",
            factory="ganfw_plugins.trackers.wandb_tracker:WandbTracker",
        ),
        ComponentSpec(
            name="csv",
            kind="callback",
            summary="metrics.csv in the run directory: a row per logged record, a column per number",
            factory="ganfw_plugins.trackers.csv_log:CsvLog",
        ),
    ]
