"""Scoring generated images: resolve the metric components, embed the images and the dataset's
held-out split once, run each metric (seeded), gather the scores with their protocol.

Two entry points: :func:`evaluate_images` (``ganfw evaluate``) and :func:`evaluate_generator`
(training-time evaluation, which logs the scores as ``eval/<key>``); :func:`prepare` checks,
before training, that a run's dataset can be scored. Both measure under a protocol
(:mod:`ganfw.evaluation.protocols`: ``quick`` or ``paper``) and return the scores with warnings
where they cannot be trusted (:mod:`ganfw.evaluation.caveats`).
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
from ganfw.evaluation.caveats import gather, name_classes
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.features import FeatureSpace, feature_space
from ganfw.evaluation.protocols import Protocol, protocol_spec
from ganfw.evaluation.reference import Reference, reference_embedding
from ganfw.plugins import Component, LookupProblem, Registry

#: Fewer images than this make every metric meaningless (and some undefined).
MIN_IMAGES = 10


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation.

    Attributes:
        scores: every metric's scores, flat (``{"fid": 3.1, "kid": 0.002, ...}``).
        results: each metric's :class:`MetricResult`, by metric name, in the order asked.
        protocol: what the scores were measured against (:class:`Protocol`).
        seconds: wall time of embedding and scoring.
        intervals: confidence intervals by score key (``fid``, when a bootstrap was asked for).
        warnings: lines saying which scores cannot be trusted and why, each led by its metric.
    """

    scores: dict[str, float]
    results: dict[str, MetricResult] = field(repr=False)
    protocol: Protocol
    seconds: float
    intervals: dict[str, Interval] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

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
            "warnings": self.warnings,
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


def needs(component: Component, what: str) -> bool:
    """Whether a metric's class says ``needs_<what> = True``: ``labels`` (only meaningful for
    images generated from labels: ``conditional-accuracy``), ``judge`` (reads class logits:
    ``inception-score``), ``classes`` (reads them as the dataset's classes: ``class-coverage``)
    or ``images`` (reads pixels: ``sliced-wasserstein``)."""
    return bool(getattr(component.spec.load_factory(), f"needs_{what}", False))


def needs_labels(component: Component) -> bool:
    """Whether a metric only means something for images generated from labels."""
    return needs(component, "labels")


def default_metrics(registry: Registry, labelled: bool, judged: bool = True, classes: bool = True) -> list[str]:
    """Every installed metric, less those that need labels when the images have none, those that
    need class logits when there are none (``judged``) or the dataset's classes when the logits
    are not the judge's (``classes``), and the pixel-space ones (which read the reference images
    from the dataset: they run when asked for)."""
    components = {name: registry.resolve("metric", name) for name in registry.names("metric")}
    return [
        name
        for name, c in components.items()
        if (labelled or not needs(c, "labels"))
        and (judged or not needs(c, "judge"))
        and (classes or not needs(c, "classes"))
        and not needs(c, "images")
    ]


def prepare(
    data: EvalData, metric_names: list[str], registry: Registry, features: str = "judge", protocol: str = "quick"
) -> tuple[FeatureSpace, Reference]:
    """The feature space and the embedded real images of ``data`` under ``protocol`` (cached;
    with the images themselves when a metric reads pixels), after checking that every metric of
    ``metric_names`` can run: without class logits, or without a held-out split, a
    :class:`UserError` says so before any image is drawn."""
    spec = protocol_spec(protocol)
    space = feature_space(features, data, network_logits=spec.network_logits)
    components = {name: registry.resolve("metric", name) for name in metric_names}
    for name, component in components.items():
        if needs(component, "judge") and space.classifier is None:
            raise UserError(
                f"metric {name!r} needs a judge of the dataset's classes (its class logits), and the "
                f"dataset {data.describe()} has none: leave it out"
            )
        if needs(component, "classes") and space.network_logits:
            raise UserError(
                f"metric {name!r} reads the dataset's classes, but under the {protocol} protocol the class "
                f"logits are {space.classifier}'s ImageNet classes: leave it out, or use the quick protocol"
            )
    images = any(needs(c, "images") for c in components.values())
    return space, reference_embedding(space, data, spec.reference, images=images)


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
    protocol: str = "quick",
) -> Evaluation:
    """Score ``images`` (N, C, H, W) in [-1, 1], generated for ``labels`` (N,) int64 (or
    ``None``: unlabelled), against ``data`` under ``protocol`` (its held-out split, or for
    ``paper`` its training images) in the feature space ``features``; with ``bootstrap`` > 0,
    FID gets a 95 % interval from that many resamples (:mod:`ganfw.evaluation.bootstrap`).

    Each metric runs with torch's global generator seeded by ``seed`` (and restored afterwards),
    so equal inputs give equal scores and a training run's random stream is left untouched.
    """
    check_images(images, labels, data)
    with process_local():
        metrics = build_metrics(metric_names, registry)
        start = time.perf_counter()
        space, reference = prepare(data, metric_names, registry, features, protocol)
        generated = space.embed(images, labels, keep_images=reference.embedding.images is not None)
        scores, results = _score(generated, reference, metrics, seed)
        intervals = {}
        if bootstrap and "fid" in scores:
            intervals["fid"] = fid_interval(
                generated.features, reference.embedding.features, scores["fid"], resamples=bootstrap, seed=seed
            )
    record = Protocol(
        protocol,
        data.key,
        reference.split,
        space.name,
        **space.extractor(),
        n_real=len(reference.embedding.features),
        n_generated=len(images),
        seed=seed,
    )
    named = {name: MetricResult(r.scores, name_classes(r.details, space.class_names)) for name, r in results.items()}
    seconds = time.perf_counter() - start
    return Evaluation(scores, named, record, seconds, intervals, gather(results, intervals, scores))


def check_images(images: Tensor, labels: Tensor | None, data: EvalData) -> None:
    """Refuse images (N, C, H, W) not of ``data``'s shape, fewer than :data:`MIN_IMAGES`, or
    labels other than (N,) int64."""
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
    dataset) in the feature space ``features`` (``judge``, ``inception``, ``dinov2``, or ``auto``
    as ``eval.features`` says); ``.scores`` are flat floats such as ``{"fid": ..., "kid": ...}``.

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
