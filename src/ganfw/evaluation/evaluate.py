"""Scoring generated images: resolve the metric components, embed the images and the reference
set once, run each metric (seeded), gather the scores.

Two entry points: :func:`evaluate_images` (``ganfw evaluate``) and :func:`evaluate_generator`
(training-time evaluation, which logs the scores as ``eval/<key>``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ganfw.contracts import Generator, Metric, MetricResult
from ganfw.distributed import process_local
from ganfw.errors import UserError
from ganfw.evaluation.features import FeatureName, feature_space
from ganfw.evaluation.reference import reference_embedding
from ganfw.plugins import Component, LookupProblem, Registry

#: Fewer images than this make every metric meaningless (and some undefined).
MIN_IMAGES = 10


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation.

    Attributes:
        scores: every metric's scores, flat (``{"fid": 3.1, "kid": 0.002, ...}``).
        results: each metric's :class:`MetricResult`, by metric name, in the order asked.
        n: how many generated images were scored; ``reference``: how many reference images.
        features: the feature space; ``key``: its weights' identity (judge hash).
        seconds: wall time of embedding and scoring.
    """

    scores: dict[str, float]
    results: dict[str, MetricResult] = field(repr=False)
    n: int
    reference: int
    features: str
    key: str
    seconds: float

    def as_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "reference": {"set": "mnist-test", "n": self.reference},
            "features": self.features,
            "key": self.key,
            "seconds": round(self.seconds, 3),
            "scores": self.scores,
            "details": {name: r.details for name, r in self.results.items() if r.details},
        }


def build_metrics(names: list[str], registry: Registry) -> dict[str, Metric]:
    """The metric components ``names`` (``fid`` or ``plugin:fid``) with default params; an
    unknown or ambiguous name is a :class:`UserError` listing what exists."""
    if not names:
        raise UserError("no metrics to compute; available: " + ", ".join(registry.names("metric")))
    metrics = {}
    for name in names:
        try:
            component = registry.resolve("metric", name)
        except LookupProblem as e:
            raise UserError(str(e)) from None
        metrics[name] = component.spec.load_factory()(component.spec.default_params())
    return metrics


def needs_labels(component: Component) -> bool:
    """Whether a metric only means something for images generated from labels (its class says
    ``needs_labels = True``, as ``conditional-accuracy`` does)."""
    return bool(getattr(component.spec.load_factory(), "needs_labels", False))


def default_metrics(registry: Registry, labelled: bool) -> list[str]:
    """Every installed metric, less those that need labels when the images have none."""
    return [name for name in registry.names("metric") if labelled or not needs_labels(registry.resolve("metric", name))]


def evaluate_images(
    images: Tensor,
    metric_names: list[str],
    registry: Registry,
    *,
    labels: Tensor | None = None,
    features: FeatureName = "judge",
    seed: int = 0,
    data_root: str | None = None,
) -> Evaluation:
    """Score ``images`` (N, 1, 28, 28) in [-1, 1], generated for ``labels`` (N,) int64 (or
    ``None``: unlabelled), against the MNIST test split.

    Each metric runs with torch's global generator seeded by ``seed`` (and restored afterwards),
    so equal inputs give equal scores and a training run's random stream is left untouched.
    """
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise UserError(f"expected images of shape (N, 1, 28, 28), got {tuple(images.shape)}")
    if len(images) < MIN_IMAGES:
        raise UserError(f"need at least {MIN_IMAGES} images to evaluate, got {len(images)}")
    if labels is not None and (labels.shape != (len(images),) or labels.dtype != torch.int64):
        raise UserError(f"expected one int64 label per image, ({len(images)},), got {labels.dtype} {tuple(labels.shape)}")
    with process_local():
        return _score(images, labels, build_metrics(metric_names, registry), features, seed, data_root)


def _score(images: Tensor, labels: Tensor | None, metrics: dict[str, Metric], features: FeatureName, seed: int,
           data_root: str | None) -> Evaluation:
    """Embed ``images`` (N, 1, 28, 28) with their ``labels`` and the reference set; run each
    metric seeded by ``seed``."""
    start = time.perf_counter()
    space = feature_space(features)
    reference = reference_embedding(space, data_root)
    generated = space.embed(images, labels)
    results: dict[str, MetricResult] = {}
    scores: dict[str, float] = {}
    for name, metric in metrics.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            results[name] = metric.compute(generated, reference)
        for key, value in results[name].scores.items():
            if key in scores:
                owner = next(n for n, r in results.items() if key in r.scores)
                raise UserError(f"metrics {owner!r} and {name!r} both report {key!r}; evaluate them separately")
            scores[key] = float(value)
    return Evaluation(scores, results, len(images), len(reference.features), space.name, space.key, time.perf_counter() - start)


def evaluate_generator(
    generator: Generator,
    metric_names: list[str],
    n: int,
    registry: Registry,
    *,
    seed: int = 0,
    features: FeatureName = "judge",
    data_root: str | None = None,
) -> dict[str, float]:
    """Sample ``n`` images from ``generator`` (in eval mode, without gradients, from noise
    seeded by ``seed``, and for a conditional generator uniform labels drawn from the same
    stream; its train/eval mode is restored) and score them: flat scalar scores such as
    ``{"fid": ..., "kid": ..., "precision": ...}``.

    ``data_root``: where MNIST is, in case the reference features are not cached yet (pass the
    recipe's ``data.root``). Global RNG states (the CPU's and the generator's device's) are
    left as they were, whatever the metrics or the judge's first construction draw.
    """
    from ganfw.sampling import draw

    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            samples = draw(generator, n, seed)
            return evaluate_images(samples.images, metric_names, registry, labels=samples.labels, features=features,
                                   seed=seed, data_root=data_root).scores
    finally:
        generator.train(was_training)
