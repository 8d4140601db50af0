"""Inception-v3 pool3 features (2048 per image), for numbers comparable to papers.

The network is torch-fidelity's port of the TensorFlow FID Inception (the one behind published
FIDs), through torchmetrics. Its weights are downloaded once into torch's hub cache
(``$TORCH_HOME/hub/checkpoints``); without them and without a network it fails with one line.
Grey or RGB images of any size; slow on a CPU: every image is resized to 299x299.
"""

from __future__ import annotations

import contextlib
import io
from functools import lru_cache

import torch
from torch import Tensor

from ganfw.errors import UserError

#: The weights file torch-fidelity downloads; its name identifies the network in caches.
WEIGHTS_NAME = "weights-inception-2015-12-05-6726825d.pth"
#: The start of that file's SHA-256, as torch.hub names (and checks) downloads.
WEIGHTS_HASH = WEIGHTS_NAME.rsplit("-", 1)[-1].removesuffix(".pth")


@lru_cache(maxsize=1)
def load_inception() -> torch.nn.Module:
    """The Inception feature extractor; :class:`UserError` when torch-fidelity is missing or the
    weights cannot be had."""
    try:
        import torch_fidelity  # noqa: F401 - only to tell a missing package from missing weights
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError:
        raise UserError(
            "--features inception needs the package torch-fidelity: pip install 'ganfw[inception]'"
        ) from None
    noise = io.StringIO()  # torch.hub's download messages; the error below says what matters
    try:
        with contextlib.redirect_stderr(noise), contextlib.redirect_stdout(noise):
            return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"])
    except OSError as e:  # URLError, a refused connection, a disk error
        hub = torch.hub.get_dir()
        raise UserError(
            f"Inception weights are not available offline: downloading {WEIGHTS_NAME} failed "
            f"({' '.join(str(e).split())}); put that file in {hub}/checkpoints/"
        ) from None


@torch.no_grad()
def inception_features(images: Tensor, batch: int = 100) -> Tensor:
    """``images`` (N, C, H, W) in [-1, 1], C = 1 or 3 -> pool3 features (N, 2048) float32:
    they become RGB uint8, which the network resizes to 299x299."""
    if images.shape[1] not in (1, 3):
        raise UserError(f"--features inception reads grey or RGB images, not {images.shape[1]} channels")
    net = load_inception()
    pixels = images.mul(127.5).add(127.5).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)
    return torch.cat([net(chunk).float() for chunk in pixels.split(batch)])
