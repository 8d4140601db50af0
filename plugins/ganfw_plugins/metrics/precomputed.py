"""Feeding torchmetrics' image metrics with features computed beforehand.

torchmetrics' FID, KID and Inception Score take a feature extractor as ``feature=<nn.Module>``
and run it inside ``update``. The judge's view of the images is computed once and shared by all
metrics (and cached for the reference set), so the module handed to torchmetrics is the identity
on those features.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

from torch import Tensor, nn


class Precomputed(nn.Module):
    """The identity on rows of features: (N, D) -> (N, D).

    Attributes:
        num_features: ``D``, read by torchmetrics instead of probing the module with an image.
    """

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        if features.ndim != 2 or features.shape[1] != self.num_features:
            raise ValueError(f"expected features (N, {self.num_features}), got {tuple(features.shape)}")
        return features


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence torchmetrics' two harmless warnings: that a metric keeps every feature in memory
    (the sets here hold at most a few ten thousand rows) and that a standard deviation over a
    single group is undefined (reported as 0)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*will save all extracted features in buffer.*")
        warnings.filterwarnings("ignore", message=r".*degrees of freedom is <= 0.*")
        yield
