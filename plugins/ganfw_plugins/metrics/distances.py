"""Distances between the distributions of generated and reference features, by torchmetrics:
FID (Heusel et al. 2017) and KID (Binkowski et al. 2018). In Inception's features they are the
published FID and KID; in DINOv2's, FID is FD-DINOv2 (Stein et al. 2023).

Features: (N, D) generated and (M, D) reference rows of :class:`ganfw.contracts.Embedding`.
Each warns (``details["warnings"]``) below the images it needs: D + 1 a set for FID (fewer
make a covariance singular), a whole subset a set for KID.
"""

from __future__ import annotations

from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from ganfw.plugin import Embedding, Metric, MetricResult

from . import KIDParams
from .precomputed import Precomputed, quiet


class FID(Metric):
    """``|mu_g - mu_r|^2 + Tr(S_g + S_r - 2 (S_g S_r)^(1/2))`` of the two sets' feature means and
    covariances (float64): 0 for identical statistics; biased upwards at small N."""

    def __init__(self, params: None = None):
        """FID takes no params (the factory is called with ``None``)."""

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        fid = FrechetInceptionDistance(feature=Precomputed(reference.features.shape[1]))
        fid.update(reference.features, real=True)
        fid.update(generated.features, real=False)
        dim, warnings = generated.features.shape[1], []
        for count, which in ((len(generated.features), "generated"), (len(reference.features), "reference")):
            if count <= dim:
                warnings.append(
                    f"{count} {which} images for {dim}-dimensional features: their covariance is singular and FID "
                    f"reads far too high; it needs at least {dim + 1} images a set"
                )
        return MetricResult({"fid": float(fid.compute())}, {"warnings": warnings} if warnings else {})


class KID(Metric):
    """The unbiased estimate of MMD^2 with the cubic polynomial kernel
    ``k(x, y) = (x.y / D + 1)^3``, averaged over random subsets: about 0 (either sign) for two
    samples of one distribution, unbiased at any N. Scores ``kid`` and ``kid_std`` (over subsets)."""

    def __init__(self, params: KIDParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        size = min(self.params.subset_size, len(generated.features), len(reference.features))
        with quiet():
            kid = KernelInceptionDistance(
                feature=Precomputed(reference.features.shape[1]), subsets=self.params.subsets, subset_size=size
            )
            kid.update(reference.features, real=True)
            kid.update(generated.features, real=False)
            mean, std = kid.compute()
        details = {}
        if size < self.params.subset_size:
            details["warnings"] = [
                f"subsets of {size} images, not {self.params.subset_size} ({len(generated.features)} generated, "
                f"{len(reference.features)} reference): KID stays unbiased but spreads widely; its subsets need at "
                f"least {self.params.subset_size} images a set"
            ]
        return MetricResult({"kid": float(mean), "kid_std": float(std)}, details)
