"""Scoring generated images: resolve the metric components, embed the images and the dataset's
held-out split once, run each metric (seeded), gather the scores with their protocol.

Two entry points: :func:`evaluate_images` (``ganfw evaluate``) and :func:`evaluate_generator`
(training-time evaluation, which logs the scores as ``eval/<key>``); :func:`prepare` checks,
before training, that a run's dataset can be scored.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor

from ganfw.contracts import Embedding, Generator, Metric, MetricResult
from ganfw.distributed import process_local
from ganfw.errors import UserError
from ganfw.evaluation.bootstrap import Interval, fid_interval
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.features import FeatureSpace, feature_space
from ganfw.evaluation.reference import Reference, reference_embedding
from ganfw.plugins import Component, LookupProblem, Registry

#: Fewer images than this make every metric meaningless (and some undefined).
MIN_IMAGES = 10


@dataclass(frozen=True)
class Protocol:
    """What a score was measured against and how: only scores of equal protocols (bar
    ``n_generated``, with care) compare.

    Attributes:
        dataset: the dataset key; ``split``: its held-out split (``"test"`` or ``"held-out"``).
        features: ``"judge"`` or ``"inception"``; ``extractor``/``extractor_hash``: the feature
            network and its weights' hash; ``judge_hash``: the judge of the class logits
            (``None``: none).
        n_real, n_generated: reference and generated images; ``seed``: of the noise and the
            metrics' randomness.
    """

    dataset: str
    split: str
    features: str
    extractor: str
    extractor_hash: str | None
    judge_hash: str | None
    n_real: int
    n_generated: int
    seed: int


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation.

    Attributes:
        scores: every metric's scores, flat (``{"fid": 3.1, "kid": 0.002, ...}``).
        results: each metric's :class:`MetricResult`, by metric name, in the order asked.
        protocol: what the scores were measured against (:class:`Protocol`).
        seconds: wall time of embedding and scoring.
        intervals: confidence intervals by score key (``fid``, when a bootstrap was asked for).
    """

    scores: dict[str, float]
    results: dict[str, MetricResult] = field(repr=False)
    protocol: Protocol
    seconds: float
    intervals: dict[str, Interval] = field(default_factory=dict)

    @property
    def details(self) -> dict[str, dict[str, Any]]:
        """What the metrics report beside their scores (per-class counts...), by metric name;
        metrics without details are left out."""
        return {name: r.details for name, r in self.results.items() if r.details}

    def as_json(self) -> dict[str, Any]:
        return {
            "protocol": asdict(self.protocol),
            "seconds": round(self.seconds, 3),
            "scores": self.scores,
            "intervals": {key: interval.as_json() for key, interval in self.intervals.items()},
            "details": self.details,
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


def needs_judge(component: Component) -> bool:
    """Whether a metric reads the judge's class logits (its class says ``needs_judge = True``,
    as ``inception-score`` does): without a judge it cannot run."""
    return bool(getattr(component.spec.load_factory(), "needs_judge", False))


def default_metrics(registry: Registry, labelled: bool, judged: bool = True) -> list[str]:
    """Every installed metric, less those that need labels when the images have none and those
    that need a judge when there is none."""
    components = {name: registry.resolve("metric", name) for name in registry.names("metric")}
    return [
        name for name, c in components.items() if (labelled or not needs_labels(c)) and (judged or not needs_judge(c))
    ]


def prepare(
    data: EvalData, metric_names: list[str], registry: Registry, features: str = "judge"
) -> tuple[FeatureSpace, Reference]:
    """The feature space and the embedded held-out split of ``data`` (cached), after checking
    that every metric of ``metric_names`` can run: without a judge, or without a held-out split,
    a :class:`UserError` says so before any image is drawn."""
    space = feature_space(features, data)
    if space.judge is None:
        for name in metric_names:
            if needs_judge(registry.resolve("metric", name)):
                raise UserError(
                    f"metric {name!r} needs a judge of the dataset's classes (its class logits), and the "
                    f"dataset {data.describe()} has none: leave it out"
                )
    return space, reference_embedding(space, data)


def evaluate_images(
    images: Tensor,
    metric_names: list[str],
    registry: Registry,
    data: EvalData,
    *,
    labels: Tensor | None = None,
    features: str = "judge",
    seed: int = 0,
    bootstrap: int = 0,
) -> Evaluation:
    """Score ``images`` (N, C, H, W) in [-1, 1], generated for ``labels`` (N,) int64 (or
    ``None``: unlabelled), against the held-out split of ``data``; with ``bootstrap`` > 0, FID
    gets a 95 % interval from that many resamples (:mod:`ganfw.evaluation.bootstrap`).

    Each metric runs with torch's global generator seeded by ``seed`` (and restored afterwards),
    so equal inputs give equal scores and a training run's random stream is left untouched.
    """
    shape = tuple(data.dataset.image_shape)
    if images.ndim != 4 or tuple(images.shape[1:]) != shape:
        raise UserError(
            f"expected images of shape (N, {', '.join(map(str, shape))}) like the dataset {data.key!r}'s, "
            f"got {tuple(images.shape)}"
        )
    if len(images) < MIN_IMAGES:
        raise UserError(f"need at least {MIN_IMAGES} images to evaluate, got {len(images)}")
    if labels is not None and (labels.shape != (len(images),) or labels.dtype != torch.int64):
        raise UserError(
            f"expected one int64 label per image, ({len(images)},), got {labels.dtype} {tuple(labels.shape)}"
        )
    with process_local():
        metrics = build_metrics(metric_names, registry)
        start = time.perf_counter()
        space, reference = prepare(data, metric_names, registry, features)
        generated = space.embed(images, labels)
        scores, results = _score(generated, reference, metrics, seed)
        intervals = {}
        if bootstrap and "fid" in scores:
            intervals["fid"] = fid_interval(
                generated.features, reference.embedding.features, scores["fid"], resamples=bootstrap, seed=seed
            )
    protocol = Protocol(
        data.key,
        reference.split,
        space.name,
        **space.extractor(),
        n_real=len(reference.embedding.features),
        n_generated=len(images),
        seed=seed,
    )
    return Evaluation(scores, results, protocol, time.perf_counter() - start, intervals)


def _score(
    generated: Embedding, reference: Reference, metrics: dict[str, Metric], seed: int
) -> tuple[dict[str, float], dict[str, MetricResult]]:
    """Run each metric on the ``generated`` embedding against the reference, seeded by ``seed``."""
    results: dict[str, MetricResult] = {}
    scores: dict[str, float] = {}
    for name, metric in metrics.items():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                results[name] = metric.compute(generated, reference.embedding)
            except UserError:
                raise
            except Exception as e:  # a metric plugin's code, or too few images for it
                raise UserError(
                    f"metric {name!r} failed on {len(generated.features)} generated and "
                    f"{len(reference.embedding.features)} reference images: {type(e).__name__}: "
                    f"{' '.join(str(e).split())}"
                ) from e
        for key, value in results[name].scores.items():
            if key in scores:
                owner = next(n for n, r in results.items() if key in r.scores)
                raise UserError(f"metrics {owner!r} and {name!r} both report {key!r}; evaluate them separately")
            scores[key] = float(value)
    return scores, results


def evaluate_generator(
    generator: Generator,
    metric_names: list[str],
    n: int,
    registry: Registry,
    data: EvalData,
    *,
    seed: int = 0,
    features: str = "judge",
) -> Evaluation:
    """Sample ``n`` images from ``generator`` (in eval mode, without gradients, from noise
    seeded by ``seed``, and for a conditional generator uniform labels drawn from the same
    stream; its train/eval mode is restored) and score them against ``data`` (the run's own
    dataset); ``.scores`` are flat floats such as ``{"fid": ..., "kid": ...}``.

    Global RNG states (the CPU's and the generator's device's) are left as they were, whatever
    the metrics or the judge's first construction draw.
    """
    from ganfw.sampling import draw

    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            samples = draw(generator, n, seed)
            return evaluate_images(
                samples.images, metric_names, registry, data, labels=samples.labels, features=features, seed=seed
            )
    finally:
        generator.train(was_training)
