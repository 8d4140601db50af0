"""The metric components on synthetic features and logits, where the right answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ganfw.contracts import Embedding, Metric
from ganfw.errors import UserError
from ganfw.evaluation.evaluate import default_metrics
from ganfw.plugins import load_registry
from ganfw_plugins.metrics import ClassCoverageParams, InceptionScoreParams, KIDParams
from ganfw_plugins.metrics.classes import ClassCoverage, ConditionalAccuracy, InceptionScore
from ganfw_plugins.metrics.distances import FID, KID
from ganfw_plugins.metrics.manifold import manifold_scores

NO_LOGITS = torch.zeros(0, 10)


def features(x: torch.Tensor) -> Embedding:
    """An embedding whose logits do not matter (uniform)."""
    return Embedding(x.float(), torch.zeros(len(x), 10))


def logits_of(labels: list[int], confidence: float = 30.0) -> Embedding:
    """Images the judge classifies as ``labels`` with near-certainty."""
    logits = torch.zeros(len(labels), 10)
    logits[torch.arange(len(labels)), torch.tensor(labels)] = confidence
    return Embedding(torch.zeros(len(labels), 4), logits)


def gaussian(n: int, mean: list[float], std: list[float], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, len(mean), generator=g, dtype=torch.float64) * torch.tensor(
        std, dtype=torch.float64
    ) + torch.tensor(mean, dtype=torch.float64)


def test_every_metric_is_a_registered_component():
    registry = load_registry()
    assert set(registry.names("metric")) >= {
        "fid",
        "kid",
        "inception-score",
        "class-coverage",
        "precision-recall",
        "conditional-accuracy",
        "sliced-wasserstein",
    }
    for name in registry.names("metric"):
        spec = registry.resolve("metric", name).spec
        assert isinstance(spec.load_factory()(spec.default_params()), Metric), name


def test_embedding_checks_shapes():
    with pytest.raises(ValueError, match="expected features"):
        Embedding(torch.zeros(5, 3), torch.zeros(4, 10))


# --------------------------------------------------------------------------- FID
def test_fid_of_identical_sets_is_zero():
    x = features(gaussian(2000, [0.0] * 16, [1.0] * 16, seed=0))
    assert abs(FID().compute(x, x).scores["fid"]) < 1e-6


def test_fid_of_two_gaussians_matches_the_closed_form():
    # Diagonal covariances: FID = |m1 - m2|^2 + sum (s1 - s2)^2.
    m1, s1, m2, s2 = [0.0, 1.0, -1.0], [1.0, 2.0, 0.5], [0.5, 1.0, 0.0], [1.5, 1.0, 0.5]
    closed = sum((a - b) ** 2 for a, b in zip(m1, m2)) + sum((a - b) ** 2 for a, b in zip(s1, s2))
    a, b = gaussian(40000, m1, s1, seed=1), gaussian(40000, m2, s2, seed=2)
    fid = FID().compute(features(a), features(b)).scores["fid"]
    assert fid == pytest.approx(closed, rel=0.03)  # 2.5 up to sampling error
    # And exactly the Frechet distance of the two samples' statistics (scipy's matrix square root).
    mu_a, mu_b = a.mean(0).numpy(), b.mean(0).numpy()
    cov_a, cov_b = np.cov(a.float().double().numpy(), rowvar=False), np.cov(b.float().double().numpy(), rowvar=False)
    exact = ((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * scipy.linalg.sqrtm(cov_a @ cov_b).real)
    assert fid == pytest.approx(exact, rel=1e-4)


# --------------------------------------------------------------------------- KID
def test_kid_is_unbiased_near_zero_for_one_distribution_and_positive_for_two():
    params = KIDParams(subsets=50, subset_size=500)
    real = features(gaussian(3000, [0.0] * 8, [1.0] * 8, seed=3))

    def kid(generated: Embedding) -> dict[str, float]:
        torch.manual_seed(0)
        return KID(params).compute(generated, real).scores

    independent = kid(features(gaussian(3000, [0.0] * 8, [1.0] * 8, seed=4)))
    identical = kid(real)
    far = kid(features(gaussian(3000, [0.5] * 8, [1.0] * 8, seed=5)))
    # Two samples of one distribution: zero within three standard errors of the 50-subset mean.
    assert abs(independent["kid"]) < 3 * independent["kid_std"] / math.sqrt(50), independent
    # One set against itself: about zero (the subsets share images, whose self-similarity enters
    # only the cross term, so it dips a little below), a hundredth of a modest shift's score.
    assert abs(identical["kid"]) < 0.01 * far["kid"], (identical, far)
    assert far["kid"] > 10 * far["kid_std"] / math.sqrt(50)


def test_kid_caps_the_subset_size_at_the_smaller_set():
    small = features(gaussian(50, [0.0] * 4, [1.0] * 4, seed=6))
    big = features(gaussian(500, [0.0] * 4, [1.0] * 4, seed=7))
    scores = KID(KIDParams(subsets=5)).compute(small, big).scores
    assert math.isfinite(scores["kid"]) and math.isfinite(scores["kid_std"])


# --------------------------------------------------------------------------- Inception Score
def test_inception_score_is_one_for_a_single_class():
    scores = InceptionScore(InceptionScoreParams()).compute(logits_of([3] * 1000), logits_of([3]))
    assert scores.scores["is"] == pytest.approx(1.0, abs=1e-4)


def test_inception_score_is_ten_for_a_confident_uniform_mix():
    labels = [i % 10 for i in range(1000)]
    whole = InceptionScore(InceptionScoreParams(splits=1)).compute(logits_of(labels), logits_of([0])).scores
    assert whole["is"] == pytest.approx(10.0, abs=1e-3)
    # In 10 random groups of 100 the digits are never quite even: a little below 10.
    torch.manual_seed(0)
    grouped = InceptionScore(InceptionScoreParams()).compute(logits_of(labels), logits_of([0])).scores
    assert 9.4 < grouped["is"] < 10.0 and 0 < grouped["is_std"] < 0.3
    unsure = Embedding(torch.zeros(1000, 4), torch.zeros(1000, 10))  # uniform p(y|x): no information
    assert InceptionScore(InceptionScoreParams()).compute(unsure, unsure).scores["is"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- class coverage
def test_class_coverage_flags_a_missing_digit():
    labels = [d for d in range(10) if d != 7 for _ in range(100)]
    result = ClassCoverage(ClassCoverageParams()).compute(logits_of(labels), logits_of([0]))
    assert result.scores["classes_missing"] == 1.0
    assert result.details["missing_classes"] == [7]
    assert result.scores["coverage_entropy"] == pytest.approx(math.log2(9))
    assert result.details["class_shares"][7] == 0.0


def test_class_coverage_of_all_digits_and_of_a_rare_one():
    uniform = ClassCoverage(ClassCoverageParams()).compute(logits_of([i % 10 for i in range(1000)]), logits_of([0]))
    assert uniform.scores == {"coverage_entropy": pytest.approx(math.log2(10)), "classes_missing": 0.0}
    # Digit 2 drawn 5 times in 1,000 (0.5%, under a tenth of its fair 10%): counted as missing.
    labels = [d for d in range(10) if d != 2 for _ in range(111)][:995] + [2] * 5
    rare = ClassCoverage(ClassCoverageParams()).compute(logits_of(labels), logits_of([0]))
    assert rare.details["missing_classes"] == [2]
    one_digit = ClassCoverage(ClassCoverageParams()).compute(logits_of([4] * 100), logits_of([0]))
    assert one_digit.scores["coverage_entropy"] == 0.0 and one_digit.scores["classes_missing"] == 9.0


def test_class_coverage_counts_any_number_of_classes():
    three = ClassCoverage(ClassCoverageParams()).compute(logits_of3([0, 1, 1, 2] * 25), logits_of3([0]))
    assert three.scores == {"coverage_entropy": pytest.approx(1.5), "classes_missing": 0.0}
    assert three.details == {"missing_classes": [], "class_shares": [0.25, 0.5, 0.25]}


def logits_of3(labels: list[int]) -> Embedding:
    """Images a judge of 3 classes classifies as ``labels``."""
    logits = torch.zeros(len(labels), 3)
    logits[torch.arange(len(labels)), torch.tensor(labels)] = 30.0
    return Embedding(torch.zeros(len(labels), 4), logits)


@pytest.mark.parametrize(
    "metric",
    [InceptionScore(InceptionScoreParams()), ClassCoverage(ClassCoverageParams()), ConditionalAccuracy()],
    ids=lambda m: type(m).__name__,
)
def test_the_metrics_of_class_logits_need_a_judge(metric):
    """Without a judge (Inception features of unlabelled data) the logits are empty (N, 0)."""
    assert type(metric).needs_judge is True
    judgeless = Embedding(torch.zeros(20, 4), torch.zeros(20, 0), torch.zeros(20, dtype=torch.int64))
    with pytest.raises(
        UserError, match=r"needs a judge of the dataset's classes \(its class logits\), and this dataset has none"
    ):
        metric.compute(judgeless, judgeless)
    assert not getattr(FID, "needs_judge", False) and not getattr(KID, "needs_judge", False)


@pytest.mark.parametrize(
    "labelled, judged, classes, left_out",
    [
        (True, True, True, set()),
        (False, True, True, {"conditional-accuracy"}),
        (True, True, False, {"conditional-accuracy", "class-coverage"}),  # Inception's classifier (paper)
        (True, False, False, {"conditional-accuracy", "inception-score", "class-coverage"}),
        (False, False, False, {"conditional-accuracy", "inception-score", "class-coverage"}),
    ],
)
def test_default_metrics_leave_out_those_that_cannot_run(labelled, judged, classes, left_out):
    """... and the pixel-space ones, which read the reference images from the dataset."""
    registry = load_registry()
    names = default_metrics(registry, labelled=labelled, judged=judged, classes=classes)
    assert set(registry.names("metric")) - set(names) == left_out | {"sliced-wasserstein"}
    assert len(names) == len(set(names))


# --------------------------------------------------------------------------- precision / recall
def brute_force(fake: np.ndarray, real: np.ndarray, k: int) -> dict[str, float]:
    """The four manifold scores straight from the papers' definitions, with loops."""

    def radius(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=2)
        return np.sort(d, axis=1)[:, k]  # column 0 is the point itself

    r_real, r_fake = radius(real), radius(fake)
    d = np.linalg.norm(real[:, None] - fake[None], axis=2)  # (M, N)
    return {
        "precision": np.mean([any(d[i, j] <= r_real[i] for i in range(len(real))) for j in range(len(fake))]),
        "recall": np.mean([any(d[i, j] <= r_fake[j] for j in range(len(fake))) for i in range(len(real))]),
        "density": sum(d[i, j] <= r_real[i] for i in range(len(real)) for j in range(len(fake))) / (k * len(fake)),
        "coverage": np.mean([d[i].min() <= r_real[i] for i in range(len(real))]),
    }


def asked_for(read_as: list[int], asked: list[int]) -> Embedding:
    """Images the judge reads as ``read_as``, generated for the labels ``asked``."""
    seen = logits_of(read_as)
    return Embedding(seen.features, seen.logits, torch.tensor(asked))


def test_conditional_accuracy_is_the_share_read_as_asked_with_each_class_apart():
    # Class 1: 3 of 4 right, class 7: 1 of 2, class 9: none of 1; classes never asked for are not shown.
    generated = asked_for(read_as=[1, 1, 1, 4, 7, 2, 0], asked=[1, 1, 1, 1, 7, 7, 9])
    result = ConditionalAccuracy().compute(generated, logits_of([0, 1]))
    assert result.scores == {"conditional_accuracy": pytest.approx(4 / 7)}
    assert result.details == {"per_class_accuracy": {"1": 0.75, "7": 0.5, "9": 0.0}}
    perfect = ConditionalAccuracy().compute(asked_for(list(range(10)) * 3, list(range(10)) * 3), logits_of([0]))
    assert perfect.scores["conditional_accuracy"] == 1.0 and set(perfect.details["per_class_accuracy"].values()) == {
        1.0
    }


def test_conditional_accuracy_of_a_generator_that_ignores_labels_is_chance():
    g = torch.Generator().manual_seed(0)
    read_as, asked = torch.randint(10, (5000,), generator=g), torch.randint(10, (5000,), generator=g)
    result = ConditionalAccuracy().compute(asked_for(read_as.tolist(), asked.tolist()), logits_of([0]))
    assert result.scores["conditional_accuracy"] == pytest.approx(0.1, abs=0.015)


def test_conditional_accuracy_needs_labels_the_judge_knows():
    assert ConditionalAccuracy.needs_labels is True
    with pytest.raises(
        UserError, match=r"conditional-accuracy: these images carry no labels \(the generator is not conditional"
    ):
        ConditionalAccuracy().compute(logits_of([1, 2]), logits_of([0]))
    with pytest.raises(UserError, match=r"labels span 0\.\.12, but the judge knows 10 classes \(0\.\.9\)"):
        ConditionalAccuracy().compute(asked_for([1, 2], [0, 12]), logits_of([0]))
    with pytest.raises(ValueError, match=r"expected labels \(N,\) = \(2,\) int64"):
        ConditionalAccuracy().compute(
            Embedding(torch.zeros(2, 4), torch.zeros(2, 10), torch.zeros(3, dtype=torch.int64)), logits_of([0])
        )


def test_manifold_scores_match_the_definitions():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(120, 3))
    fake = rng.normal(loc=1.0, scale=1.3, size=(90, 3))
    got = manifold_scores(torch.from_numpy(fake).float(), torch.from_numpy(real).float(), k=4)
    expected = brute_force(fake, real, k=4)
    assert got == pytest.approx(expected, abs=1e-12)
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1


def test_identical_sets_score_one_and_far_sets_zero():
    real = gaussian(500, [0.0] * 5, [1.0] * 5, seed=8).float()
    same = manifold_scores(real, real, k=5)
    assert same == {"precision": 1.0, "recall": 1.0, "density": pytest.approx(6 / 5), "coverage": 1.0}
    far = manifold_scores(real + 100, real, k=5)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_a_collapsed_generator_keeps_precision_and_loses_recall():
    real = gaussian(1000, [0.0] * 2, [1.0] * 2, seed=9)
    collapsed = gaussian(1000, [0.0] * 2, [0.05] * 2, seed=10)  # every sample near the mode
    scores = manifold_scores(collapsed, real, k=5)
    assert scores["precision"] > 0.95 and scores["recall"] < 0.1 and scores["coverage"] < 0.1


def test_manifold_scores_need_more_images_than_neighbours():
    with pytest.raises(ValueError, match="k = 5 needs more than 5 images"):
        manifold_scores(torch.zeros(5, 2), torch.randn(50, 2), k=5)
