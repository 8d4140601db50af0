"""The judge: a small classifier of a dataset's classes, whose eyes every metric looks through.

Its penultimate layer (128 numbers after a ReLU) is the feature space of FID, KID and
precision/recall; its logits give the class probabilities of the Inception Score, the class
coverage and the conditional accuracy. A judge knows one dataset: its weights file carries the
dataset's key, image shape and class names, and its accuracy on the dataset's held-out split
(:class:`JudgeInfo`). Judges for MNIST and Fashion-MNIST ship inside the package
(``judges/<key>.safetensors``); ``ganfw train-judge`` makes one for any labelled dataset
(:mod:`ganfw.evaluation.judges` finds them).

Images: (N, C, H, W) float in [-1, 1], as generators produce them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ganfw.atomic import atomic_path
from ganfw.errors import UserError

#: Length of a feature vector.
FEATURES = 128
#: The metadata entry of a weights file holding :class:`JudgeInfo` (JSON).
METADATA_KEY = "judge"


class JudgeNet(nn.Module):
    """Three 3x3 conv + ReLU + 2x2 max-pool stages (16, 32, 64 channels: H -> H/8, e.g.
    28 -> 14 -> 7 -> 3), a dense layer to 128 with ReLU (the features), dropout, and a dense layer
    128 -> K (the logits). For MNIST's (1, 28, 28) and 10 classes: 98,442 parameters."""

    def __init__(self, image_shape: tuple[int, int, int] = (1, 28, 28), classes: int = 10, dropout: float = 0.3):
        super().__init__()
        channels, height, width = image_shape
        if height < 8 or width < 8 or classes < 2:
            raise ValueError(f"a judge needs images of at least 8x8 pixels and 2 classes, got {image_shape}, {classes}")
        self.body = nn.Sequential(
            nn.Conv2d(channels, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * (height // 8) * (width // 8), FEATURES),
            nn.ReLU(),
        )
        self.classes = classes
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURES, classes))
        #: Multiplies the features; :func:`calibrate` sets it so that their mean square is 1.
        self.feature_scale: Tensor
        self.register_buffer("feature_scale", torch.ones(()))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``images`` (N, C, H, W) in [-1, 1] -> features (N, 128), logits (N, K)."""
        hidden = self.body(images)
        return hidden * self.feature_scale, self.head(hidden)


def calibrate(net: JudgeNet, images: Tensor) -> None:
    """Set ``net.feature_scale`` so that the features of ``images`` (N, C, H, W) have a mean
    square of 1: distances then read alike whatever the trained layer's scale, and KID's kernel
    ``(x.y / 128 + 1)^3`` works in its intended range."""
    net.feature_scale.fill_(1.0)
    features, _ = judge_images(net, images)
    net.feature_scale.fill_(features.square().mean().rsqrt().item())


@dataclass(frozen=True)
class JudgeInfo:
    """What a judge was trained on, stored in its weights file.

    Attributes:
        dataset: the dataset's key (``"mnist"``).
        image_shape: ``(C, H, W)`` of the images it reads.
        classes: the class names, in the order of its logits.
        accuracy: its accuracy on the dataset's held-out split, named by ``split``
            (``"test"`` or ``"held-out"``), of ``n_held_out`` images.
        training: how it was trained (seed, epochs, images, torch version).
    """

    dataset: str
    image_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    accuracy: float
    split: str
    n_held_out: int
    training: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """``'mnist' (1, 28, 28) images of 10 classes``, for messages."""
        return f"{self.dataset!r} {self.image_shape} images of {len(self.classes)} classes"


@dataclass(frozen=True)
class Judge:
    """A loaded judge: ``net`` (eval mode, CPU, shared: do not modify it), what it knows
    (``info``), its weights file and that file's SHA-256 (``hash``, which names it in caches and
    score protocols)."""

    net: JudgeNet
    info: JudgeInfo
    path: Path
    hash: str


def save_judge(net: JudgeNet, info: JudgeInfo, path: Path) -> None:
    """Write ``net``'s weights and ``info`` (as JSON metadata) to ``path``, atomically."""
    metadata = {METADATA_KEY: json.dumps(asdict(info))}
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp), metadata=metadata)


def read_info(path: Path) -> JudgeInfo:
    """The :class:`JudgeInfo` of the weights file ``path``; a :class:`UserError` when it is not
    a readable judge."""
    try:
        with safe_open(str(path), framework="pt") as f:
            record = json.loads((f.metadata() or {})[METADATA_KEY])
        return JudgeInfo(**{**record, "image_shape": tuple(record["image_shape"]), "classes": tuple(record["classes"])})
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as e:
        raise UserError(
            f"{path}: not a ganfw judge (weights with dataset, image_shape and classes metadata): "
            f"{' '.join(str(e).split())}"
        ) from None


def load_judge(path: Path) -> Judge:
    """The judge in ``path`` (loaded once per file version)."""
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> Judge:
    info = read_info(Path(path))
    net = JudgeNet(info.image_shape, len(info.classes))
    try:
        net.load_state_dict(load_file(path))
    except (SafetensorError, RuntimeError) as e:
        raise UserError(
            f"{path}: the judge's weights do not fit its metadata {info.describe()}: {' '.join(str(e).split())[:300]}"
        ) from None
    net = net.eval().requires_grad_(False).to(memory_format=torch.channels_last)
    return Judge(net, info, Path(path), hashlib.sha256(Path(path).read_bytes()).hexdigest())


@torch.no_grad()
def judge_images(net: JudgeNet, images: Tensor, batch: int = 1000) -> tuple[Tensor, Tensor]:
    """Features (N, 128) and logits (N, K), float32 on the CPU, of ``images`` (N, C, H, W) in
    [-1, 1], computed in fp32 (channels-last, in batches of ``batch``)."""
    device = next(net.parameters()).device
    features, logits = [], []
    for chunk in images.split(batch):
        f, logit = net(chunk.to(device, torch.float32).contiguous(memory_format=torch.channels_last))
        features.append(f.cpu())
        logits.append(logit.cpu())
    if not features:
        return torch.empty(0, FEATURES), torch.empty(0, net.classes)
    return torch.cat(features), torch.cat(logits)
