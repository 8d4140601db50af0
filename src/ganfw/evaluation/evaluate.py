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
from ganfw.distributed import SINGLE, Ranks, process_local
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
        component = resolve_metric(name, registry)
        metrics[name] = component.spec.load_factory()(component.spec.default_params())
    return metrics


def resolve_metric(name: str, registry: Registry) -> Component:
    """The metric component ``name``; an unknown or ambiguous name is a :class:`UserError`
    listing what exists."""
    try:
        return registry.resolve("metric", name)
    except LookupProblem as e:
        raise UserError(str(e)) from None


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
    space, images = space_for(data, metric_names, registry, features, protocol)
    return space, reference_embedding(space, data, protocol_spec(protocol).reference, images=images)


def space_for(
    data: EvalData, metric_names: list[str], registry: Registry, features: str = "judge", protocol: str = "quick"
) -> tuple[FeatureSpace, bool]:
    """The feature space of ``data`` under ``protocol``, and whether a metric of ``metric_names``
    reads the images themselves, after checking that every metric can run there."""
    spec = protocol_spec(protocol)
    space = feature_space(features, data, network_logits=spec.network_logits)
    components = {name: resolve_metric(name, registry) for name in metric_names}
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
    return space, any(needs(c, "images") for c in components.values())


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
    start = time.perf_counter()
    with process_local():
        space, reference = prepare(data, metric_names, registry, features, protocol)
        generated = space.embed(images, labels, keep_images=reference.embedding.images is not None)
    return score_embedding(generated, space, reference, metric_names, registry, data, start, seed, bootstrap, protocol)


def score_embedding(
    generated: Embedding,
    space: FeatureSpace,
    reference: Reference,
    metric_names: list[str],
    registry: Registry,
    data: EvalData,
    start: float,
    seed: int = 0,
    bootstrap: int = 0,
    protocol: str = "quick",
) -> Evaluation:
    """Score the embedded generated images against ``reference`` (``start``: when the evaluation
    began, by ``time.perf_counter``): each metric seeded, FID's interval, the protocol, warnings."""
    with process_local():
        metrics = build_metrics(metric_names, registry)
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
        n_generated=len(generated.features),
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
    ranks: Ranks = SINGLE,
) -> Evaluation | None:
    """Sample ``n`` images from ``generator`` (in eval mode, without gradients, from noise
    seeded by ``seed``, and for a conditional generator uniform labels drawn from the same
    stream; its train/eval mode is restored) and score them against ``data`` (the run's own
    dataset) in the feature space ``features`` (``judge``, ``inception``, ``dinov2``, or ``auto``
    as ``eval.features`` says); ``.scores`` are flat floats such as ``{"fid": ..., "kid": ...}``.

    With ``ranks`` of several processes (training under torchrun; every rank calls this), each
    rank draws and embeds its share of the same ``n`` images and rank 0 scores them all, as one
    process would; the other ranks get ``None``. Global RNG states (the CPU's and the generator's
    device's) are left as they were, whatever the metrics or the judge's first construction draw.
    """
    device = next(generator.parameters()).device
    was_training = generator.training
    generator.eval()
    try:
        with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
            if not ranks.distributed:
                from ganfw.sampling import draw

                samples = draw(generator, n, seed)
                return evaluate_images(
                    samples.images, metric_names, registry, data, labels=samples.labels, features=features, seed=seed
                )
            return _evaluate_shared(generator, metric_names, n, registry, data, seed, features, ranks)
    finally:
        generator.train(was_training)


def _evaluate_shared(generator: Generator, metric_names: list[str], n: int, registry: Registry, data: EvalData,
                     seed: int, features: str, ranks: Ranks) -> Evaluation | None:  # fmt: skip
    """Every rank renders and embeds rows ``rank::world`` of the seeded draw; rank 0 puts the
    shares back in order and scores them."""
    from ganfw.sampling import check_count, noise, render

    start = time.perf_counter()
    check_count(n, tuple(generator.image_shape))
    z, labels = noise(generator, n, torch.Generator(next(generator.parameters()).device).manual_seed(seed))
    rows = slice(ranks.rank, None, ranks.world)
    mine = None if labels is None else labels[rows].cpu()
    images = render(generator, z[rows], None if labels is None else labels[rows])
    check_images(images, mine, data)
    with process_local():
        space, keep_images = space_for(data, metric_names, registry, features)
        share = space.embed(images, mine, keep_images=keep_images)
    shares = ranks.gather([share.features, share.logits, share.labels, share.images])
    if shares is None:
        return None
    generated = Embedding(*(interleave([s[i] for s in shares]) for i in range(4)))  # type: ignore[arg-type]
    with process_local():
        _, reference = prepare(data, metric_names, registry, features)
    return score_embedding(generated, space, reference, metric_names, registry, data, start, seed)


def interleave(shares: list[Tensor | None]) -> Tensor | None:
    """Rows ``r::world`` of a tensor, one share per rank, put back in their order: (N, ...)."""
    present = [share for share in shares if share is not None]
    if len(present) < len(shares):
        return None
    full = torch.empty((sum(len(t) for t in present), *present[0].shape[1:]), dtype=present[0].dtype)
    for rank, share in enumerate(present):
        full[rank :: len(present)] = share
    return full
