"""k-nearest-neighbour manifold metrics, written by hand (torchmetrics has none; the authors'
packages are unmaintained): precision and recall (Kynkaanniemi et al. 2019), density and
coverage (Naeem et al. 2020), in one pass over the generated-to-reference distances.

Each image's *ball* reaches its k-th nearest neighbour in its own set. Features: (N, D)
generated and (M, D) reference rows of :class:`ganfw.contracts.Embedding`.

The scores warn (``details["warnings"]``) where they cannot be read as usual: fewer than
:data:`MIN_IMAGES` a set (the balls are wide, precision and recall read high), generated images
collapsed onto near-duplicates (their balls a fraction of the real ones'), and a high precision
beside a recall and coverage near zero (the generated images sit in a few large real balls,
around outlying real images: the k-NN precision of blob-like samples).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganfw.plugin import Embedding, Metric, MetricResult

from . import PrecisionRecallParams

#: Rows of a distance matrix computed at a time (memory: ROWS x N floats).
ROWS = 1024
#: Images a set below which the k-NN balls are too wide to read the scores as usual.
MIN_IMAGES = 1000
#: Generated balls under this share of the real ones' (medians) mean collapsed samples.
COLLAPSED = 0.2


def kth_neighbour_distance(x: Tensor, k: int) -> Tensor:
    """(N,) distance from each row of ``x`` (N, D) to its ``k``-th nearest other row."""
    if len(x) <= k:
        raise ValueError(f"k = {k} needs more than {k} images, got {len(x)}")
    return torch.cat([torch.cdist(part, x).topk(k + 1, dim=1, largest=False).values[:, k] for part in x.split(ROWS)])


def manifold_scores(fake: Tensor, real: Tensor, k: int) -> dict[str, float]:
    """:func:`ball_scores` of ``fake`` (N, D) against ``real`` (M, D), with balls reaching each
    image's ``k``-th nearest neighbour in its own set."""
    return ball_scores(fake, real, kth_neighbour_distance(real, k), kth_neighbour_distance(fake, k), k)


def ball_scores(fake: Tensor, real: Tensor, real_radius: Tensor, fake_radius: Tensor, k: int) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` (N, D) against ``real`` (M, D).

    - precision: share of fake images inside some real image's ball (quality);
    - recall: share of real images inside some fake image's ball (diversity);
    - density: mean number of real balls holding a fake image, divided by k (about 1 when the
      two sets match, above 1 when fakes crowd dense regions);
    - coverage: share of real images whose ball holds at least one fake image.

    ``real_radius`` (M,) and ``fake_radius`` (N,): the radii of the real and fake balls.
    """
    # The real-to-real distances of the radii and the real-to-fake ones below are computed in
    # the same row blocks, so a fake image equal to a real one meets exactly its radius.
    fake_in_real_balls = torch.zeros(len(fake), dtype=torch.float64)
    recalled = covered = 0
    for rows, radius in zip(real.split(ROWS), real_radius.split(ROWS)):
        distance = torch.cdist(rows, fake)  # (rows, N)
        inside_real = distance <= radius[:, None]
        fake_in_real_balls += inside_real.sum(0)
        covered += int(inside_real.any(1).sum())
        recalled += int((distance <= fake_radius[None, :]).any(1).sum())
    return {
        "precision": (fake_in_real_balls > 0).double().mean().item(),
        "recall": recalled / len(real),
        "density": fake_in_real_balls.mean().item() / k,
        "coverage": covered / len(real),
    }


class PrecisionRecall(Metric):
    """Scores ``precision``, ``recall``, ``density`` and ``coverage`` (see :func:`manifold_scores`)
    of equally many generated and reference images: the larger set is cut to a random subset
    of the smaller one's size (the balls' radii, and so all four scores, depend on the count)."""

    def __init__(self, params: PrecisionRecallParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        n = min(len(generated.features), len(reference.features))
        fake, real = (
            x[torch.randperm(len(x))[:n]] if len(x) > n else x for x in (generated.features, reference.features)
        )
        k = self.params.k
        real_radius, fake_radius = kth_neighbour_distance(real, k), kth_neighbour_distance(fake, k)
        scores = ball_scores(fake, real, real_radius, fake_radius, k)
        warnings = caveats(scores, fake_radius.median().item(), real_radius.median().item(), n, k)
        return MetricResult(scores, {"warnings": warnings} if warnings else {})


def caveats(scores: dict[str, float], fake_radius: float, real_radius: float, n: int, k: int) -> list[str]:
    """Why ``scores`` (of :func:`ball_scores`, ``n`` images a set) cannot be read as usual, given
    the median radii of the generated and the real balls; empty when they can."""
    warnings = []
    if n < MIN_IMAGES:
        warnings.append(
            f"{n} images a set: the {k}-NN balls are wide and precision and recall read high; "
            f"they need at least {MIN_IMAGES} images a set (10,000 for final numbers)"
        )
    if fake_radius < COLLAPSED * real_radius:
        warnings.append(
            f"the generated images are near-duplicates in feature space (median {k}-NN radius {fake_radius:.3g}, "
            f"{fake_radius / real_radius:.0%} of the real images' {real_radius:.3g}): precision counts how many sit "
            "inside real balls, not how varied they are"
        )
    if scores["precision"] >= 0.5 and scores["recall"] < 0.05 and scores["coverage"] < 0.05:
        warnings.append(
            f"precision {scores['precision']:.3f} beside recall {scores['recall']:.3f} and coverage "
            f"{scores['coverage']:.3f}: the generated images fall into a few large real balls (around outlying "
            "real images), so precision says nothing of their quality here; read density and coverage"
        )
    return warnings
