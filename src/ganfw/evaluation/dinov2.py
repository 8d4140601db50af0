"""DINOv2 ViT-L/14 features (1024 per image): the feature space of FD-DINOv2, the Fréchet
distance that Stein et al. 2023 ("Exposing flaws of generative model evaluation metrics and
their unfair treatment of diffusion models", https://github.com/layer6ai-labs/dgm-eval)
recommend over Inception's.

- Weights: Meta's published file ``dinov2_vitl14_pretrain.pth`` (the one ``torch.hub.load(
  "facebookresearch/dinov2", "dinov2_vitl14")`` downloads), found by
  :mod:`ganfw.evaluation.weights` (``$GANFW_WEIGHTS``, ``~/.cache/ganfw/weights/``, torch hub's
  checkpoints).
- Network: timm's ``vit_large_patch14_dinov2`` (https://github.com/huggingface/pytorch-image-models),
  built for 224x224 inputs (16x16 patches) without a head, holding those weights. The 37x37
  position embeddings of the 518-pixel pretraining are resized to 16x16 once, as DINOv2's own
  model does on every call at 224 pixels: bicubic, no antialiasing, by the scale factor
  ``(16 + 0.1) / 37``.
- Features: the class token after the final layer norm (what DINOv2's model returns).
- Preprocessing, as torch-fidelity's FD-DINOv2 (``dinov2-vit-l-14``): uint8 images, resized to
  224x224 by torch-fidelity's TensorFlow-1.x bilinear interpolation, then ImageNet's mean and
  standard deviation. dgm-eval resizes with PIL's bicubic filter instead: its numbers differ a
  little from these.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganfw.errors import UserError
from ganfw.evaluation.network import Network, network_device
from ganfw.evaluation.weights import WeightsFile, find_weights, sha256

WEIGHTS = WeightsFile(
    "dinov2_vitl14_pretrain.pth",
    "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
    "DINOv2 ViT-L/14",
)
#: timm's name of the architecture.
ARCHITECTURE = "vit_large_patch14_dinov2"
#: Input size (pixels) and patch size.
SIZE, PATCH = 224, 14
#: ImageNet's per-channel mean and standard deviation (of pixels in [0, 1]).
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
#: How images reach the network's input (named in score protocols).
RESIZE = "torch-fidelity: uint8, bilinear as TensorFlow 1.x to 224x224, ImageNet mean/std"


def load_dinov2() -> Network:
    """DINOv2's features from the weights file found on this machine; a :class:`UserError` of
    one line when timm or torch-fidelity is missing or the weights cannot be had."""
    try:
        import timm  # noqa: F401
        import torch_fidelity  # noqa: F401
    except ImportError:
        raise UserError(
            "--features dinov2 needs the packages timm and torch-fidelity: pip install 'ganfw[dinov2]'"
        ) from None
    path = find_weights(WEIGHTS)
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1)
def _load(path: str, mtime_ns: int, size: int) -> Network:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # pickle, zip and I/O errors of a broken file
        raise UserError(f"{path}: not a readable weights file ({' '.join(str(e).split())[:300]})") from None
    model = build(state, ARCHITECTURE, path).to(network_device())
    return Network("dinov2", Path(path), sha256(Path(path)), RESIZE, lambda pixels: (forward(model, pixels), None))


def build(state: dict[str, Tensor], architecture: str, where: str) -> nn.Module:
    """timm's ``architecture`` for 224x224 inputs, without a head, holding ``state`` (a DINOv2
    pretraining checkpoint as Meta publishes it; ``where`` names it in errors), in eval mode."""
    import timm

    model = timm.create_model(architecture, pretrained=False, img_size=SIZE, num_classes=0)
    if "mask_token" not in state or "pos_embed" not in state:
        raise UserError(f"{where}: not a DINOv2 pretraining checkpoint (no mask_token and pos_embed)")
    state = {k: v for k, v in state.items() if k != "mask_token"}
    state["pos_embed"] = resize_positions(state["pos_embed"], SIZE // PATCH)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UserError(
            f"{where}: these weights do not fit DINOv2 {architecture} ({' '.join(str(e).split())[:300]})"
        ) from None
    return model.eval().requires_grad_(False)


def resize_positions(pos_embed: Tensor, grid: int, offset: float = 0.1) -> Tensor:
    """(1, 1 + M*M, D) position embeddings (the class token's first) -> (1, 1 + grid*grid, D):
    the M x M patch grid resized bicubically by the scale factor ``(grid + offset) / M``,
    without antialiasing, as DINOv2's ``interpolate_pos_encoding`` does."""
    side = round((pos_embed.shape[1] - 1) ** 0.5)
    patches = pos_embed[:, 1:].float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
    scale = (grid + offset) / side
    patches = F.interpolate(patches, scale_factor=(scale, scale), mode="bicubic", antialias=False)
    if patches.shape[-2:] != (grid, grid):
        raise ValueError(f"resizing {side}x{side} positions gave {tuple(patches.shape[-2:])}, not {grid}x{grid}")
    return torch.cat([pos_embed[:, :1].float(), patches.permute(0, 2, 3, 1).reshape(1, grid * grid, -1)], 1)


@torch.no_grad()
def forward(model: nn.Module, pixels: Tensor) -> Tensor:
    """(N, 3, H, W) uint8 -> class-token features (N, D) float32 (see the module docstring), on
    the model's device."""
    return model(preprocess(pixels.to(next(model.parameters()).device)))


def preprocess(pixels: Tensor) -> Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, 224, 224) float32 normalised as DINOv2 was trained."""
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = interpolate_bilinear_2d_like_tensorflow1x(pixels.float(), size=(SIZE, SIZE), align_corners=False)
    mean, std = (torch.tensor([255 * c for c in v], device=pixels.device).view(1, 3, 1, 1) for v in (MEAN, STD))
    return (x - mean) / std
