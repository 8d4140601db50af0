"""The feature spaces a metric can look through: the judge's own (default) or Inception's.

Either way the logits (class probabilities) come from the judge: only it knows digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from torch import Tensor

from ganfw.contracts import Embedding
from ganfw.evaluation.judge import judge_images, load_judge, weights_hash

FeatureName = Literal["judge", "inception"]
FEATURE_SPACES: tuple[FeatureName, ...] = get_args(FeatureName)


@dataclass(frozen=True)
class FeatureSpace:
    """How images become an :class:`Embedding`.

    Attributes:
        name: ``"judge"`` or ``"inception"``.
        key: names the networks' weights (caches of reference features are keyed by it).
    """

    name: FeatureName
    key: str

    def embed(self, images: Tensor, labels: Tensor | None = None) -> Embedding:
        """``images`` (N, 1, 28, 28) in [-1, 1] -> features (N, D) and judge logits (N, 10),
        with the ``labels`` (N,) the images were generated for, if any."""
        features, logits = judge_images(load_judge(), images)
        if self.name == "inception":
            from ganfw.evaluation.inception import inception_features

            features = inception_features(images)
        return Embedding(features, logits, labels)


def feature_space(name: FeatureName = "judge") -> FeatureSpace:
    """The feature space ``name``; for ``inception`` its network is loaded here, so missing
    weights fail before any work is done."""
    judge = weights_hash()[:16]
    if name == "judge":
        return FeatureSpace("judge", f"judge-{judge}")
    if name == "inception":
        from ganfw.evaluation.inception import WEIGHTS_NAME, load_inception

        load_inception()
        return FeatureSpace("inception", f"inception-{WEIGHTS_NAME.rsplit('-', 1)[-1].removesuffix('.pth')}-judge-{judge}")
    raise ValueError(f"unknown feature space {name!r}; choose one of {', '.join(FEATURE_SPACES)}")
