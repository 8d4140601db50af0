"""A bootstrap confidence interval for FID: how much the score owes to which images were drawn.

The generated features are resampled with replacement, ``resamples`` times from a generator
seeded by ``seed``, and each resample's Fréchet distance to the (fixed) reference statistics is
computed. A resample repeats some images, which inflates FID by about the same amount every
time; so the interval is the central ``level`` share of the resampled FIDs, shifted by their
mean excess over the point estimate (a bias-corrected percentile interval; both ends are
clamped at 0, as FID cannot be negative): it measures the spread, centred where the score is.
On very few images the excess can exceed the spread and push the whole interval to [0, 0];
evaluation then warns that the interval says nothing (:mod:`ganfw.evaluation.caveats`).

Features: (N, D) generated, (M, D) reference; computed in float64.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Interval:
    """``[low, high]``, a ``level`` confidence interval from ``resamples`` resamples seeded by
    ``seed``."""

    low: float
    high: float
    level: float
    resamples: int
    seed: int

    def as_json(self) -> dict[str, float | int | str]:
        return {**asdict(self), "method": "bootstrap of the generated images, bias-corrected percentile"}


def _sqrtm_psd(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric positive semi-definite (D, D) matrix."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp(min=0).sqrt()) @ vectors.T


class FrechetTo:
    """Fréchet distances of feature sets to one reference set, whose statistics are computed once:
    ``|mu_g - mu_r|^2 + Tr(S_g) + Tr(S_r) - 2 Tr((S_r^1/2 S_g S_r^1/2)^1/2)``."""

    def __init__(self, reference: Tensor):
        reference = reference.double()
        self.mean, cov = reference.mean(0), torch.cov(reference.T)
        self.root, self.trace = _sqrtm_psd(cov), cov.trace()

    def __call__(self, features: Tensor) -> float:
        """FID of ``features`` (N, D) to the reference."""
        features = features.double()
        cov = torch.cov(features.T)
        cross = torch.linalg.eigvalsh(self.root @ cov @ self.root).clamp(min=0).sqrt().sum()
        return ((features.mean(0) - self.mean).square().sum() + cov.trace() + self.trace - 2 * cross).item()


def fid_interval(
    generated: Tensor, reference: Tensor, point: float, *, resamples: int = 200, seed: int = 0, level: float = 0.95
) -> Interval:
    """The bootstrap interval of the FID ``point`` of ``generated`` (N, D) against
    ``reference`` (M, D) (see the module docstring)."""
    rng = torch.Generator().manual_seed(seed)
    n = len(generated)
    threads = torch.get_num_threads()
    # One thread: on these small matrices the math library's threads mostly wait for each other
    # (a 128 x 128 eigendecomposition took 0.8 s with 2 threads on a busy machine, 0.5 ms with 1).
    torch.set_num_threads(1)
    try:
        distance = FrechetTo(reference)
        fids = torch.tensor(
            [distance(generated[torch.randint(n, (n,), generator=rng)]) for _ in range(resamples)], dtype=torch.float64
        )
    finally:
        torch.set_num_threads(threads)
    tail = (1 - level) / 2
    low, high = torch.quantile(fids, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    excess = fids.mean().item() - point
    return Interval(max(low - excess, 0.0), max(high - excess, 0.0), level, resamples, seed)
