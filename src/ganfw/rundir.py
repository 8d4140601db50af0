"""The run directory: what a training run leaves behind, and where.

<run>/recipe.toml                 the fully resolved recipe (repeat the run with it)
<run>/metrics.jsonl               one JSON object per logged step / epoch / evaluation
<run>/samples/image_at_epoch_0001.png ...   4x4 grids from fixed noise, G in eval mode
<run>/training.gif                the grids as an animation
<run>/losses.png                  loss and D-output curves (and eval metrics)
<run>/checkpoints/step_00000235.safetensors ...   see ganfw.checkpoint
<run>/report.html                 the run on one self-contained page ([output] report)
<run>/tensorboard/                TensorBoard event files ([output] tensorboard)
<run>/mlruns/, <run>/wandb/, <run>/metrics.csv   the trackers' records (the mlflow, wandb and csv callbacks)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ganfw.atomic import write_text
from ganfw.errors import UserError
from ganfw.paths import shown, user_path

if TYPE_CHECKING:  # this module must not import torch (ganfw report reads run directories)
    from ganfw.distributed import Ranks


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

    @property
    def report(self) -> Path:
        return self.path / "report.html"

    def sample_grid(self, epoch: int) -> Path:
        """The grid after ``epoch`` (1-based), named as in the course."""
        return self.samples / f"image_at_epoch_{epoch:04d}.png"

    def sample_grids(self) -> list[Path]:
        return sorted(self.samples.glob("image_at_epoch_*.png"))


#: What a run writes into its directory: anything else there is the user's and never touched.
RUN_FILES = {
    "mlruns",
    "wandb",
    "metrics.csv",
    "recipe.toml",
    "metrics.jsonl",
    "samples",
    "training.gif",
    "losses.png",
    "checkpoints",
    "report.html",
    "tensorboard",
    ".lock",
}

#: Lock files held by this process (kept open: the lock lasts until the process ends, however).
_HELD: list[int] = []
#: The folders this process created for each run directory, the run directory first, then the
#: parents it needed (see :func:`discard_if_unused`).
_CREATED: dict[Path, list[Path]] = {}
#: ``--resume auto``: continue the run when its directory holds a checkpoint, else start it.
AUTO = "auto"


def new_run_dir(parent: str | Path, recipe_path: Path) -> RunDir:
    """``<parent>/<recipe stem>-<YYYYmmdd-HHMMSS>`` (suffixed if that already exists), created
    and locked."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = user_path(parent, "output.dir") / f"{recipe_path.stem}-{stamp}"
    path, n = base, 1
    try:
        missing = _missing_folders(base.parent)  # a name too long fails here already
        while True:
            try:
                path.mkdir(parents=True)
                break
            except FileExistsError:
                n += 1
                path = base.with_name(f"{base.name}-{n}")
    except OSError as e:
        raise UserError(f"{shown(path)}: cannot create the run directory ({e.strerror})") from None
    _CREATED[path] = [path, *missing]
    lock_run_dir(path)
    return RunDir(path)


def _missing_folders(path: Path) -> list[Path]:
    """``path`` and its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists() and path != path.parent:
        missing.append(path)
        path = path.parent
    return missing


def open_run_dir(
    out: Path | None,
    resume: bool,
    parent: str | Path,
    recipe_path: Path,
    ranks: Ranks,
    flags: tuple[str, str] = ("--out DIR", "--resume"),
) -> RunDir:
    """Where a run of the recipe at ``recipe_path`` writes: ``out``, claimed (and locked on rank
    0), else a new directory under ``parent``. ``resume``: as :func:`resuming` decides it.
    ``flags``: how the caller names ``out`` and ``resume`` in messages."""
    out_flag, resume_flag = flags
    if resume and out is None:
        raise UserError(f"{resume_flag} needs {out_flag}, the run directory to continue")
    if ranks.distributed and out is None:
        raise UserError(f"under torchrun, pass {out_flag} so that every rank uses the same run directory")
    return claim_run_dir(out, resume, lock=ranks.is_main) if out is not None else new_run_dir(parent, recipe_path)


def resuming(out: Path | None, resume: bool | str, flags: tuple[str, str] = ("--out DIR", "--resume")) -> bool:
    """Whether a run into ``out`` continues: ``resume`` true; or :data:`AUTO` and ``out`` holds
    a checkpoint (a job scheduler resubmitting one command: the first submission starts the
    run, the next ones continue it). Every rank under torchrun decides alike: no checkpoint is
    written before all ranks have joined."""
    out_flag, resume_flag = flags
    if resume != AUTO:
        return bool(resume)
    if out is None:
        raise UserError(f"{resume_flag} {AUTO} needs {out_flag}, the run directory to continue or start")
    return has_checkpoint(RunDir(out))


def has_checkpoint(run: RunDir) -> bool:
    """Whether ``run`` holds a checkpoint file (intact or not: resuming reads the newest intact one)."""
    try:
        return any(run.checkpoints.glob("step_*.safetensors"))
    except OSError:  # not a folder, not readable: claiming the directory says why
        return False


@contextlib.contextmanager
def locks_released() -> Iterator[None]:
    """Release, on the way out, the run-directory locks taken inside: a command holds its lock
    until its process ends, but a notebook goes on in the same process and may train into the
    same directory again."""
    held = len(_HELD)
    try:
        yield
    finally:
        while len(_HELD) > held:
            os.close(_HELD.pop())


def lock_run_dir(path: Path) -> None:
    """Take ``<path>/.lock`` (an exclusive ``flock``, released when this process ends, even by a
    kill): a second run into the same directory refuses instead of interleaving with this one."""
    if not path.exists():
        _CREATED.setdefault(path, [path, *_missing_folders(path.parent)])
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise UserError(f"{shown(e.filename or path)}: cannot use as a run directory ({e.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(
            f"{path}: another ganfw run is writing into this directory (it holds {path / '.lock'}); "
            "wait for it to end or choose another --out"
        ) from None
    _HELD.append(fd)


def discard_if_unused(path: Path) -> None:
    """Remove ``path`` if this process created it and it holds nothing but the lock, and the
    parents created for it that are left empty (a run refused before training leaves no
    directory behind: not ``runs/<recipe>-<time>/``, nor ``runs/``)."""
    try:
        if path not in _CREATED or [p.name for p in path.iterdir()] != [".lock"]:
            return
        (path / ".lock").unlink()
        for folder in _CREATED.pop(path):
            folder.rmdir()  # OSError once a folder holds something else
    except OSError:
        pass


def claim_run_dir(path: Path, resume: bool, lock: bool = True) -> RunDir:
    """Check that ``path`` may receive a new run or holds one to resume, and lock it.

    A directory holding only what a run writes, without a checkpoint (a run that died before its
    first), is accepted both ways: the run starts over. ``lock``: false on the ranks other than 0
    under torchrun (rank 0 holds the lock for all of them, and alone cleans up).
    """
    run = RunDir(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: not a directory (--out names a run directory)")
    if resume and not (run.recipe.exists() or run.checkpoints.is_dir()):
        raise UserError(f"{path}: no run to resume (no recipe.toml, no checkpoints/ folder)")
    refusal = f"{path}: already holds files; pass --resume to continue that run, or another --out"
    if not resume and path.is_dir() and any(p.name not in RUN_FILES for p in path.iterdir()):
        raise UserError(refusal)
    if lock:
        lock_run_dir(path)
    checkpointed = has_checkpoint(run)
    if not resume and checkpointed:
        raise UserError(refusal)
    if lock:
        remove_temporary_files(run)
        if not checkpointed:  # nothing to continue: what the dead run logged goes
            run.metrics.unlink(missing_ok=True)
    return run


def remove_temporary_files(run: RunDir) -> None:
    """Delete the temporary files of atomic writes that a killed run left (``.<name>.*.tmp``);
    only safe while holding the directory's lock."""
    for folder in (run.path, run.checkpoints, run.samples):
        if folder.is_dir():
            for tmp in folder.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)


class MetricsLog:
    """Append-only ``metrics.jsonl``; each line is flushed so a killed run keeps its log.
    ``listener`` (the training loop's callbacks) is told of each record once it is written."""

    def __init__(self, path: Path, listener: Callable[[dict[str, Any]], None] | None = None):
        self.path, self.listener = path, listener
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open while the run writes

    def write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        if self.listener is not None:
            self.listener(record)

    def close(self) -> None:
        self._file.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of ``metrics.jsonl`` (see :func:`parse_metrics`)."""
    return parse_metrics(path.read_text(encoding="utf-8", errors="replace"))


def parse_metrics(text: str) -> list[dict[str, Any]]:
    """The records of the text of a ``metrics.jsonl``; a line that is not a JSON object with an
    integer ``step`` (a write torn by a kill, a stray edit) is dropped, never fatal."""
    records = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            records.append(record)
    return records


def truncate_metrics(path: Path, step: int, records: list[dict[str, Any]]) -> None:
    """Rewrite ``path`` keeping only the ``records`` up to ``step`` (resuming from that step)."""
    kept = [r for r in records if r["step"] <= step]
    write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
