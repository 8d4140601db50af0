"""Distances between the distributions of generated and reference features: FID (Heusel et al.
2017) and KID (Binkowski et al. 2018), by their published formulas (the same numbers as
torch-fidelity's, which the tests compare them with). In Inception's features
they are the published FID and KID; in DINOv2's, FID is FD-DINOv2 (Stein et al. 2023).

Features: (N, D) generated and (M, D) reference rows of :class:`ganfw.contracts.Embedding`.
Each warns (``details["warnings"]``) below the images it needs: D + 1 a set for FID (fewer
make a covariance singular), a whole subset a set for KID.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganfw.plugin import Embedding, FrechetTo, Metric, MetricResult

from . import KIDParams


class FID(Metric):
    """``|mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2))`` of the two sets' feature means and
    covariances (float64): 0 for identical statistics; biased upwards at small N."""

    def __init__(self, params: None = None):
        """FID takes no params (the factory is called with ``None``)."""

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        fid = FrechetTo(reference.features)(generated.features)
        dim, warnings = generated.features.shape[1], []
        for count, which in ((len(generated.features), "generated"), (len(reference.features), "reference")):
            if count <= dim:
                warnings.append(
                    f"{count} {which} images for {dim}-dimensional features: their covariance is singular and FID "
                    f"reads far too high; it needs at least {dim + 1} images a set"
                )
        return MetricResult({"fid": fid}, {"warnings": warnings} if warnings else {})


def polynomial_mmd2(x: Tensor, y: Tensor) -> Tensor:
    """The unbiased estimate of MMD^2 between two sets of m rows each, (m, D) and (m, D), with the
    kernel ``k(a, b) = (a.b / D + 1)^3``: the mean of k within each set (its diagonal left out)
    minus twice the mean of k across the sets; a float64 scalar."""
    m, dim = x.shape
    within = [(z @ z.T / dim + 1).pow(3).double() for z in (x, y)]
    across = (x @ y.T / dim + 1).pow(3).double()
    same = sum(k.sum() - k.diagonal().sum() for k in within)
    return same / (m * (m - 1)) - 2 * across.mean()


class KID(Metric):
    """The unbiased estimate of MMD^2 with the cubic polynomial kernel
    ``k(x, y) = (x.y / D + 1)^3``, averaged over random subsets (drawn from torch's global
    generator, which evaluation seeds): about 0 (either sign) for two samples of one distribution,
    unbiased at any N. Scores ``kid`` and ``kid_std`` (the spread over subsets)."""

    def __init__(self, params: KIDParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        real, fake = reference.features.float(), generated.features.float()
        size = min(self.params.subset_size, len(fake), len(real))
        scores = torch.stack(
            [
                polynomial_mmd2(real[torch.randperm(len(real))[:size]], fake[torch.randperm(len(fake))[:size]])
                for _ in range(self.params.subsets)
            ]
        )
        details = {}
        if size < self.params.subset_size:
            details["warnings"] = [
                f"subsets of {size} images, not {self.params.subset_size} ({len(generated.features)} generated, "
                f"{len(reference.features)} reference): KID stays unbiased but spreads widely; its subsets need at "
                f"least {self.params.subset_size} images a set"
            ]
        return MetricResult({"kid": scores.mean().item(), "kid_std": scores.std(unbiased=False).item()}, details)
