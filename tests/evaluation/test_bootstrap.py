"""FID's bootstrap interval on synthetic features, where the spread of FID over independent draws
of the generated images is known by simulation."""

from __future__ import annotations

import pytest
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from ganfw.evaluation.bootstrap import FrechetTo, fid_interval


def gaussian(n: int, shift: float, seed: int, dims: int = 8) -> torch.Tensor:
    """(n, dims) standard normal features moved by ``shift`` along every axis."""
    return torch.randn(n, dims, generator=torch.Generator().manual_seed(seed)) + shift


def test_the_frechet_distance_is_torch_fidelitys_fid():
    reference, generated = gaussian(2000, 0.0, 1), gaussian(500, 0.3, 2) * 1.2
    expected = fid_statistics_to_metric(
        fid_features_to_statistics(generated), fid_features_to_statistics(reference), False
    )["frechet_inception_distance"]
    assert FrechetTo(reference)(generated) == pytest.approx(expected, rel=1e-6)


def test_the_interval_brackets_the_score_and_spans_the_spread_of_independent_draws():
    reference = gaussian(5000, 0.0, 0)
    distance = FrechetTo(reference)
    # FID of 60 independent sets of 400 generated images: the spread the interval estimates.
    fids = torch.tensor([distance(gaussian(400, 0.2, seed)) for seed in range(100, 160)])
    generated = gaussian(400, 0.2, 7)
    point = distance(generated)
    interval = fid_interval(generated, reference, point, resamples=200, seed=3)
    assert interval.low < point < interval.high
    width, simulated = interval.high - interval.low, 2 * 1.96 * fids.std().item()
    assert 0.6 * simulated < width < 1.6 * simulated, (width, simulated)
    assert (interval.level, interval.resamples, interval.seed) == (0.95, 200, 3)


def test_the_interval_is_seeded():
    reference, generated = gaussian(1000, 0.0, 0), gaussian(200, 0.5, 1)
    point = FrechetTo(reference)(generated)
    assert fid_interval(generated, reference, point, resamples=30, seed=1) == fid_interval(
        generated, reference, point, resamples=30, seed=1
    )
    assert fid_interval(generated, reference, point, resamples=30, seed=2) != fid_interval(
        generated, reference, point, resamples=30, seed=1
    )


def test_the_interval_of_a_set_at_the_reference_is_clamped_at_zero():
    reference = gaussian(1000, 0.0, 0)
    interval = fid_interval(reference, reference, 0.0, resamples=50, seed=0)
    assert interval.low == 0.0 < interval.high
