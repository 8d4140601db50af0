"""Metrics of the judge's class predictions on generated images: the Inception Score (Salimans
et al. 2016, computed by torchmetrics from the judge's logits) and the class coverage (by hand:
no library offers it).

Logits: (N, K) rows of :class:`ganfw.contracts.Embedding` (K = 10 digits).
"""

from __future__ import annotations

import math

import torch
from torchmetrics.image.inception import InceptionScore as _TorchmetricsIS

from ganfw.contracts import Embedding, Metric, MetricResult

from . import ClassCoverageParams, InceptionScoreParams
from .precomputed import Precomputed, quiet


class InceptionScore(Metric):
    """``exp(E_x KL(p(y|x) || p(y)))`` in groups of the generated images: 1 when every image gets
    the same class distribution (or the judge is unsure of all), K (10) when the images are
    confidently classified and every class equally frequent. Scores ``is`` and ``is_std``."""

    def __init__(self, params: InceptionScoreParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        logits = generated.logits
        with quiet():
            score = _TorchmetricsIS(feature=Precomputed(logits.shape[1]), splits=min(self.params.splits, len(logits)))
            score.update(logits)
            mean, std = score.compute()
        return MetricResult({"is": float(mean), "is_std": 0.0 if math.isnan(std) else float(std)})


class ClassCoverage(Metric):
    """The histogram of predicted digits (argmax of the logits) of the generated images: its
    entropy in bits (``coverage_entropy``: log2(10) = 3.32 when all ten digits are equally
    frequent, 0 when one digit is all there is) and the number of digits whose share is below
    ``missing_below / 10`` (``classes_missing``). Details: ``missing_digits`` and
    ``digit_shares``."""

    def __init__(self, params: ClassCoverageParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        classes = generated.logits.shape[1]
        counts = torch.bincount(generated.logits.argmax(1), minlength=classes).double()
        shares = counts / counts.sum()
        present = shares[shares > 0]
        entropy = -(present * present.log2()).sum().item() + 0.0  # + 0.0 turns -0.0 into 0.0
        missing = [d for d in range(classes) if shares[d] < self.params.missing_below / classes]
        return MetricResult(
            {"coverage_entropy": entropy, "classes_missing": float(len(missing))},
            {"missing_digits": missing, "digit_shares": [round(s, 4) for s in shares.tolist()]},
        )
