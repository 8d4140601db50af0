"""The feature spaces a metric can look through: the dataset's judge (default) or Inception's.

Either way the class logits come from the judge, when the dataset has one: only it knows the
classes. Without a judge (``--features inception`` on unlabelled data) the logits are empty
(N, 0), and the metrics that need them say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor

from ganfw.contracts import Embedding
from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.judge import Judge, judge_images
from ganfw.evaluation.judges import find_judge, require_judge

FeatureName = Literal["judge", "inception"]
FEATURE_SPACES: tuple[FeatureName, ...] = get_args(FeatureName)


@dataclass(frozen=True)
class FeatureSpace:
    """How images become an :class:`Embedding`.

    Attributes:
        name: ``"judge"`` or ``"inception"``.
        judge: the dataset's judge (features for ``"judge"``, class logits for both); ``None``
            only for ``"inception"`` on a dataset without one.
    """

    name: FeatureName
    judge: Judge | None

    @property
    def key(self) -> str:
        """Names the networks' weights (caches of reference features are keyed by it)."""
        judge = "" if self.judge is None else f"judge-{self.judge.hash[:16]}"
        if self.name == "judge":
            return judge
        from ganfw.evaluation.inception import WEIGHTS_HASH

        return f"inception-{WEIGHTS_HASH}" + (f"-{judge}" if judge else "")

    def extractor(self) -> dict[str, str | None]:
        """The feature extractor and the judge of the class logits, with their weights' hashes
        (a score's protocol)."""
        judge = None if self.judge is None else self.judge.hash
        if self.name == "judge":
            return {"extractor": f"judge:{self.judge.info.dataset}", "extractor_hash": judge, "judge_hash": judge}
        from ganfw.evaluation.inception import WEIGHTS_HASH, WEIGHTS_NAME

        return {"extractor": f"inception:{WEIGHTS_NAME}", "extractor_hash": WEIGHTS_HASH, "judge_hash": judge}

    def embed(self, images: Tensor, labels: Tensor | None = None) -> Embedding:
        """``images`` (N, C, H, W) in [-1, 1] -> features (N, D) and judge logits (N, K) (K = 0
        without a judge), with the ``labels`` (N,) the images were generated for, if any."""
        if self.judge is not None:
            features, logits = judge_images(self.judge.net, images)
        else:
            features, logits = None, torch.empty(len(images), 0)
        if self.name == "inception":
            from ganfw.evaluation.inception import inception_features

            features = inception_features(images)
        return Embedding(features, logits, labels)


def feature_space(name: str, data: EvalData) -> FeatureSpace:
    """The feature space ``name`` for ``data``: ``judge`` needs the dataset's judge;
    ``inception`` loads its network here (missing weights fail before any work is done) and
    takes the judge when there is one."""
    if name == "judge":
        return FeatureSpace("judge", require_judge(data))
    if name == "inception":
        from ganfw.evaluation.inception import load_inception

        load_inception()
        return FeatureSpace("inception", find_judge(data))
    raise UserError(f"--features: unknown feature space {name!r}; choose one of {', '.join(FEATURE_SPACES)}")
