"""The metrics against published reference implementations on small fixed arrays: torch-fidelity's
FID, KID, Inception Score and precision/recall (https://github.com/toshas/torch-fidelity), the
authors' ``prdc`` package for precision, recall, density and coverage (Naeem et al. 2020,
https://github.com/clovaai/generative-evaluation-prdc), and scipy's 1-D Wasserstein distance
for the sliced Wasserstein distance."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from prdc import compute_prdc
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric

from ganfw.contracts import Embedding
from ganfw_plugins.metrics import KIDParams, PrecisionRecallParams
from ganfw_plugins.metrics.classes import inception_score
from ganfw_plugins.metrics.distances import FID, KID
from ganfw_plugins.metrics.manifold import PrecisionRecall, manifold_scores
from ganfw_plugins.metrics.pixels import sliced_wasserstein


def features(n: int, dim: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    """(n, dim) float32 Gaussian features, seeded."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=g) * scale + shift


def embedding(x: torch.Tensor) -> Embedding:
    return Embedding(x, torch.zeros(len(x), 0))


def test_fid_is_torch_fidelitys():
    fake, real = features(300, 8, seed=0, shift=0.3, scale=1.2), features(400, 8, seed=1)
    expected = fid_statistics_to_metric(fid_features_to_statistics(fake), fid_features_to_statistics(real), False)
    got = FID().compute(embedding(fake), embedding(real)).scores["fid"]
    assert got == pytest.approx(expected["frechet_inception_distance"], rel=1e-6)


@pytest.mark.parametrize("n", [50, 120])
def test_kid_is_torch_fidelitys_on_whole_sets(n):
    """With subsets as large as the sets, every subset is a permutation of them, whatever the
    random draws of either implementation: the two must agree exactly."""
    fake, real = features(n, 16, seed=2, shift=0.2), features(n, 16, seed=3)
    expected = kid_features_to_metric(fake, real, kid_subsets=2, kid_subset_size=n, verbose=False)
    torch.manual_seed(0)
    got = KID(KIDParams(subsets=2, subset_size=n)).compute(embedding(fake), embedding(real)).scores
    assert got["kid"] == pytest.approx(expected["kernel_inception_distance_mean"], rel=1e-5)
    assert got["kid_std"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("splits", [1, 3, 10])
def test_inception_score_is_torch_fidelitys(splits):
    logits = features(103, 12, seed=4, scale=3.0)  # 103 rows: groups of unequal size
    expected = isc_features_to_metric(logits, splits=splits, shuffle=False)
    mean, std = inception_score(logits, splits)
    assert mean == pytest.approx(expected["inception_score_mean"], rel=1e-12)
    assert std == pytest.approx(expected["inception_score_std"], rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("k", [3, 5])
def test_precision_and_recall_are_torch_fidelitys(k):
    fake, real = features(150, 6, seed=5, shift=0.5, scale=0.8), features(150, 6, seed=6)
    expected = prc_features_to_metric(
        fake, real, prc_neighborhood=k, prc_batch_size=64, save_cpu_ram=False, verbose=False
    )
    got = manifold_scores(fake, real, k)
    assert (got["precision"], got["recall"]) == pytest.approx(
        (expected["precision"], expected["recall"]), abs=1e-6
    )  # theirs: float32 means


def test_precision_recall_density_coverage_are_the_authors():
    fake, real = features(200, 5, seed=7, shift=0.4, scale=1.3), features(200, 5, seed=8)
    expected = compute_prdc(real_features=real.numpy(), fake_features=fake.numpy(), nearest_k=5)
    got = PrecisionRecall(PrecisionRecallParams(k=5)).compute(embedding(fake), embedding(real)).scores
    assert got == pytest.approx({key: float(value) for key, value in expected.items()}, abs=1e-6)
    assert 0.1 < got["precision"] < 0.99 and 0.1 < got["coverage"] < 0.99  # a case where they all matter


def test_sliced_wasserstein_is_the_mean_of_scipys_one_dimensional_distances():
    a, b = features(80, 4, seed=9).double(), features(80, 4, seed=10, shift=0.3, scale=2.0).double()
    directions = features(4, 37, seed=11).double()  # 37: more than one block of directions at once
    directions = directions / directions.norm(dim=0)
    expected = np.mean([scipy.stats.wasserstein_distance((a @ d).numpy(), (b @ d).numpy()) for d in directions.T])
    assert sliced_wasserstein(a, b, directions) == pytest.approx(expected, rel=1e-12)
