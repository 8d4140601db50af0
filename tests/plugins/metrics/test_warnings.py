"""Each metric warns (``details["warnings"]``) where its scores cannot be trusted, naming the
minimum it needs, and stays quiet where they can."""

from __future__ import annotations

import torch

from ganfw.contracts import Embedding
from ganfw_plugins.metrics import ClassCoverageParams, InceptionScoreParams, KIDParams, PrecisionRecallParams
from ganfw_plugins.metrics.classes import ClassCoverage, InceptionScore
from ganfw_plugins.metrics.distances import FID, KID
from ganfw_plugins.metrics.manifold import PrecisionRecall


def gaussian(n: int, dim: int, seed: int, scale: float = 1.0) -> Embedding:
    """n Gaussian features of ``dim`` dimensions, and logits of 10 classes cycling 0..9."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.nn.functional.one_hot(torch.arange(n) % 10, 10).float() * 30
    return Embedding(torch.randn(n, dim, generator=g) * scale, logits)


def warnings(metric, generated: Embedding, reference: Embedding) -> list[str]:
    torch.manual_seed(0)
    return metric.compute(generated, reference).details.get("warnings", [])


def test_fid_warns_below_one_image_more_than_dimensions():
    assert warnings(FID(), gaussian(129, 128, 0), gaussian(500, 128, 1)) == []
    assert warnings(FID(), gaussian(200, 128, 0), gaussian(60, 128, 1)) == [
        "60 reference images for 128-dimensional features: their covariance is singular and FID reads far too "
        "high; it needs at least 129 images a set"
    ]
    assert warnings(FID(), gaussian(128, 128, 0), gaussian(500, 128, 1))[0].startswith("128 generated images for")


def test_kid_warns_when_a_subset_is_cut_to_the_smaller_set():
    assert warnings(KID(KIDParams(subsets=5, subset_size=100)), gaussian(100, 8, 0), gaussian(300, 8, 1)) == []
    assert warnings(KID(KIDParams(subsets=5, subset_size=100)), gaussian(300, 8, 0), gaussian(60, 8, 1)) == [
        "subsets of 60 images, not 100 (300 generated, 60 reference): KID stays unbiased but spreads widely; "
        "its subsets need at least 100 images a set"
    ]


def test_inception_score_warns_below_a_hundred_images_a_group():
    assert warnings(InceptionScore(InceptionScoreParams(splits=2)), gaussian(200, 4, 0), gaussian(10, 4, 1)) == []
    assert warnings(InceptionScore(InceptionScoreParams()), gaussian(500, 4, 0), gaussian(10, 4, 1)) == [
        "groups of 50 images (500 in 10): the score reads low in small groups; it needs at least 1000 images"
    ]


def test_class_coverage_warns_below_twenty_images_a_class():
    assert warnings(ClassCoverage(ClassCoverageParams()), gaussian(200, 4, 0), gaussian(10, 4, 1)) == []
    assert warnings(ClassCoverage(ClassCoverageParams()), gaussian(150, 4, 0), gaussian(10, 4, 1)) == [
        "150 images for 10 classes: a class can look missing by chance below 20 images a class; it needs at least 200"
    ]


def test_precision_recall_is_quiet_on_matching_sets_of_enough_images():
    assert warnings(PrecisionRecall(PrecisionRecallParams()), gaussian(1000, 4, 0), gaussian(1000, 4, 1)) == []


def test_precision_recall_warns_on_few_images_and_on_collapsed_samples():
    few = warnings(PrecisionRecall(PrecisionRecallParams()), gaussian(300, 4, 0), gaussian(300, 4, 1))
    assert few == [
        "300 images a set: the 5-NN balls are wide and precision and recall read high; they need at least 1000 "
        "images a set (10,000 for final numbers)"
    ]
    collapsed = warnings(
        PrecisionRecall(PrecisionRecallParams()), gaussian(1000, 4, 0, scale=0.01), gaussian(1000, 4, 1)
    )
    assert len(collapsed) == 2, collapsed
    assert collapsed[0].startswith("the generated images are near-duplicates in feature space (median 5-NN radius")
    assert collapsed[1].startswith("precision 1.000 beside recall 0.000 and coverage 0.0")
    assert collapsed[1].endswith("so precision says nothing of their quality here; read density and coverage")
