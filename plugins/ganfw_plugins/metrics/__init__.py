"""Plugin ``metrics``: sample-quality metrics in the eyes of the dataset's judge, of Inception
or of DINOv2, and one in pixel space.

Every metric compares generated images with the reference set (the dataset's held-out split,
such as the MNIST test digits, or its training images in the paper protocol), both as the
feature space sees them (:class:`ganfw.contracts.Embedding`); ``ganfw evaluate`` and
training-time evaluation compute that view once and hand it to each metric. A metric warns in
its details (``"warnings"``) where its scores cannot be trusted. docs/metrics.md gives each
score's floor (real vs real), ceiling (noise) and how to read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class KIDParams:
    subsets: int = param(100, "random subsets whose MMD^2 is averaged", min=1)
    subset_size: int = param(1000, "images per subset (capped at the smaller set's size)", min=2)


@dataclass(frozen=True)
class InceptionScoreParams:
    splits: int = param(10, "the generated images are scored in this many groups (mean and std over groups)", min=1)


@dataclass(frozen=True)
class ClassCoverageParams:
    missing_below: float = param(
        0.1, "a class is missing when its share of the images is below this fraction of 1/K", min=0.0, max=1.0
    )


@dataclass(frozen=True)
class PrecisionRecallParams:
    k: int = param(5, "neighbours that set the radius of each image's ball on its manifold", min=1)


@dataclass(frozen=True)
class SlicedWassersteinParams:
    patch: int = param(7, "side of the square patches compared, in pixels (0: whole images)", min=0)
    patches: int = param(16, "patches drawn from each image", min=1)
    directions: int = param(128, "random unit directions the patches are projected onto", min=1)


def _spec(name: str, summary: str, factory: str, params: type | None = None) -> ComponentSpec:
    return ComponentSpec(
        name=name, kind="metric", summary=summary, factory=f"ganfw_plugins.metrics.{factory}", params=params
    )


@hookimpl
def ganfw_metrics() -> list[ComponentSpec]:
    return [
        _spec(
            "fid",
            "Frechet distance of the features to the reference set (0 = same Gaussian statistics)",
            "distances:FID",
        ),
        _spec(
            "kid",
            "Kernel (polynomial MMD^2, unbiased) distance of the features to the reference set",
            "distances:KID",
            KIDParams,
        ),
        _spec(
            "inception-score",
            "Inception Score from the class probabilities (the judge's; Inception's in the paper protocol)",
            "classes:InceptionScore",
            InceptionScoreParams,
        ),
        _spec(
            "class-coverage",
            "Entropy of the predicted-class histogram, and the classes missing (mode collapse)",
            "classes:ClassCoverage",
            ClassCoverageParams,
        ),
        _spec(
            "conditional-accuracy",
            "Share of a conditional generator's images the judge reads as the class asked for",
            "classes:ConditionalAccuracy",
        ),
        _spec(
            "precision-recall",
            "k-NN manifold precision/recall and density/coverage against the reference set",
            "manifold:PrecisionRecall",
            PrecisionRecallParams,
        ),
        _spec(
            "sliced-wasserstein",
            "Sliced Wasserstein distance of image patches to the reference images (pixel space, no network)",
            "pixels:SlicedWasserstein",
            SlicedWassersteinParams,
        ),
    ]
