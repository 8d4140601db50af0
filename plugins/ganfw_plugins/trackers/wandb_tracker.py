"""The ``wandb`` callback: a ganfw run as one Weights & Biases run."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ganfw.plugin import TrainerView
from ganfw_plugins.tensorboard.callback import SAMPLES_TAG
from ganfw_plugins.trackers import WandbParams
from ganfw_plugins.trackers.tracker import Tracker, missing_package, recipe_name
from ganfw_plugins.trackers.wandb_log import last_steps, run_logs

#: The W&B server unless WANDB_BASE_URL names another.
DEFAULT_HOST = "https://api.wandb.ai"


def has_api_key() -> bool:
    """An API key is at hand: ``WANDB_API_KEY``, or the netrc entry ``wandb login`` writes for
    the server (``WANDB_BASE_URL``'s host; the netrc file ``NETRC`` names, else ``~/.netrc``)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    # a URL without a host (no scheme) can match only netrc's default entry
    host = urlparse(os.environ.get("WANDB_BASE_URL") or DEFAULT_HOST).hostname or ""
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


def resolve_mode(mode: str) -> str:
    """``auto`` -> ``WANDB_MODE`` when set, else ``online`` with an API key, else ``offline``."""
    if mode != "auto":
        return mode
    return os.environ.get("WANDB_MODE") or ("online" if has_api_key() else "offline")


class WandbTracker(Tracker):
    """Records the run in W&B (see :mod:`ganfw_plugins.trackers.tracker` for what and when):

    - the run: in ``project`` (default: the recipe's name) of ``entity``, named after the run
      directory, its files in ``RUN/wandb/`` (offline: upload them later with ``wandb sync
      RUN/wandb/offline-run-*``); ``--resume`` continues the same run id;
    - config: the resolved recipe (a resume updates it to the recipe it trains with);
    - history: every number logged, by step; the image ``samples`` (each epoch's grid, at the
      epoch's last step);
    - summary: ``warning/<code>`` (the latest of each code) and ``stop``, with their step;
    - the artifact ``checkpoint-<run id>`` (type ``model``): the newest checkpoint when a process
      ends, aliased ``step-<n>`` (the file is referenced where it is, not copied to a cache).

    When a process's part of the run ends, W&B is shut down in that process (``wandb.teardown``:
    its files are then complete on disk; another W&B run still open in the process ends too).
    """

    def __init__(self, params: WandbParams):
        try:
            import wandb
        except ImportError:
            raise missing_package("Weights & Biases tracking", "wandb") from None
        super().__init__(params.log_checkpoint)
        self.params = params
        # wandb's calls, not the module: the contract kit deep-copies callbacks, modules cannot be.
        self.wandb_init, self.wandb_image, self.wandb_artifact = wandb.init, wandb.Image, wandb.Artifact
        self.wandb_teardown = wandb.teardown
        self.run: Any = None
        self.dir: Path | None = None

    def open(self, view: TrainerView, run_id: str | None) -> str:
        run_dir = Path(view.run_dir)
        self.dir = run_dir / "wandb"  # wandb.init(dir=RUN) writes there
        self.run = self.wandb_init(
            project=self.params.project or recipe_name(run_dir),
            entity=self.params.entity or None,
            name=run_dir.name,
            dir=str(run_dir),
            id=run_id,
            resume="allow" if run_id else None,
            # WANDB_MODE passes through as set; wandb checks it (and takes more modes than it annotates)
            mode=resolve_mode(self.params.mode),  # type: ignore[arg-type]
            config=None if run_id else view.recipe,
        )
        if run_id:
            self.run.config.update(view.recipe, allow_val_change=True)
        return self.run.id

    def logged_steps(self) -> dict[str, int]:
        assert self.dir is not None and self.run_id is not None, "the tracker calls logged_steps after open"
        return last_steps(run_logs(self.dir, self.run_id))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(metrics, step=step)

    def note(self, key: str, text: str, step: int) -> None:
        self.run.summary[key] = f"step {step}: {text}"

    def log_grid(self, pixels: np.ndarray, step: int, epoch: int) -> None:
        self.run.log({SAMPLES_TAG: self.wandb_image(pixels, caption=f"epoch {epoch}")}, step=step)

    def log_checkpoint(self, path: Path, step: int) -> None:
        artifact = self.wandb_artifact(f"checkpoint-{self.run_id}", type="model", metadata={"step": step})
        artifact.add_file(str(path), policy="immutable")
        self.run.log_artifact(artifact, aliases=["latest", f"step-{step}"])

    def close(self, finished: bool) -> None:
        self.run.finish(exit_code=0 if finished else 1)
        # finish() returns before wandb's service has written the transaction log out; a resume
        # reads it (logged_steps). Ending the service waits for it (a later run starts another).
        self.wandb_teardown()
        self.run = None
