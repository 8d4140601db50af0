"""A pretrained feature network (Inception, DINOv2) as evaluation uses it: images in, features
(and, for a classifier, logits) out, with what a score's protocol must say about it.

Images reach every such network the same way: (N, C, H, W) in [-1, 1] are quantised to uint8
with :func:`ganfw.artifacts.to_uint8` (``round(x * 127.5 + 127.5)``, what ``ganfw sample``
writes), grey images copied to three channels, and handed over in batches; resizing and
normalisation happen inside the network's own function. The networks run on the GPU when there
is one (:func:`network_device`), as torch-fidelity does: the paper protocol's 100,000 images
take hours on a CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ganfw.artifacts import to_uint8
from ganfw.errors import UserError

#: Images per batch through a network.
BATCH = 64


def network_device() -> torch.device:
    """Where feature networks run: the first CUDA device when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class Network:
    """A feature network loaded from its weights file.

    Attributes:
        name: ``"inception"`` or ``"dinov2"``.
        weights: the weights file; ``hash``: its SHA-256.
        resize: how images reach its input size (a score's protocol names it).
        run: (B, 3, H, W) uint8 on the CPU -> features (B, D) float32 and logits (B, K) float32
            (on the network's device), or ``None`` when the network has no classifier.
    """

    name: str
    weights: Path
    hash: str
    resize: str
    run: Callable[[Tensor], tuple[Tensor, Tensor | None]]

    @property
    def extractor(self) -> str:
        """``<name>:<weights file name>``, as score protocols name it."""
        return f"{self.name}:{self.weights.name}"

    def __call__(self, images: Tensor) -> tuple[Tensor, Tensor | None]:
        """``images`` (N, C, H, W) in [-1, 1], C = 1 or 3 -> features (N, D) and logits (N, K)
        (``None`` without a classifier), float32 on the CPU."""
        if images.shape[1] not in (1, 3):
            raise UserError(f"--features {self.name} reads grey or RGB images, not {images.shape[1]} channels")
        features, logits = [], []
        for chunk in images.split(BATCH):
            f, logit = self.run(to_uint8(chunk).expand(-1, 3, -1, -1).contiguous())
            features.append(f.float().cpu())
            logits.append(None if logit is None else logit.float().cpu())
        known = [logit for logit in logits if logit is not None]
        if not features or len(known) < len(logits):
            return (torch.cat(features) if features else torch.empty(0, 0)), None
        return torch.cat(features), torch.cat(known)
