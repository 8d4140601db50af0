"""Images to evaluate, read from a file: ``.npy`` or ``.pt`` arrays, or a PNG grid, checked
against the image shape ``(C, H, W)`` of the dataset they are scored against.

Arrays: (N, C, H, W), or (N, H, W) for grey images, either float in [-1, 1] or uint8 in 0..255.
Labels, as ``ganfw sample`` saves them for a conditional generator: (N,) integers in
``<name>.labels.npy`` beside a ``.npy``, or a ``.pt`` holding a dict ``{"images": ..., "labels": ...}``.
PNG grids: as :func:`ganfw.artifacts.save_grid` draws them (``ganfw sample``, the per-epoch
grids of a run): cells of H x W pixels blown up ``scale`` times, ``padding`` pixels of
:data:`ganfw.artifacts.PAD_VALUE` around each; blank cells that end the last row are dropped.
Every problem is a one-line :class:`UserError`. Results: (N, C, H, W) float32 in [-1, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from ganfw.artifacts import PAD_VALUE
from ganfw.errors import UserError
from ganfw.sampling import labels_path

FORMATS = (".npy", ".pt", ".png")


ImageShape = tuple[int, int, int]


def from_uint8(pixels: Tensor) -> Tensor:
    """(N, H, W) or (N, C, H, W) uint8 0..255 -> (N, C, H, W) float32 in [-1, 1] (C = 1 for
    the former)."""
    pixels = pixels.unsqueeze(1) if pixels.ndim == 3 else pixels
    return pixels.to(torch.float32).div(127.5).sub(1)


def read_images(path: Path, shape: ImageShape) -> Tensor:
    """The images in ``path`` (see the module docstring for the formats)."""
    return read_labelled_images(path, shape)[0]


def read_labelled_images(path: Path, shape: ImageShape) -> tuple[Tensor, Tensor | None]:
    """The images (N, C, H, W) = (N, *shape) in ``path`` and the labels (N,) int64 saved with
    them (``None`` if none)."""
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise UserError(
            f"{path}: unsupported file type {path.suffix!r}; use {', '.join(FORMATS)} (or a run directory or checkpoint)"
        )
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if suffix == ".png":
        return read_grid(path, shape), None
    if suffix == ".npy":
        array, labels, where = _load_npy(path), None, labels_path(path)
        if where.is_file():
            labels = _load_npy(where)
    else:
        array, labels, where = *_load_pt(path), path
    images = to_images(array, str(path), shape)
    return images, None if labels is None else to_labels(labels, len(images), str(where))


def _load_npy(path: Path) -> Tensor:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise UserError(f"{path}: not a readable .npy array ({' '.join(str(e).split())})") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "uif":
        raise UserError(f"{path}: expected a numeric array, got {getattr(array, 'dtype', type(array).__name__)}")
    return torch.from_numpy(np.ascontiguousarray(array))


def _load_pt(path: Path) -> tuple[Tensor, Tensor | None]:
    """The images of a ``.pt`` file and its labels: one tensor, or a dict of ``images`` and ``labels``."""
    try:
        value = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # on a malformed file torch.load raises almost anything (UnicodeDecodeError, ...)
        raise UserError(f"{path}: not a readable .pt tensor file ({' '.join(str(e).split())})") from None
    if isinstance(value, dict) and isinstance(value.get("images"), Tensor) and isinstance(value.get("labels"), Tensor):
        return value["images"], value["labels"]
    if not isinstance(value, Tensor):
        raise UserError(
            f"{path}: expected one tensor or a dict of 'images' and 'labels' tensors, got {type(value).__name__}"
        )
    return value, None


def to_labels(array: Tensor, n: int, where: str) -> Tensor:
    """Check labels saved with ``n`` images (``where`` names them in errors): (n,) int64 >= 0."""
    if tuple(array.shape) != (n,) or array.is_floating_point() or array.is_complex() or array.dtype == torch.bool:
        raise UserError(
            f"{where}: expected one integer label per image, shape ({n},), got {array.dtype} {tuple(array.shape)}"
        )
    if n and array.min().item() < 0:
        raise UserError(f"{where}: labels must be class indices (0 or more), found {array.min().item()}")
    return array.to(torch.int64)


def to_images(array: Tensor, where: str, shape: ImageShape) -> Tensor:
    """Check an array's shape (``shape`` = (C, H, W) per image), type and range (``where`` names
    it in errors); return (N, C, H, W) float32 in [-1, 1]."""
    got = tuple(array.shape)
    accepted = [(*shape,)] + ([shape[1:]] if shape[0] == 1 else [])
    if len(got) < 3 or got[1:] not in accepted or got[0] == 0:
        wanted = " or ".join(f"(N, {', '.join(map(str, a))})" for a in accepted)
        raise UserError(f"{where}: expected images of shape {wanted} with N > 0, got {got}")
    if array.dtype == torch.uint8:
        return from_uint8(array.reshape(-1, *shape))
    if not array.is_floating_point():
        raise UserError(f"{where}: expected float images in [-1, 1] or uint8 0..255, got {array.dtype}")
    images = array.to(torch.float32).reshape(-1, *shape)
    if not torch.isfinite(images).all():
        raise UserError(f"{where}: the images contain NaN or infinite values")
    low, high = images.min().item(), images.max().item()
    if low < -1.001 or high > 1.001:
        raise UserError(
            f"{where}: float images must lie in [-1, 1], found values in [{low:.3g}, {high:.3g}] (uint8 0..255 is read too)"
        )
    return images.clamp(-1, 1)


def grid_layout(
    width: int, height: int, cell: tuple[int, int], scale: int = 4, padding: int = 2
) -> tuple[int, int] | None:
    """(rows, cols) of a grid picture ``width`` x ``height`` pixels, or ``None`` if no grid of
    ``cell`` = (H, W) cells fits it exactly."""
    (step_h, step_w) = (size * scale + padding for size in cell)
    cols, extra_w = divmod(width - padding, step_w)
    rows, extra_h = divmod(height - padding, step_h)
    if extra_w or extra_h or cols < 1 or rows < 1:
        return None
    return rows, cols


def read_grid(path: Path, shape: ImageShape, scale: int = 4, padding: int = 2) -> Tensor:
    """The cells of a PNG grid as (N, C, H, W) in [-1, 1] (for C = 1, RGB is turned grey)."""
    channels, h, w = shape
    try:
        with Image.open(path) as picture:
            pixels = torch.from_numpy(np.array(picture.convert("L" if channels == 1 else "RGB")))  # (H', W'[, 3]) uint8
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as e:
        raise UserError(f"{path}: not a readable PNG ({' '.join(str(e).split())})") from None
    pixels = pixels.reshape(*pixels.shape[:2], -1).permute(2, 0, 1)  # (C, H', W')
    height, width = pixels.shape[1:]
    layout = grid_layout(width, height, (h, w), scale, padding)
    if layout is None:
        raise UserError(
            f"{path}: a {width}x{height} picture is not a grid of {h}x{w} images drawn {scale}x with "
            f"{padding}-pixel padding (as ganfw sample and training runs write them)"
        )
    rows, cols = layout
    cells = []
    for r in range(rows):
        for c in range(cols):
            top, left = padding + r * (h * scale + padding), padding + c * (w * scale + padding)
            cell = pixels[:, top : top + h * scale, left : left + w * scale]
            cells.append(cell.reshape(channels, h, scale, w, scale).float().mean((2, 4)))
    while len(cells) > 1 and len(cells) > (rows - 1) * cols and bool((cells[-1] == PAD_VALUE).all()):
        cells.pop()  # the blank cells that fill the last row
    return from_uint8(torch.stack(cells).round().to(torch.uint8))
