"""The feature spaces a metric can look through: the dataset's judge (default), Inception's
(:mod:`ganfw.evaluation.inception`) or DINOv2's (:mod:`ganfw.evaluation.dinov2`); ``auto``
picks the judge when the dataset has one, else Inception.

The class logits come from the judge, when the dataset has one (only it knows the classes) -
or, in the paper protocol, from Inception's own ImageNet classifier, as published Inception
Scores are computed. Without either the logits are empty (N, 0), and the metrics that need
them say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import Tensor

from ganfw.contracts import Embedding
from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.judge import Judge, judge_images
from ganfw.evaluation.judges import find_judge, require_judge
from ganfw.evaluation.network import Network

FeatureName = Literal["judge", "inception", "dinov2"]
FEATURE_SPACES: tuple[FeatureName, ...] = get_args(FeatureName)
#: What ``--features`` and ``eval.features`` accept: a feature space, or ``auto``.
FEATURE_CHOICES = ("auto", *FEATURE_SPACES)


@dataclass(frozen=True)
class FeatureSpace:
    """How images become an :class:`Embedding`.

    Attributes:
        name: ``"judge"``, ``"inception"`` or ``"dinov2"``.
        judge: the dataset's judge (the features for ``"judge"``; the class logits unless
            ``network_logits``); ``None`` when it is not used or the dataset has none.
        network: the feature network (``None`` for ``"judge"``).
        network_logits: the class logits are the network's own classifier's (Inception's).
    """

    name: FeatureName
    judge: Judge | None
    network: Network | None = None
    network_logits: bool = False

    @property
    def classifier(self) -> str | None:
        """The network of the class logits, as protocols name it; ``None`` when there are none."""
        if self.network_logits and self.network is not None:
            return self.network.extractor
        return None if self.judge is None else f"judge:{self.judge.info.dataset}"

    @property
    def class_names(self) -> tuple[str, ...]:
        """The names of the logits' classes: the judge's; none for a network's classifier."""
        return () if self.network_logits or self.judge is None else self.judge.info.classes

    @property
    def key(self) -> str:
        """Names the networks' weights (caches of reference features are keyed by it)."""
        judge = "" if self.judge is None else f"judge-{self.judge.hash[:16]}"
        if self.network is None:
            return judge
        logits = "-logits" if self.network_logits else ""
        return f"{self.name}-{self.network.hash[:16]}{logits}" + (f"-{judge}" if judge else "")

    def extractor(self) -> dict[str, Any]:
        """The feature extractor, its weights' hash and resizing, and the classifier of the class
        logits (a score's protocol)."""
        judge = None if self.judge is None else self.judge.hash
        if self.network is None:
            if self.judge is None:
                raise UserError("a feature space needs the dataset's judge or a feature network")
            name, digest, resize = f"judge:{self.judge.info.dataset}", judge, None
        else:
            name, digest, resize = self.network.extractor, self.network.hash, self.network.resize
        return {
            "extractor": name,
            "extractor_hash": digest,
            "resize": resize,
            "classifier": self.classifier,
            "judge_hash": judge,
        }

    def embed(self, images: Tensor, labels: Tensor | None = None, keep_images: bool = False) -> Embedding:
        """``images`` (N, C, H, W) in [-1, 1] -> features (N, D) and class logits (N, K) (K = 0
        without a classifier), with the ``labels`` (N,) the images were generated for, if any,
        and, when ``keep_images``, the images themselves."""
        features = logits = None
        if self.judge is not None:
            features, logits = judge_images(self.judge.net, images)
        if self.network is not None:
            features, network_logits = self.network(images)
            if self.network_logits:
                logits = network_logits
        if logits is None:
            logits = torch.empty(len(images), 0)
        if features is None:
            raise UserError("a feature space needs the dataset's judge or a feature network")
        return Embedding(features, logits, labels, images if keep_images else None)


def resolve(name: str, data: EvalData) -> FeatureName:
    """``name`` itself, or for ``auto`` the judge when ``data`` has one, else ``inception``."""
    if name == "auto":
        return "judge" if find_judge(data) is not None else "inception"
    if name not in FEATURE_SPACES:
        raise UserError(f"--features: unknown feature space {name!r}; choose one of {', '.join(FEATURE_CHOICES)}")
    return name


def feature_space(name: str, data: EvalData, network_logits: bool = False) -> FeatureSpace:
    """The feature space ``name`` (or ``auto``) for ``data``: ``judge`` needs the dataset's judge;
    ``inception`` and ``dinov2`` load their network here (missing weights fail before any work is
    done) and take the judge for the class logits when there is one - unless ``network_logits``
    asks for the network's own classifier (Inception's; DINOv2 has none)."""
    name = resolve(name, data)
    if name == "judge":
        return FeatureSpace("judge", require_judge(data))
    if name == "inception":
        from ganfw.evaluation.inception import load_inception

        network = load_inception()
    else:
        from ganfw.evaluation.dinov2 import load_dinov2

        network = load_dinov2()
    if network_logits:
        return FeatureSpace(name, None, network, network_logits=name == "inception")
    return FeatureSpace(name, find_judge(data), network)
