"""Metrics of the judge's class predictions on generated images: the Inception Score (Salimans
et al. 2016, computed by torchmetrics from the judge's logits), the class coverage (by hand:
no library offers it) and, for a class-conditional generator, the conditional accuracy.

Logits: (N, K) rows of :class:`ganfw.contracts.Embedding` (K = 10 digits); labels: (N,) int64.
"""

from __future__ import annotations

import math

import torch
from torchmetrics.image.inception import InceptionScore as _TorchmetricsIS

from ganfw.contracts import Embedding, Metric, MetricResult
from ganfw.errors import UserError

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


class ConditionalAccuracy(Metric):
    """The share of generated images that the judge classifies as the class they were asked for
    (``conditional_accuracy``: 1 when a class-conditional generator draws every class as asked,
    about 1/K when it ignores its labels): the "GAN-test" accuracy of Shmelkov et al. 2018 ("How
    good is my GAN?"), a classifier trained on real images scoring generated ones.
    Details: ``per_class_accuracy``, ``{class: share}`` over the classes asked for.

    Needs the labels the images were generated with (:attr:`Embedding.labels`): images without
    them (an unconditional generator, a file saved without labels) are a :class:`UserError`.
    ``ganfw evaluate`` leaves it out of its default metrics for such images (:attr:`needs_labels`).
    """

    #: Only meaningful for images generated from labels.
    needs_labels = True

    def __init__(self, params: None = None):
        """It takes no params (the factory is called with ``None``)."""

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        labels, logits = generated.labels, generated.logits
        if labels is None:
            raise UserError("conditional-accuracy: these images carry no labels (the generator is not conditional, "
                            "or the file was saved without them); leave the metric out")
        classes = logits.shape[1]
        if labels.shape != (len(logits),) or labels.dtype != torch.int64:
            raise ValueError(f"expected labels (N,) = ({len(logits)},) int64, got {labels.dtype} {tuple(labels.shape)}")
        if labels.min() < 0 or labels.max() >= classes:
            raise UserError(f"conditional-accuracy: labels span {labels.min().item()}..{labels.max().item()}, "
                            f"but the judge knows {classes} classes (0..{classes - 1})")
        hits = (logits.argmax(1) == labels).double()
        asked = torch.bincount(labels, minlength=classes)
        right = torch.bincount(labels, weights=hits, minlength=classes)
        per_class = {str(c): round(right[c].item() / asked[c].item(), 4) for c in range(classes) if asked[c]}
        return MetricResult({"conditional_accuracy": hits.mean().item()}, {"per_class_accuracy": per_class})
