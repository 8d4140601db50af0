"""The run directory: what a training run leaves behind, and where.

    <run>/recipe.toml                 the fully resolved recipe (repeat the run with it)
    <run>/metrics.jsonl               one JSON object per logged step / epoch / evaluation
    <run>/samples/image_at_epoch_0001.png ...   4x4 grids from fixed noise, G in eval mode
    <run>/training.gif                the grids as an animation
    <run>/losses.png                  loss and D-output curves (and eval metrics)
    <run>/checkpoints/step_00000235.safetensors ...   see ganfw.checkpoint
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganfw.atomic import write_text
from ganfw.errors import UserError


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def recipe(self) -> Path:
        return self.path / "recipe.toml"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def gif(self) -> Path:
        return self.path / "training.gif"

    @property
    def curves(self) -> Path:
        return self.path / "losses.png"

    def sample_grid(self, epoch: int) -> Path:
        """The grid after ``epoch`` (1-based), named as in the course."""
        return self.samples / f"image_at_epoch_{epoch:04d}.png"

    def sample_grids(self) -> list[Path]:
        return sorted(self.samples.glob("image_at_epoch_*.png"))


def new_run_dir(parent: str | Path, recipe_path: Path) -> RunDir:
    """``<parent>/<recipe stem>-<YYYYmmdd-HHMMSS>`` (suffixed if that already exists)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path(parent) / f"{recipe_path.stem}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return RunDir(path)


def claim_run_dir(path: Path, resume: bool) -> RunDir:
    """Check that ``path`` may receive a new run (empty or absent) or holds one to resume."""
    run = RunDir(path)
    if resume:
        if not run.checkpoints.is_dir():
            raise UserError(f"{path}: no run to resume (no checkpoints/ folder)")
    elif path.exists() and any(path.iterdir()):
        raise UserError(f"{path}: already holds files; pass --resume to continue that run, or another --out")
    return run


class MetricsLog:
    """Append-only ``metrics.jsonl``; each line is flushed so a killed run keeps its log."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def truncate_metrics(path: Path, step: int, records: list[dict[str, Any]]) -> None:
    """Rewrite ``path`` keeping only the ``records`` up to ``step`` (resuming from that step)."""
    kept = [r for r in records if r.get("step", 0) <= step]
    write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
