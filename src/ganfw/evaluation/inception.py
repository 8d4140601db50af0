"""Inception-v3 pool3 features (2048 per image) and logits, computed exactly as torch-fidelity
computes them: the numbers behind published FIDs.

The network is torch-fidelity's own (``FeatureExtractorInceptionV3``, its port of the TensorFlow
FID Inception of 2015-12-05, https://github.com/toshas/torch-fidelity), loaded from the weights
file it publishes, ``weights-inception-2015-12-05-6726825d.pth`` (found by
:mod:`ganfw.evaluation.weights`: ``$GANFW_WEIGHTS``, ``~/.cache/ganfw/weights/``, torch hub's
checkpoints). What it is given and how it resizes is torch-fidelity's too:

- quantisation: images in [-1, 1] become uint8 by ``round(x * 127.5 + 127.5)`` (as ``ganfw
  sample`` writes them; StyleGAN's ``x * 127.5 + 128`` truncated differs only on exact halves),
  grey ones copied to three channels;
- resizing: inside the network, on the uint8 values as floats, to 299x299 by torch-fidelity's
  bilinear interpolation written to match TensorFlow 1.x (``align_corners=False``, no
  half-pixel offset, no antialiasing): the ``torch-fidelity`` mode. clean-fid's ``clean`` mode
  (PIL bicubic with antialiasing, Parmar et al. 2022) gives other numbers and is not offered;
- normalisation ``(x - 128) / 128``; features: the 2048 average-pooled activations before the
  classifier (``pool3``, torch-fidelity's ``"2048"``); logits: its 1008 ImageNet logits without
  bias (``"logits_unbiased"``, which its Inception Score reads).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from ganfw.errors import UserError
from ganfw.evaluation.network import Network, network_device
from ganfw.evaluation.weights import WeightsFile, find_weights, sha256

WEIGHTS = WeightsFile(
    "weights-inception-2015-12-05-6726825d.pth",
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth",
    "Inception",
)
#: How images reach the network's 299x299 input (named in score protocols).
RESIZE = "torch-fidelity: uint8, bilinear as TensorFlow 1.x to 299x299 inside the network"


def load_inception() -> Network:
    """Inception's features and logits from the weights file found on this machine; a
    :class:`UserError` of one line when torch-fidelity is missing or the weights cannot be had."""
    try:
        import torch_fidelity  # noqa: F401
    except ImportError:
        raise UserError(
            "--features inception needs the package torch-fidelity: pip install 'ganfw[inception]'"
        ) from None
    path = find_weights(WEIGHTS)
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=2)
def _load(path: str, mtime_ns: int, size: int) -> Network:
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    try:
        net = FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=path
        ).to(device := network_device())
    except (RuntimeError, OSError, EOFError, ValueError) as e:  # not a state dict of this network
        raise UserError(f"{path}: not torch-fidelity's Inception weights ({' '.join(str(e).split())[:300]})") from None

    @torch.no_grad()
    def features(pixels: Tensor) -> tuple[Tensor, Tensor]:
        """(N, 3, H, W) uint8 -> pool3 features (N, 2048), logits (N, 1008), float32."""
        return net(pixels.to(device))

    return Network("inception", Path(path), sha256(Path(path)), RESIZE, features)
