"""Metrics of a classifier's predictions on generated images: the Inception Score (Salimans et
al. 2016, as the original code and torch-fidelity compute it), the class coverage (by hand: no
library offers it) and, for a class-conditional generator, the conditional accuracy.

Logits: (N, K) rows of :class:`ganfw.contracts.Embedding` (K = 10 for MNIST's digits, from the
dataset's judge; K = 1008 from Inception's ImageNet head in the paper protocol); labels: (N,)
int64. Each needs class logits (``needs_judge``): without them (``--features inception`` on
unlabelled data) the logits are empty and they refuse to run. The class coverage and the
conditional accuracy also read the logits as the dataset's classes (``needs_classes``); they
report classes by index, which evaluation shows by name.

Each warns (``details["warnings"]``) below the images it needs: 100 a group for the Inception
Score, 20 a class for the class coverage.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ganfw.plugin import Embedding, Metric, MetricResult, UserError

from . import ClassCoverageParams, InceptionScoreParams

#: Images per group below which the Inception Score reads low.
IS_GROUP_MIN = 100
#: Images per class below which a class may look missing by chance.
COVERAGE_CLASS_MIN = 20


def judge_logits(name: str, generated: Embedding) -> Tensor:
    """The judge's logits (N, K) of ``generated``; a :class:`UserError` naming the metric
    ``name`` when there is no judge (K = 0)."""
    if not generated.logits.shape[1]:
        raise UserError(
            f"{name} needs a judge of the dataset's classes (its class logits), and this dataset has "
            "none: leave it out, or train one with ganfw train-judge (labelled data)"
        )
    return generated.logits


def inception_score(logits: Tensor, splits: int) -> tuple[float, float]:
    """``exp(E_x KL(p(y|x) || p(y)))`` of ``logits`` (N, K) in ``splits`` consecutive groups (the
    i-th: rows ``i N // splits`` to ``(i + 1) N // splits``), in float64: the groups' mean and
    their standard deviation (over groups, population): the formula of Salimans et al.'s code and
    torch-fidelity's ``isc_features_to_metric``."""
    p, log_p = logits.double().softmax(1), logits.double().log_softmax(1)
    n, scores = len(logits), []
    for i in range(splits):
        part = slice(i * n // splits, (i + 1) * n // splits)
        marginal = p[part].mean(0, keepdim=True)
        scores.append((p[part] * (log_p[part] - marginal.log())).sum(1).mean().exp())
    groups = torch.stack(scores)
    return groups.mean().item(), groups.std(correction=0).item()


class InceptionScore(Metric):
    """The Inception Score of the generated images, shuffled (torch's global generator) and
    scored in ``splits`` groups (:func:`inception_score`): 1 when every image gets the same class
    distribution (or the classifier is unsure of all), K (10) when the images are confidently
    classified and every class equally frequent. Scores ``is`` and ``is_std``."""

    needs_judge = True

    def __init__(self, params: InceptionScoreParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        logits = judge_logits("inception-score", generated)
        splits = min(self.params.splits, len(logits))
        mean, std = inception_score(logits[torch.randperm(len(logits))], splits)
        warnings = []
        if len(logits) < IS_GROUP_MIN * splits:
            warnings.append(
                f"groups of {len(logits) // splits} images ({len(logits)} in {splits}): the score reads low in small "
                f"groups; it needs at least {IS_GROUP_MIN * splits} images"
            )
        return MetricResult({"is": mean, "is_std": std}, {"warnings": warnings} if warnings else {})


class ClassCoverage(Metric):
    """The histogram of predicted classes (argmax of the logits) of the generated images: its
    entropy in bits (``coverage_entropy``: log2(K) = 3.32 for MNIST's 10 digits when all are
    equally frequent, 0 when one class is all there is) and the number of classes whose share is
    below ``missing_below / K`` (``classes_missing``). Details: ``missing_classes`` (indices)
    and ``class_shares`` (one per class)."""

    needs_judge = True
    needs_classes = True

    def __init__(self, params: ClassCoverageParams):
        self.params = params

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        logits = judge_logits("class-coverage", generated)
        classes = logits.shape[1]
        counts = torch.bincount(logits.argmax(1), minlength=classes).double()
        shares = counts / counts.sum()
        present = shares[shares > 0]
        entropy = -(present * present.log2()).sum().item() + 0.0  # + 0.0 turns -0.0 into 0.0
        missing = [c for c in range(classes) if shares[c] < self.params.missing_below / classes]
        details = {"missing_classes": missing, "class_shares": [round(s, 4) for s in shares.tolist()]}
        if len(logits) < COVERAGE_CLASS_MIN * classes:
            details["warnings"] = [
                f"{len(logits)} images for {classes} classes: a class can look missing by chance below "
                f"{COVERAGE_CLASS_MIN} images a class; it needs at least {COVERAGE_CLASS_MIN * classes}"
            ]
        return MetricResult({"coverage_entropy": entropy, "classes_missing": float(len(missing))}, details)


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
    needs_judge = True
    needs_classes = True

    def __init__(self, params: None = None):
        """It takes no params (the factory is called with ``None``)."""

    def compute(self, generated: Embedding, reference: Embedding) -> MetricResult:
        labels, logits = generated.labels, judge_logits("conditional-accuracy", generated)
        if labels is None:
            raise UserError(
                "conditional-accuracy: these images carry no labels (the generator is not conditional, "
                "or the file was saved without them); leave the metric out"
            )
        classes = logits.shape[1]
        if labels.shape != (len(logits),) or labels.dtype != torch.int64:
            raise ValueError(f"expected labels (N,) = ({len(logits)},) int64, got {labels.dtype} {tuple(labels.shape)}")
        if labels.min() < 0 or labels.max() >= classes:
            raise UserError(
                f"conditional-accuracy: labels span {labels.min().item()}..{labels.max().item()}, "
                f"but the judge knows {classes} classes (0..{classes - 1})"
            )
        hits = (logits.argmax(1) == labels).double()
        asked = torch.bincount(labels, minlength=classes)
        right = torch.bincount(labels, weights=hits, minlength=classes)
        per_class = {str(c): round(right[c].item() / asked[c].item(), 4) for c in range(classes) if asked[c]}
        return MetricResult({"conditional_accuracy": hits.mean().item()}, {"per_class_accuracy": per_class})
