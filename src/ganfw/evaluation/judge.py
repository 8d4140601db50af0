"""The judge: a small MNIST classifier whose eyes every metric looks through.

Its penultimate layer (128 numbers after a ReLU) is the feature space of FID, KID and
precision/recall; its logits give the class probabilities of the Inception Score and the class
coverage. The weights ship inside the package (``judge.safetensors``, 0.4 MB) and were made by
``python -m ganfw.evaluation.train_judge`` (see docs/metrics.md for the command and its numbers).

Images: (N, 1, 28, 28) float in [-1, 1], as generators produce them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

#: The shipped weights.
WEIGHTS = Path(__file__).with_name("judge.safetensors")

#: Length of a feature vector.
FEATURES = 128
#: Number of classes (the digits 0..9).
CLASSES = 10


class JudgeNet(nn.Module):
    """Three 3x3 conv + ReLU + 2x2 max-pool stages (16, 32, 64 channels: 28 -> 14 -> 7 -> 3),
    a 576 -> 128 dense layer with ReLU (the features), dropout, and a 128 -> 10 dense layer
    (the logits). 98,000 parameters."""

    def __init__(self, dropout: float = 0.3):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 3 * 3, FEATURES), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURES, CLASSES))
        #: Multiplies the features; :func:`calibrate` sets it so that their mean square is 1.
        self.register_buffer("feature_scale", torch.ones(()))

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """``images`` (N, 1, 28, 28) in [-1, 1] -> features (N, 128), logits (N, 10)."""
        hidden = self.body(images)
        return hidden * self.feature_scale, self.head(hidden)


def calibrate(net: JudgeNet, images: Tensor) -> None:
    """Set ``net.feature_scale`` so that the features of ``images`` (N, 1, 28, 28) have a mean
    square of 1: distances then read alike whatever the trained layer's scale, and KID's kernel
    ``(x.y / 128 + 1)^3`` works in its intended range."""
    net.feature_scale.fill_(1.0)
    features, _ = judge_images(net, images)
    net.feature_scale.fill_(features.square().mean().rsqrt().item())


def weights_hash(path: Path = WEIGHTS) -> str:
    """SHA-256 of the weights file: it names the judge in caches and reports."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def load_judge() -> JudgeNet:
    """The shipped judge, in eval mode, on the CPU (shared: do not modify it)."""
    net = JudgeNet()
    net.load_state_dict(load_file(str(WEIGHTS)))
    return net.eval().requires_grad_(False).to(memory_format=torch.channels_last)


@torch.no_grad()
def judge_images(net: JudgeNet, images: Tensor, batch: int = 1000) -> tuple[Tensor, Tensor]:
    """Features (N, 128) and logits (N, 10), float32 on the CPU, of ``images`` (N, 1, 28, 28) in
    [-1, 1], computed in fp32 (channels-last, in batches of ``batch``)."""
    device = next(net.parameters()).device
    features, logits = [], []
    for chunk in images.split(batch):
        f, l = net(chunk.to(device, torch.float32).contiguous(memory_format=torch.channels_last))
        features.append(f.cpu())
        logits.append(l.cpu())
    if not features:
        return torch.empty(0, FEATURES), torch.empty(0, CLASSES)
    return torch.cat(features), torch.cat(logits)
