"""The transforms of ADA (Karras et al. 2020, "Training generative adversarial networks with limited
data"), each applied to an image with probability ``p``, with the distributions of the reference
pipeline (NVlabs/stylegan2-ada-pytorch, training/augment.py, commit d72cc7d; written from its
description, not copied):

- ``blit``: x-flip (half of the chosen images), a rotation by a multiple of 90 degrees, an integer
  translation of up to 1/8 of the side, the image mirrored at its border ("reflect": the edge
  pixel is not repeated); exact, pixels are moved, never interpolated;
- ``geometric``: isotropic scaling (log2-normal, std 0.2), rotation (uniform, applied before and
  after the anisotropic scaling, each with probability ``1 - sqrt(1 - p)`` so that one of them
  happens with probability ``p``), anisotropic scaling (log2-normal, std 0.2) and a fractional
  translation (normal, std 1/8 of the side); one bilinear resampling of the composed transform
  with the image mirrored at its border (``grid_sample``'s "reflection", which repeats the edge
  pixel). The reference oversamples 2x with a wavelet filter against aliasing; this does not;
- ``color``: brightness (add a normal of std 0.2), contrast (scale by a log2-normal of std 0.5),
  luma flip, hue rotation (uniform angle) and saturation (log2-normal, std 1) as one affine map
  of RGB; on one channel, brightness, contrast and the luma flip (a negation);
- ``noise``: additive Gaussian noise of std ``|N(0, 0.1^2)|``;
- ``cutout``: a rectangle of half the side zeroed (:func:`.diffaugment.cutout`).

Every transform maps (N, C, H, W) to (N, C, H, W), is differentiable with respect to the images
(to any order, as R1 through an augmented D needs), draws from torch's global generator on the
images' device, and leaves the images it does not choose exactly as they were.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from ganfw.plugin import UserError
from ganfw_plugins.augment.diffaugment import cutout as zero_rectangle

#: log2 standard deviations of the scalings, contrast and saturation; standard deviations of the
#: fractional translation (of the side), brightness and noise; the integer translation's range.
SCALE_STD, ANISO_STD, CONTRAST_STD, SATURATION_STD = 0.2, 0.2, 0.5, 1.0
TRANSLATION_STD, BRIGHTNESS_STD, NOISE_STD, TRANSLATION_MAX = 0.125, 0.2, 0.1, 0.125


def _chosen(n: int, p: float, device: torch.device) -> Tensor:
    """(n,) bool: which images a transform of probability ``p`` applies to."""
    return torch.rand(n, device=device) < p


def _gate(values: Tensor, p: float, identity: float) -> Tensor:
    """``values`` (n, ...) where an image is chosen with probability ``p``, else ``identity``."""
    keep = _chosen(len(values), p, values.device).view(-1, *[1] * (values.dim() - 1))
    return torch.where(keep, values, torch.full_like(values, identity))


def _require_square(images: Tensor, what: str) -> None:
    _, _, height, width = images.shape
    if height != width:
        raise UserError(f"ada's {what} transforms need square images, got {height}x{width} (augment.params.policy)")


def _reflect(index: Tensor, size: int) -> Tensor:
    """Indices mirrored into [0, size) without repeating the edge: -1 -> 1, size -> size - 2."""
    index = index.abs()
    return (size - 1) - ((size - 1) - index).abs()


def blit(images: Tensor, p: float) -> Tensor:
    """x-flip, 90-degree rotations and integer translation, each with probability ``p``."""
    _require_square(images, "blit")
    n, _, side, _ = images.shape
    device = images.device
    flip = _gate(torch.floor(torch.rand(n, device=device) * 2), p, 0.0).bool()
    quarter_turns = _gate(torch.floor(torch.rand(n, device=device) * 4), p, 0.0).long()
    shift = _gate((torch.rand(n, 2, device=device) * 2 - 1) * TRANSLATION_MAX, p, 0.0)
    return move_pixels(images, flip, quarter_turns, torch.round(shift * side).long())


def move_pixels(images: Tensor, flip: Tensor, quarter_turns: Tensor, shift: Tensor) -> Tensor:
    """Square ``images`` (N, C, S, S) flipped left-right where ``flip`` (N,) is set, then turned
    by ``quarter_turns`` (N,) quarters counter-clockwise, then shifted by ``shift`` (N, 2) whole
    pixels (x right, y down; what comes in is the image mirrored at its border), as ADA composes
    them. Every output pixel is one input pixel."""
    n, _, side, _ = images.shape
    device = images.device
    # Output pixel (i, j) in doubled centred coordinates (integers): u = 2j - (S - 1), v = 2i - (S - 1),
    # taken back through the shift, the turn and the flip to the input pixel it shows.
    centred = 2 * torch.arange(side, device=device) - (side - 1)
    u = centred.view(1, 1, side) - 2 * shift[:, 0].view(n, 1, 1)
    v = centred.view(1, side, 1) - 2 * shift[:, 1].view(n, 1, 1)
    k = quarter_turns.view(n, 1, 1) % 4
    u, v = (
        torch.where(k == 0, u, torch.where(k == 1, -v, torch.where(k == 2, -u, v))),
        torch.where(k == 0, v, torch.where(k == 1, u, torch.where(k == 2, -v, -u))),
    )
    u = torch.where(flip.view(n, 1, 1), -u, u)
    rows, cols = _reflect((v + side - 1) // 2, side), _reflect((u + side - 1) // 2, side)
    batch = torch.arange(n, device=device).view(n, 1, 1)
    return images.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def _affine(a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor, f: Tensor) -> Tensor:
    """(n, 3, 3) matrices ``[[a, b, c], [d, e, f], [0, 0, 1]]`` from (n,) entries."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, c, d, e, f, zero, zero, one], dim=1).view(-1, 3, 3)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    """(n, 3, 3): scale x by ``sx`` (n,) and y by ``sy`` (n,)."""
    zero = torch.zeros_like(sx)
    return _affine(sx, zero, zero, zero, sy, zero)


def rotate2d(theta: Tensor) -> Tensor:
    """(n, 3, 3): rotate by ``theta`` (n,) radians (from x toward y)."""
    zero, cos, sin = torch.zeros_like(theta), torch.cos(theta), torch.sin(theta)
    return _affine(cos, -sin, zero, sin, cos, zero)


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    """(n, 3, 3): move by ``tx``, ``ty`` (n,) pixels."""
    zero, one = torch.zeros_like(tx), torch.ones_like(tx)
    return _affine(one, zero, tx, zero, one, ty)


def _rotation(n: int, p: float, device: torch.device) -> Tensor:
    """(n,) angles, uniform in [-pi, pi) for the images chosen with probability ``p``, else 0."""
    return _gate((torch.rand(n, device=device) * 2 - 1) * math.pi, p, 0.0)


def geometric(images: Tensor, p: float) -> Tensor:
    """Isotropic scaling, rotation, anisotropic scaling, rotation and fractional translation,
    composed into one map from output to input pixels (in pixels from the image's centre) and
    resampled once; images no transform chose are returned as they were."""
    n, _, side, _ = images.shape
    _require_square(images, "geometric")
    device = images.device
    p_rotation = 1.0 - math.sqrt(max(1.0 - p, 0.0))  # before or after the anisotropic scaling: p
    scale = _gate(torch.exp2(torch.randn(n, device=device) * SCALE_STD), p, 1.0)
    inverse = scale2d(1 / scale, 1 / scale) @ rotate2d(_rotation(n, p_rotation, device))
    aniso = _gate(torch.exp2(torch.randn(n, device=device) * ANISO_STD), p, 1.0)
    inverse = inverse @ scale2d(1 / aniso, aniso) @ rotate2d(_rotation(n, p_rotation, device))
    shift = _gate(torch.randn(n, 2, device=device) * TRANSLATION_STD, p, 0.0) * side
    return warp(images, inverse @ translate2d(-shift[:, 0], -shift[:, 1]))


def warp(images: Tensor, inverse: Tensor) -> Tensor:
    """``images`` (N, C, S, S) resampled bilinearly through ``inverse`` (N, 3, 3), which maps an
    output pixel's coordinates to the input's (pixels from the centre); identities untouched."""
    theta = inverse[:, :2].clone()
    theta[:, :, 2] *= 2.0 / images.shape[-1]  # grid_sample's coordinates: [-1, 1] across the image
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    moved = (inverse != torch.eye(3, device=images.device)).flatten(1).any(1)
    return torch.where(moved.view(-1, 1, 1, 1), warped, images)


#: The luma axis of RGB, (1, 1, 1) / sqrt(3): brightness, the luma flip and hue act along or around it.
LUMA = (1 / math.sqrt(3.0),) * 3


def hue_rotation(theta: Tensor) -> Tensor:
    """(n, 4, 4) affine colour maps rotating RGB by ``theta`` (n,) around :data:`LUMA`
    (Rodrigues: ``cos(t) (I - a a^T) + sin(t) [a]_x + a a^T``)."""
    x, y, z = LUMA
    cross = torch.tensor([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]], device=theta.device)
    along = torch.outer(*(torch.tensor(LUMA, device=theta.device),) * 2)
    cos, sin = torch.cos(theta).view(-1, 1, 1), torch.sin(theta).view(-1, 1, 1)
    out = torch.eye(4, device=theta.device).repeat(len(theta), 1, 1)
    out[:, :3, :3] = cos * (torch.eye(3, device=theta.device) - along) + sin * cross + along
    return out


def color(images: Tensor, p: float) -> Tensor:
    """Brightness, contrast, luma flip, then (RGB only) hue rotation and saturation, each with
    probability ``p``, composed into one affine map of each image's colours."""
    n, channels = images.shape[:2]
    if channels not in (1, 3):
        raise UserError(f"ada's color transforms need 1 or 3 channels, got {channels} (augment.params.policy)")
    device = images.device
    eye = torch.eye(4, device=device)
    brightness = _gate(torch.randn(n, device=device) * BRIGHTNESS_STD, p, 0.0)
    matrix = eye.repeat(n, 1, 1)
    matrix[:, :3, 3] = brightness.view(n, 1)
    contrast = _gate(torch.exp2(torch.randn(n, device=device) * CONTRAST_STD), p, 1.0)
    matrix = torch.diag_embed(torch.stack([contrast, contrast, contrast, torch.ones_like(contrast)], 1)) @ matrix
    luma = torch.tensor([*LUMA, 0.0], device=device)
    along = torch.outer(luma, luma)
    flip = _gate(torch.floor(torch.rand(n, device=device) * 2), p, 0.0).view(n, 1, 1)
    matrix = (eye - 2 * along * flip) @ matrix
    if channels == 3:
        matrix = hue_rotation(_rotation(n, p, device)) @ matrix
        saturation = _gate(torch.exp2(torch.randn(n, device=device) * SATURATION_STD), p, 1.0).view(n, 1, 1)
        matrix = (along + (eye - along) * saturation) @ matrix
    return recolour(images, matrix)


def recolour(images: Tensor, matrix: Tensor) -> Tensor:
    """Each image's pixels (RGB, or grey read as R = G = B) through its (4, 4) affine colour map."""
    pixels = images.flatten(2)  # (N, C, H * W)
    matrix = matrix.to(images.dtype)
    if images.shape[1] == 3:
        out = matrix[:, :3, :3] @ pixels + matrix[:, :3, 3:]
    else:  # grey in, the mean of the three outputs out
        mean = matrix[:, :3, :].mean(dim=1, keepdim=True)  # (N, 1, 4)
        out = pixels * mean[:, :, :3].sum(dim=2, keepdim=True) + mean[:, :, 3:]
    return out.view_as(images)


def noise(images: Tensor, p: float) -> Tensor:
    """Gaussian noise of a standard deviation ``|N(0, 0.1^2)|`` per chosen image."""
    sigma = _gate(torch.randn(len(images), 1, 1, 1, device=images.device).abs() * NOISE_STD, p, 0.0)
    return images + torch.randn_like(images) * sigma.to(images.dtype)


def cutout(images: Tensor, p: float) -> Tensor:
    """A zeroed square of half the side in each chosen image (centred on a random pixel)."""
    chosen = _chosen(len(images), p, images.device).view(-1, 1, 1, 1)
    return torch.where(chosen, zero_rectangle(images, 0.5), images)


#: The policy's groups, in the order they are applied.
TRANSFORMS: dict[str, Callable[[Tensor, float], Tensor]] = {
    "blit": blit,
    "geometric": geometric,
    "color": color,
    "noise": noise,
    "cutout": cutout,
}
