"""The Python API: ``ganfw run``, ``ganfw sample`` and ``ganfw evaluate`` for notebooks and
scripts, through the code the commands use (see docs/python-api.md)::

    recipe = load_recipe("mnist_quick", {"train.epochs": 1})   # a bundled name or a file
    run = train(recipe)                    # Run: metrics(), checkpoint, sample_grids, report
    generator = load_generator(run)        # or a checkpoint file
    samples = generator.sample(16)         # Samples: images (16, 1, 28, 28) in [-1, 1], labels
    scores = score(generator, n=1000)      # Scores: scores, intervals, protocol, details

Images are (N, C, H, W) float32 tensors in [-1, 1]; labels (N,) int64 class indices. Every
problem with what the caller passed is a one-line :class:`~ganfw.errors.UserError`.
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import tomli_w
import torch
from torch import Tensor

from ganfw import engine, rundir
from ganfw import recipe as recipes
from ganfw.bundled import recipe_file
from ganfw.checkpoint import latest_checkpoint, list_checkpoints
from ganfw.contracts import Generator, as_image_shape
from ganfw.distributed import Ranks, ranks_from_env
from ganfw.errors import UserError
from ganfw.evaluation import datasets
from ganfw.evaluation.cli import evaluate_target, saved_generator, target_data, target_images
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.evaluate import Evaluation
from ganfw.evaluation.images import to_images, to_labels
from ganfw.evaluation.protocols import protocol_spec
from ganfw.plugins import Registry, load_registry
from ganfw.progress import PlainReporter, Reporter, RichReporter, SilentReporter
from ganfw.recipe import Recipe
from ganfw.rundir import RunDir, read_metrics
from ganfw.sampling import Samples, SavedGenerator, draw_saved, load_saved

__all__ = [
    "LoadedGenerator",
    "Recipe",
    "Run",
    "Samples",
    "Scores",
    "TrainingInterrupted",
    "load_generator",
    "load_recipe",
    "score",
    "train",
]

PathLike = str | os.PathLike[str]
#: How :func:`train` shows its progress (see :func:`reporter`).
Progress = Literal["auto", "bar", "plain", "none"]
#: What :func:`score` returns: ``scores`` ({"fid": ...}), ``intervals`` (FID's bootstrap
#: interval), ``protocol`` (what was measured against what), ``details``, ``seconds``.
Scores = Evaluation
#: Images held in memory: (N, C, H, W) (or (N, H, W) grey), floats in [-1, 1] or uint8 0..255.
ImageArray = Tensor | np.ndarray


@functools.cache
def registry() -> Registry:
    """The installed plugins' components, loaded once per process (``GANFW_DISABLE_PLUGINS``
    applies; a plugin installed later needs a new process); a plugin that fails to load is a
    warning, as the CLI prints it."""
    loaded = load_registry()
    for problem in loaded.problems:
        warnings.warn(problem.line(), stacklevel=2)
    return loaded


# ----------------------------------------------------------------------------- recipes
def load_recipe(recipe: PathLike, overrides: Mapping[str, Any] | Sequence[str] = ()) -> Recipe:
    """Read, override and validate a recipe, as ``ganfw run RECIPE --set ...`` does.

    Args:
        recipe: a recipe file, or the name of a bundled recipe (``"mnist_quick"``; an existing
            file of that name wins).
        overrides: ``{"train.epochs": 1, "data.limit": 512}`` (dotted keys; values written as
            TOML, dicts as inline tables) or ``["train.epochs=1"]``; each one is a ``--set``.
    """
    return recipes.load_recipe(recipe_file(os.fspath(recipe)), registry(), override_lines(overrides))


def override_lines(overrides: Mapping[str, Any] | Sequence[str]) -> list[str]:
    """The ``--set KEY=VALUE`` texts that ``overrides`` stand for: ``{"train.epochs": 1}`` ->
    ``["train.epochs=1"]``; a list of such texts passes as it is."""
    if isinstance(overrides, str):
        raise TypeError("overrides: a mapping of dotted keys to values, or a list of 'key=value' strings")
    if isinstance(overrides, Mapping):
        return [f"{key}={toml_value(value, str(key))}" for key, value in overrides.items()]
    return list(overrides)


def toml_value(value: Any, key: str) -> str:
    """``value`` as an inline TOML value (``key`` names it in errors): tables as ``{a = 1}``,
    lists and tuples as arrays, paths as strings."""
    if isinstance(value, Mapping):
        items = (f"{toml_value(str(k), key)} = {toml_value(v, key)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v, key) for v in value) + "]"
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    try:
        return tomli_w.dumps({"v": value}).removeprefix("v = ").strip()
    except TypeError:
        raise UserError(
            f"overrides: {key}: {value!r} has no TOML form; use a string, number, boolean, list or dict"
        ) from None


# ----------------------------------------------------------------------------- runs
@dataclass(frozen=True)
class Run:
    """A run directory and what training left in it (README: "The run directory").

    ``Run(path)`` opens an existing one; :func:`train` returns the one it trained.
    """

    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.path.is_dir():
            raise UserError(f"{self.path}: no such run directory")

    def metrics(self, event: str | None = None) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl``, oldest first (see docs: every record has an
        integer ``step``). ``event``: only the records of that event (``"start"``, ``"epoch"``,
        ``"eval"``, ``"warning"``, ``"stop"``), or ``"step"`` for the step windows (the records
        without an event: losses, D outputs, images/s)."""
        path = RunDir(self.path).metrics
        records = read_metrics(path) if path.is_file() else []
        return records if event is None else [r for r in records if r.get("event", "step") == event]

    @property
    def recipe(self) -> Recipe:
        """The fully resolved recipe the run saved (``recipe.toml``), validated."""
        return recipes.load_recipe(RunDir(self.path).recipe, registry())

    @property
    def checkpoints(self) -> list[Path]:
        """Every checkpoint, oldest first."""
        return list_checkpoints(RunDir(self.path).checkpoints)

    @property
    def checkpoint(self) -> Path | None:
        """The newest checkpoint (``None`` before the first)."""
        return latest_checkpoint(RunDir(self.path).checkpoints)

    @property
    def sample_grids(self) -> list[Path]:
        """The PNG grid of each epoch so far, from fixed noise, oldest first."""
        return RunDir(self.path).sample_grids()

    @property
    def report(self) -> Path | None:
        """``report.html`` (the report callback's, or ``ganfw report``'s), if there is one."""
        path = RunDir(self.path).report
        return path if path.is_file() else None


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (a notebook's "interrupt") stopped :func:`train` once the step it was in had been
    checkpointed. ``run``: the run so far; ``train(recipe, out=run.path, resume=True)`` goes on."""

    def __init__(self, run: Run):
        self.run = run
        super().__init__(
            f"training interrupted; checkpoint {run.checkpoint}; continue it with "
            f"train(recipe, out={str(run.path)!r}, resume=True)"
        )


def reporter(progress: Progress, ranks: Ranks) -> Reporter:
    """The progress display ``progress`` names: a live rich bar (``"bar"``), a line on stderr at
    most every 10 s and one per epoch (``"plain"``), nothing (``"none"``); ``"auto"``: the bar
    in a terminal, plain lines elsewhere (a notebook, a log file). Under torchrun the ranks other
    than 0 show nothing."""
    if progress not in get_args(Progress):
        raise UserError(f"progress={progress!r}: choose one of {', '.join(map(repr, get_args(Progress)))}")
    if not ranks.is_main or progress == "none":
        return SilentReporter()
    if progress == "auto":
        progress = "bar" if in_terminal() else "plain"
    return RichReporter() if progress == "bar" else PlainReporter()


def in_terminal() -> bool:
    """Whether stderr is a terminal and no Jupyter kernel's stream: some kernels' streams say
    they are terminals, and rich's live bar in a notebook needs ipywidgets, which ganfw does not
    require (plain lines show in any notebook)."""
    kernel = sys.modules.get("ipykernel.iostream")
    return sys.stderr.isatty() and not (kernel is not None and isinstance(sys.stderr, kernel.OutStream))


def train(
    recipe: Recipe | PathLike, out: PathLike | None = None, resume: bool = False, progress: Progress = "auto"
) -> Run:
    """Train ``recipe`` (a :class:`Recipe`, or a file or bundled name loaded without overrides)
    into a run directory, as ``ganfw run`` does, and return the :class:`Run`.

    Args:
        out: the run directory (default: ``<output.dir>/<recipe name>-<time>``).
        resume: go on from the newest checkpoint in ``out``.
        progress: ``"auto"``, ``"bar"``, ``"plain"`` or ``"none"`` (see :func:`reporter`).

    Raises:
        TrainingInterrupted: on Ctrl-C, once the current step is checkpointed.
        UserError: a recipe, data or directory problem, or training that cannot go on (a
            NaN loss...), in one line.
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    ranks = ranks_from_env()
    display = reporter(progress, ranks)
    with rundir.locks_released():  # a notebook may train into the same directory again
        files = rundir.open_run_dir(
            None if out is None else Path(out),
            resume,
            recipe.output.dir,
            recipe.path,
            ranks,
            flags=("out=", "resume=True"),
        )
        display.message(f"run directory: {files.path}")
        finished = engine.train(recipe, files, display, resume, registry())
    run = Run(files.path)
    if not finished:
        raise TrainingInterrupted(run)
    return run


# ----------------------------------------------------------------------------- generators
@dataclass(frozen=True)
class LoadedGenerator:
    """A trained generator rebuilt from a checkpoint: the run's sampling generator (its EMA when
    the run kept one, else G), in eval mode."""

    saved: SavedGenerator

    @property
    def generator(self) -> Generator:
        """The network: ``generator(z)``, or ``generator(z, labels)`` when conditional; ``z``
        (N, Z) from ``generator.sample_latent(N)``."""
        return self.saved.generator

    @property
    def num_classes(self) -> int:
        """K > 0 for a class-conditional generator, else 0."""
        return self.saved.generator.num_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        """The training dataset's class names (empty when it has none)."""
        return self.saved.class_names

    @property
    def checkpoint(self) -> Path:
        return self.saved.path

    @property
    def recipe(self) -> Recipe:
        """The recipe stored in the checkpoint."""
        return self.saved.recipe

    def sample(self, n: int, seed: int = 0, label: int | str | None = None) -> Samples:
        """``n`` images drawn from noise seeded by ``seed``, as ``ganfw sample`` draws them.

        ``label`` (conditional generators): a class index 0..K-1 or name for every image;
        ``"all"`` for classes 0..K-1 in turn (``n`` rounded up to a multiple of K; save with
        ``columns=num_classes`` for one column per class); ``None`` for uniform classes.
        Returns images (n, C, H, W) in [-1, 1] and, when conditional, their labels (n,).
        """
        check_count(n)
        return draw_saved(self.saved, n, seed, None if label is None else str(label), option="label")[0]


def load_generator(target: Run | PathLike, device: str = "cpu") -> LoadedGenerator:
    """The generator saved in ``target``: a run (its newest checkpoint) or a checkpoint file,
    on ``device``."""
    return LoadedGenerator(load_saved(_path(target), registry(), device))


# ----------------------------------------------------------------------------- scores
def score(
    target: ImageArray | Samples | LoadedGenerator | Run | PathLike,
    *,
    dataset: PathLike | None = None,
    n: int | None = None,
    metrics: Sequence[str] | None = None,
    labels: ImageArray | None = None,
    seed: int = 0,
    features: Literal["auto", "judge", "inception", "dinov2"] | None = None,
    bootstrap: int | None = None,
    data_root: PathLike | None = None,
    protocol: Literal["quick", "paper"] = "quick",
) -> Scores:
    """Score images against a dataset's held-out split, as ``ganfw evaluate`` does.

    Args:
        target: images (N, C, H, W) (or (N, H, W) grey) in [-1, 1] or uint8, or :class:`Samples`
            (with their labels); a generator, run or checkpoint, from which ``n`` images are
            drawn (uniform classes when conditional); or a ``.npy``/``.pt``/``.png`` file.
        dataset: a dataset name (``"mnist"``) or a recipe file; needed for images, else the
            checkpoint's recipe's.
        n: images to draw from a generator, or the first ``n`` of the images (default: the
            protocol's, 10,000 quick, 50,000 paper).
        metrics: metric names (default: every installed one that applies).
        labels: (N,) int class indices the images were generated for (conditional accuracy).
        seed: of the noise, the metrics' random subsets and the bootstrap.
        features: ``"judge"`` (the dataset's classifier), ``"inception"`` (as torch-fidelity),
            ``"dinov2"`` (FD-DINOv2) or ``"auto"`` (default: the protocol's).
        bootstrap: resamples for FID's 95 % interval (0: none; default: 200 in the judge's
            features, none in a network's).
        data_root: where the dataset's files are (default: ``data.root``, ``GANFW_DATA``, the
            user cache).
        protocol: ``"quick"`` (the held-out split) or ``"paper"`` (the training set, as papers
            report; docs/metrics.md).
    """
    n, space = _protocol_defaults(protocol, n, features)
    if bootstrap is not None and bootstrap < 0:
        raise UserError(f"bootstrap={bootstrap}: ask for 0 resamples (no interval) or more")
    root = None if data_root is None else os.fspath(data_root)
    name = None if dataset is None else os.fspath(dataset)
    if isinstance(target, (Tensor, np.ndarray, Samples)):
        data, images = _in_memory(target, labels, name, root, n)
    else:
        if labels is not None:
            raise UserError("labels= goes with images in memory; a generator draws its own, a file carries its own")
        saved = target.saved if isinstance(target, LoadedGenerator) else saved_generator(_path(target), registry())
        path = saved.path if saved is not None else _path(target)
        data = target_data(path, saved, registry(), name, root)
        images = functools.partial(target_images, path, saved, data, n, seed)
    return evaluate_target(
        data,
        registry(),
        images,
        metrics=None if metrics is None else list(metrics),
        seed=seed,
        features=space,
        bootstrap=bootstrap,
        protocol=protocol,
    )


def _protocol_defaults(protocol: str, n: int | None, features: str | None) -> tuple[int, str]:
    """``n`` and ``features``, or the ``protocol``'s where ``None``; ``n`` checked."""
    spec = protocol_spec(protocol)
    n = spec.n if n is None else n
    check_count(n)
    return n, spec.features if features is None else features


def _in_memory(
    target: ImageArray | Samples, labels: ImageArray | None, dataset: str | None, root: str | None, n: int
) -> tuple[EvalData, Callable[[], tuple[Tensor, Tensor | None]]]:
    """The dataset to score images in memory against, and the checked images (the first ``n``,
    (n, C, H, W) in [-1, 1]) with their labels (n,) int64 or ``None``."""
    if dataset is None:
        raise UserError(
            "images need dataset=, the data to score them against (a dataset name such as 'mnist', or a recipe file)"
        )
    data = datasets.from_argument(dataset, registry(), root)
    pixels = target.images if isinstance(target, Samples) else target
    if isinstance(target, Samples) and labels is None:
        labels = target.labels

    def images() -> tuple[Tensor, Tensor | None]:
        checked = to_images(torch.as_tensor(pixels).detach().cpu(), "images", as_image_shape(data.dataset.image_shape))
        given = None if labels is None else to_labels(torch.as_tensor(labels).cpu(), len(checked), "labels")
        return checked[:n], None if given is None else given[:n]

    return data, images


def check_count(n: int) -> None:
    """``n`` must ask for at least one image."""
    if n < 1:
        raise UserError(f"n={n}: ask for 1 image or more")


def _path(target: LoadedGenerator | Run | PathLike) -> Path:
    if isinstance(target, LoadedGenerator):
        return target.saved.path
    return target.path if isinstance(target, Run) else Path(os.fspath(target))
