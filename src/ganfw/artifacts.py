"""What a run directory receives besides checkpoints and metrics: sample grids, the training GIF
and the loss curves; plus a reader for ``metrics.jsonl``. Every file is written atomically.

Images are (N, C, H, W) float tensors in [-1, 1], as generators produce them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import Tensor

from ganfw.atomic import atomic_path

#: Grey level (0..255) of the lines between grid cells.
PAD_VALUE = 255


def to_uint8(images: Tensor) -> Tensor:
    """(N, C, H, W) in [-1, 1] -> (N, C, H, W) uint8: ``round(x * 127.5 + 127.5)``, clamped."""
    return images.detach().to("cpu", torch.float32).mul(127.5).add(127.5).round().clamp(0, 255).to(torch.uint8)


def save_grid(
    images: Tensor,
    path: str | Path,
    nrow: int | None = None,
    scale: int = 4,
    padding: int = 2,
    image_format: str = "PNG",
) -> None:
    """Save images as one grid, a PNG (or a JPEG of quality 95: ``image_format="JPEG"``).

    Args:
        images: (N, C, H, W) in [-1, 1], ``C`` 1 (grayscale) or 3 (RGB).
        path: the file to write.
        nrow: images per row; ``None``: a square-ish grid, ``ceil(sqrt(N))`` (16 -> 4x4).
        scale: each pixel becomes a ``scale`` x ``scale`` block (nearest neighbour).
        padding: pixels of :data:`PAD_VALUE` around every cell (the image is
            ``cols * (W * scale + padding) + padding`` wide).
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"expected images (N, 1 or 3, H, W) with N > 0, got {tuple(images.shape)}")
    if scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    pixels = to_uint8(images).repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
    grid = tile(pixels, nrow or math.ceil(math.sqrt(len(pixels))), padding)
    if images.shape[1] == 1:
        picture = Image.fromarray(grid[0].numpy(), mode="L")
    else:
        picture = Image.fromarray(grid.permute(1, 2, 0).contiguous().numpy(), mode="RGB")
    with atomic_path(path) as tmp:
        picture.save(tmp, format=image_format, **({"quality": 95} if image_format == "JPEG" else {}))


def tile(pixels: Tensor, nrow: int, padding: int) -> Tensor:
    """(N, C, H, W) uint8 -> (C, rows * (H + padding) + padding, cols * (W + padding) + padding)
    uint8: the images in rows of ``nrow`` (``cols = min(nrow, N)``), :data:`PAD_VALUE` between
    and around them (torchvision's ``make_grid`` layout, without importing torchvision)."""
    n, channels, height, width = pixels.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    step_y, step_x = height + padding, width + padding
    grid = torch.full((channels, rows * step_y + padding, cols * step_x + padding), PAD_VALUE, dtype=torch.uint8)
    for i, image in enumerate(pixels):
        y, x = padding + (i // cols) * step_y, padding + (i % cols) * step_x
        grid[:, y : y + height, x : x + width] = image
    return grid


def save_gif(frames: Sequence[str | Path], path: str | Path, duration_ms: int = 200) -> None:
    """Assemble PNG grids (all of one size) into an animated GIF, in order, looping forever.

    Pillow merges consecutive identical frames into one shown for their summed duration.
    """
    if not frames:
        raise ValueError("save_gif needs at least one frame")
    pictures = []
    for frame in frames:
        with Image.open(frame) as picture:
            pictures.append(picture.copy())
    first, rest = pictures[0], pictures[1:]
    with atomic_path(path) as tmp:
        first.save(tmp, format="GIF", save_all=True, append_images=rest, duration=duration_ms, loop=0)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, skipping blank lines and a last line that does not parse
    (a run killed mid-write). A bad line elsewhere raises :class:`json.JSONDecodeError`."""
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    records = []
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            raise
    return records


def plot_curves(records: Sequence[dict[str, Any]], path: str | Path) -> None:
    """Plot metrics.jsonl records to a PNG: ``d_loss`` and ``g_loss`` against ``step``;
    ``d_real`` and ``d_fake`` (mean D outputs) against ``step``; and, when there are any
    ``eval/...`` keys, one panel per key against ``epoch``.

    Records lacking a panel's x key or a series' key are left out of that series (so event lines
    without a ``step`` never reach the step panels).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    eval_keys = sorted({k for r in records for k in r if k.startswith("eval/")})
    panels: list[tuple[str, str, list[str]]] = [
        ("losses", "step", ["d_loss", "g_loss"]),
        ("mean D output", "step", ["d_real", "d_fake"]),
    ] + [(key.removeprefix("eval/"), "epoch", [key]) for key in eval_keys]

    fig = Figure(figsize=(8, 2.8 * len(panels)), layout="constrained")
    FigureCanvasAgg(fig)
    for ax, (title, x_key, keys) in zip(fig.subplots(len(panels), 1, squeeze=False)[:, 0], panels):
        for key in keys:
            points = [(r[x_key], r[key]) for r in records if _number(r.get(x_key)) and _number(r.get(key))]
            if points:
                xs, ys = zip(*points)
                ax.plot(xs, ys, label=key, marker="o" if x_key == "epoch" else None, linewidth=1)
        if ax.lines:
            ax.legend(loc="best")
        else:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        if keys == ["d_real", "d_fake"]:
            ax.set_ylim(-0.03, 1.03)  # means of sigmoid outputs
        ax.set_title(title)
        ax.set_xlabel(x_key)
        ax.grid(alpha=0.3)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
