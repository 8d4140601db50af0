"""``ganfw evaluate``: score a run directory, a checkpoint or a file of images against MNIST.

TARGET kinds: a run directory (its newest checkpoint) or a ``.safetensors`` checkpoint, from
which ``n`` images are drawn with noise seeded by ``seed`` (and, for a conditional generator,
uniform labels); or a ``.npy``/``.pt``/``.png`` file of images (see
:mod:`ganfw.evaluation.images`), of which the first ``n`` are scored. Without ``--metrics``,
every installed metric runs, less those that need labels when the images have none.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from torch import Tensor

from ganfw.atomic import atomic_path
from ganfw.errors import UserError
from ganfw.evaluation.evaluate import Evaluation, default_metrics, evaluate_images
from ganfw.evaluation.features import FEATURE_SPACES
from ganfw.evaluation.images import read_labelled_images
from ganfw.plugins import Registry

CHECKPOINT_SUFFIX = ".safetensors"


def target_images(target: Path, n: int, seed: int, registry: Registry) -> tuple[Tensor, Tensor | None]:
    """(n, 1, 28, 28) images in [-1, 1] from ``target`` (fewer when a file holds fewer), and the
    labels (n,) they were generated for: uniform ones for a conditional generator, those saved
    with a ``.npy``/``.pt`` file by ``ganfw sample``; ``None`` otherwise."""
    if target.is_dir() or target.suffix.lower() == CHECKPOINT_SUFFIX:
        from ganfw.sampling import draw, load_saved

        saved = load_saved(target, registry)
        if tuple(saved.generator.image_shape) != (1, 28, 28):
            raise UserError(f"{target}: the generator makes images of shape {tuple(saved.generator.image_shape)}, not (1, 28, 28)")
        samples = draw(saved.generator, n, seed, source=str(saved.path))
        return samples.images, samples.labels
    if not target.exists():
        raise UserError(f"{target}: no such run directory, checkpoint or image file")
    images, labels = read_labelled_images(target)
    return images[:n], None if labels is None else labels[:n]


def evaluate_command(
    target: Path,
    registry: Registry,
    *,
    n: int,
    metrics: str | None,
    seed: int,
    features: str,
    data_root: str | None,
    json_out: Path | None,
    console: Console,
) -> Evaluation:
    """Score ``target``, print a table on ``console`` and write the JSON report to ``json_out``."""
    if features not in FEATURE_SPACES:
        raise UserError(f"--features: unknown feature space {features!r}; choose one of {', '.join(FEATURE_SPACES)}")
    with report_file(json_out) as write_report:
        images, labels = target_images(target, n, seed, registry)
        names = ([m.strip() for m in metrics.split(",") if m.strip()] if metrics is not None
                 else default_metrics(registry, labelled=labels is not None))
        evaluation = evaluate_images(images, names, registry, labels=labels, features=features, seed=seed,
                                     data_root=data_root)
        console.print(render(evaluation, str(target)))
        write_report({"target": str(target), "seed": seed, **evaluation.as_json()})
    return evaluation


@contextlib.contextmanager
def report_file(path: Path | None) -> Iterator[Callable[[dict], None]]:
    """A writer of the JSON report to ``path`` (``None``: none), whose place is claimed first: an
    unwritable ``--json`` fails before the evaluation rather than after it."""
    if path is None:
        yield lambda report: None
        return
    with atomic_path(path) as tmp:
        yield lambda report: tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def render(evaluation: Evaluation, target: str) -> Table:
    """One row per score, grouped by metric, with the metric's details under its scores."""
    table = Table(
        title=f"{escape(target)}: {evaluation.n} images vs MNIST test ({evaluation.reference}), "
        f"{evaluation.features} features, {evaluation.seconds:.1f} s",
        title_justify="left",
    )
    for column, justify in (("metric", "left"), ("score", "left"), ("value", "right")):
        table.add_column(column, justify=justify)
    for name, result in evaluation.results.items():
        for i, (key, value) in enumerate(result.scores.items()):
            table.add_row(escape(name) if i == 0 else "", escape(key), f"{value:.4g}")
        for key, value in result.details.items():
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
