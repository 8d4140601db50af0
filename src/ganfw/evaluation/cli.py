"""The bodies of ``ganfw evaluate`` and ``ganfw train-judge``.

``ganfw evaluate TARGET``: a run directory (its newest checkpoint) or a ``.safetensors``
checkpoint, from which ``n`` images are drawn with noise seeded by ``seed`` (and, for a
conditional generator, uniform labels) and scored against the dataset of the recipe stored in
the checkpoint; or a ``.npy``/``.pt``/``.png`` file of images (see
:mod:`ganfw.evaluation.images`), of which the first ``n`` are scored against ``--dataset``.
Without ``--metrics``, every installed metric runs, less those that need labels when the images
have none, those that need class logits when there are none or the dataset's classes when the
logits are Inception's (the paper protocol), and the pixel-space ones (run when asked for).
Scores that cannot be trusted are followed by ``warning:`` lines (and ``"warnings"`` in the JSON).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table
from torch import Tensor

from ganfw.atomic import atomic_path
from ganfw.contracts import as_image_shape
from ganfw.errors import UserError
from ganfw.evaluation import datasets
from ganfw.evaluation.caveats import WARNINGS
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.evaluate import Evaluation, default_metrics, evaluate_images
from ganfw.evaluation.features import FEATURE_CHOICES, FeatureSpace, feature_space
from ganfw.evaluation.images import read_labelled_images
from ganfw.evaluation.protocols import protocol_spec
from ganfw.plugins import Registry

if TYPE_CHECKING:
    from ganfw.sampling import SavedGenerator

CHECKPOINT_SUFFIX = ".safetensors"
#: FID's bootstrap resamples in the judge's feature space unless asked otherwise.
DEFAULT_RESAMPLES = 200


def saved_generator(target: Path, registry: Registry) -> SavedGenerator | None:
    """The generator saved in ``target``, a run directory or a checkpoint; ``None`` for a file
    of images."""
    if target.is_dir() or target.suffix.lower() == CHECKPOINT_SUFFIX:
        from ganfw.sampling import load_saved

        return load_saved(target, registry)
    if not target.exists():
        raise UserError(f"{target}: no such run directory, checkpoint or image file")
    return None


def target_data(
    target: Path, saved: SavedGenerator | None, registry: Registry, dataset: str | None, data_root: str | None
) -> EvalData:
    """The dataset to score ``target`` against: ``dataset`` (a name or a recipe file), else the
    one of the recipe stored in the checkpoint ``saved`` (``data_root`` before its
    ``data.root``; its run directory's recipe.toml names it in hints), checked against the
    generator's image shape. A file of images needs ``dataset``."""
    if dataset:
        data = datasets.from_argument(dataset, registry, data_root)
    elif saved is None:
        raise UserError(
            f"{target}: a file of images needs --dataset DATASET_OR_RECIPE, the data to score it against "
            "(a dataset name such as mnist, or a recipe file)"
        )
    else:
        recipe, run_recipe = saved.recipe, saved.path.parent.parent / "recipe.toml"
        data = datasets.build(
            recipe.data, data_root or recipe.data_root, str(run_recipe) if run_recipe.is_file() else recipe.data.ref
        )
    shape = tuple(data.dataset.image_shape)
    if saved is not None and tuple(saved.generator.image_shape) != shape:
        raise UserError(
            f"{target}: the generator makes images of shape {tuple(saved.generator.image_shape)}, "
            f"but the dataset {data.key!r} has images of shape {shape}"
        )
    return data


def target_images(
    target: Path, saved: SavedGenerator | None, data: EvalData, n: int, seed: int
) -> tuple[Tensor, Tensor | None]:
    """(n, C, H, W) images in [-1, 1] of ``data``'s shape from ``target`` (fewer when a file holds
    fewer) and the labels (n,) they were generated for: uniform ones for a conditional generator
    ``saved``, those saved with a ``.npy``/``.pt`` file by ``ganfw sample``; ``None`` otherwise."""
    if saved is not None:
        from ganfw.sampling import draw

        samples = draw(saved.generator, n, seed, source=str(saved.path))
        return samples.images, samples.labels
    images, labels = read_labelled_images(target, as_image_shape(data.dataset.image_shape))
    return images[:n], None if labels is None else labels[:n]


def evaluate_command(
    target: Path,
    registry: Registry,
    *,
    n: int | None,
    metrics: str | None,
    seed: int,
    features: str | None,
    dataset: str | None,
    data_root: str | None,
    bootstrap: int | None,
    json_out: Path | None,
    console: Console,
    protocol: str = "quick",
) -> Evaluation:
    """Score ``target`` under ``protocol`` (``n`` and ``features`` ``None``: the protocol's;
    ``bootstrap`` ``None``: :func:`default_resamples`), print a table and the warnings on
    ``console`` and write the JSON report to ``json_out``."""
    spec = protocol_spec(protocol)
    features = spec.features if features is None else features
    if features not in FEATURE_CHOICES:
        raise UserError(f"--features: unknown feature space {features!r}; choose one of {', '.join(FEATURE_CHOICES)}")
    with report_file(json_out) as write_report:
        saved = saved_generator(target, registry)
        data = target_data(target, saved, registry, dataset, data_root)
        names = None if metrics is None else [m.strip() for m in metrics.split(",") if m.strip()]
        count = spec.n if n is None else n
        evaluation = evaluate_target(
            data,
            registry,
            lambda: target_images(target, saved, data, count, seed),
            metrics=names,
            seed=seed,
            features=features,
            bootstrap=bootstrap,
            protocol=protocol,
        )
        console.print(render(evaluation, str(target)))
        for line in evaluation.warnings:
            console.print(f"[yellow]warning:[/] {escape(line)}", soft_wrap=True)
        write_report({"target": str(target), **evaluation.as_json()})
    return evaluation


def evaluate_target(
    data: EvalData,
    registry: Registry,
    images: Callable[[], tuple[Tensor, Tensor | None]],
    *,
    metrics: list[str] | None,
    seed: int,
    features: str,
    bootstrap: int | None,
    protocol: str = "quick",
) -> Evaluation:
    """Score what ``images()`` returns - (N, C, H, W) images in [-1, 1] of ``data``'s shape and
    the (N,) int64 labels they were generated for, or ``None`` - against ``data`` under
    ``protocol``. ``metrics`` ``None``: :func:`default_metrics` for those images; ``bootstrap``
    ``None``: :func:`default_resamples`. ``images`` is called only once the feature space is
    known to exist (no judge, no weights: refused before drawing)."""
    space = feature_space(features, data, network_logits=protocol_spec(protocol).network_logits)
    drawn, labels = images()
    names = (
        metrics
        if metrics is not None
        else default_metrics(
            registry, labelled=labels is not None, judged=space.classifier is not None, classes=bool(space.class_names)
        )
    )
    return evaluate_images(
        drawn,
        names,
        registry,
        data,
        labels=labels,
        features=space.name,
        seed=seed,
        bootstrap=default_resamples(space) if bootstrap is None else bootstrap,
        protocol=protocol,
    )


def default_resamples(space: FeatureSpace) -> int:
    """Resamples of FID's bootstrap interval unless asked: 200 in the judge's 128 features (about
    2 s), none in a network's (each resample of 2048 Inception features takes seconds on a CPU:
    ask with ``--bootstrap N``)."""
    return DEFAULT_RESAMPLES if space.network is None else 0


@contextlib.contextmanager
def report_file(path: Path | None) -> Iterator[Callable[[dict], None]]:
    """A writer of the JSON report to ``path`` (``None``: none), whose place is claimed first: an
    unwritable ``--json`` fails before the evaluation rather than after it."""
    if path is None:
        yield lambda report: None
        return
    with atomic_path(path) as tmp:

        def write(report: dict) -> None:
            tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

        yield write


def render(evaluation: Evaluation, target: str) -> Table:
    """One row per score, grouped by metric, with the metric's details under its scores; the
    title says what was measured against what (the protocol)."""
    p = evaluation.protocol
    table = Table(
        title=f"{escape(target)}, {p.protocol} protocol: {p.n_generated} images vs {escape(p.dataset)} {p.split} "
        f"({p.n_real}), {escape(p.extractor)} {(p.extractor_hash or '')[:12]} features"
        + (f" ({escape(p.resize)})" if p.resize else "")
        + f", seed {p.seed}, {evaluation.seconds:.1f} s",
        title_justify="left",
    )
    columns: tuple[tuple[str, JustifyMethod], ...] = (("metric", "left"), ("score", "left"), ("value", "right"))
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for name, result in evaluation.results.items():
        for i, (key, value) in enumerate(result.scores.items()):
            table.add_row(escape(name) if i == 0 else "", escape(key), f"{value:.4g}")
            if key in evaluation.intervals:
                ci = evaluation.intervals[key]
                table.add_row("", f"{key} {ci.level:.0%} interval", f"{ci.low:.4g} .. {ci.high:.4g}", style="dim")
        for key, value in result.details.items():
            if key != WARNINGS:  # printed under the table
                table.add_row("", escape(key), escape(show(value)), style="dim")
    return table


def show(value: object) -> str:
    """A detail for the table: numbers to 3 decimals, lists space-separated, ``[]`` as "none",
    tables as ``key: value`` pairs."""
    if isinstance(value, dict):
        return "  ".join(f"{k}: {show(v)}" for k, v in value.items()) if value else "none"
    if isinstance(value, list):
        return " ".join(show(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def train_judge_command(
    argument: str,
    registry: Registry,
    *,
    epochs: int,
    seed: int,
    out: Path | None,
    data_root: str | None,
    log: Callable[[str], None],
) -> str:
    """``ganfw train-judge``: train the judge of the dataset ``argument`` names; the line to print."""
    from ganfw.evaluation import train_judge

    data = datasets.from_argument(argument, registry, data_root)
    info, path = train_judge.train_and_save(data, epochs=epochs, seed=seed, out=out, log=log)
    return (
        f"judge of {info.describe()}: {info.accuracy:.2%} accuracy on the {info.n_held_out} images of its "
        f"{info.split} split; written to {path}"
    )
