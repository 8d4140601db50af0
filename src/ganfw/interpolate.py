"""``ganfw interpolate``: latent walks of a trained generator, as an animated GIF or a PNG strip.

Each of ``n`` walks visits ``keyframes`` latents and comes back to the first, ``frames`` frames
per leg, along great circles (spherical interpolation: a straight line between two Gaussian
latents passes nearer the origin than the noise the generator was trained on). The latents come
from one stream seeded by ``--seed`` in the order ``ganfw sample`` draws its noise, so the first
frame is the grid ``ganfw sample --n N --seed S [--label L]`` writes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
from torch import Tensor

from ganfw import artifacts
from ganfw.contracts import Generator
from ganfw.plugins import Registry
from ganfw.sample_args import check_walk
from ganfw.sampling import ALL_CLASSES, check_count, labels_for, load_saved, noise, render

#: Two latents whose angle has a sine below this are interpolated along the straight line.
PARALLEL = 1e-6


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation from ``a`` (``t = 0``) to ``b`` (``t = 1``), row by row.

    Args:
        a, b: latents (N, ...) of one shape ((N, Z), (N, Z, 1, 1) ...); each row is flattened
            to one vector.
        t: the fraction of the way, 0..1.

    Returns:
        (N, ...) of ``a``'s dtype: ``sin((1 - t) w) / sin w * a + sin(t w) / sin w * b``, ``w``
        the angle between the two rows (computed in float64); exactly ``a`` at 0 and ``b`` at 1.
        Rows (nearly) parallel or opposite (``sin w`` below :data:`PARALLEL`), or a zero row,
        are interpolated linearly, ``(1 - t) a + t b``.
    """
    fa, fb = a.flatten(1).double(), b.flatten(1).double()
    norms = fa.norm(dim=1) * fb.norm(dim=1)
    omega = torch.arccos(((fa * fb).sum(1) / norms.clamp_min(torch.finfo(torch.float64).tiny)).clamp(-1, 1))
    sin = torch.sin(omega)
    curved = (sin > PARALLEL) & (norms > 0)
    sin = torch.where(curved, sin, 1.0)
    wa = torch.where(curved, torch.sin((1 - t) * omega) / sin, 1 - t)
    wb = torch.where(curved, torch.sin(t * omega) / sin, t)
    return (wa[:, None] * fa + wb[:, None] * fb).to(a.dtype).view_as(a)


def keyframe_latents(
    generator: Generator, n: int, keyframes: int, seed: int, labels: Tensor | None
) -> tuple[Tensor, Tensor | None]:
    """The latents (keyframes, n, Z) of ``n`` walks and their labels (n,) (``None`` for an
    unconditional generator), all from one stream seeded by ``seed``: keyframe 0 and the labels
    as ``ganfw sample`` draws them (uniform labels when none are given), then the other
    keyframes, each ``generator.sample_latent(n)``."""
    rng = torch.Generator(next(generator.parameters()).device).manual_seed(seed)
    first, labels = noise(generator, n, rng, labels)
    rest = [generator.sample_latent(n, device=first.device, generator=rng) for _ in range(keyframes - 1)]
    return torch.stack([first, *rest]), labels


def walk(keys: Tensor, frames: int) -> Tensor:
    """The latents (K * frames, n, Z) of walks through ``keys`` (K, n, Z) and back to the
    first: frame ``s * frames + j`` is ``slerp(keys[s], keys[(s + 1) % K], j / frames)``."""
    k = len(keys)
    return torch.stack([slerp(keys[s], keys[(s + 1) % k], j / frames) for s in range(k) for j in range(frames)])


def write_walks(images: Tensor, out: Path, fps: int, columns: int | None) -> None:
    """Save ``images`` (F, n, C, H, W), frame by frame: ``.gif`` as one grid of the n walks
    (``columns`` wide, default square-ish) a frame, ``fps`` frames a second, looping forever
    (Pillow shows consecutive identical frames as one, for their summed time); ``.png`` as one
    row per walk, one column per frame."""
    if out.suffix.lower() == ".png":
        artifacts.save_grid(images.transpose(0, 1).flatten(0, 1), out, nrow=len(images))
        return
    with tempfile.TemporaryDirectory(prefix="ganfw-walk-") as folder:
        grids = [Path(folder) / f"{i:05d}.png" for i in range(len(images))]
        for grid, frame in zip(grids, images):
            artifacts.save_grid(frame, grid, nrow=columns)
        artifacts.save_gif(grids, out, duration_ms=round(1000 / fps))


def interpolate_to_file(
    target: Path,
    registry: Registry,
    *,
    n: int,
    keyframes: int,
    frames: int,
    seed: int,
    label: str | None,
    out: Path,
    fps: int,
) -> str:
    """``ganfw interpolate``: ``n`` latent walks of the sampling generator saved in ``target``
    (a run directory or a checkpoint) written to ``out``; returns the line to print.

    A conditional generator keeps one class per walk: ``label`` a class (index or name), or
    ``all`` (n rounded up to a multiple of the K classes, walk ``i`` of class ``i % K``, the GIF
    grid K columns wide, as ``ganfw sample --label all``), or ``None`` (uniform classes).
    """
    check_walk(out, n, keyframes, frames, fps)
    saved = load_saved(target, registry)
    labels, columns = labels_for(label, n, saved)
    walks = n if labels is None else len(labels)
    check_count(walks * keyframes * frames, tuple(saved.generator.image_shape), "--n x --keyframes x --frames")
    keys, labels = keyframe_latents(saved.generator, walks, keyframes, seed, labels)
    path = walk(keys, frames)  # (F, walks, Z)
    images = render(
        saved.generator,
        path.flatten(0, 1),
        None if labels is None else labels.repeat(len(path)),
        source=str(saved.path),
    )
    write_walks(images.view(len(path), walks, *images.shape[1:]), out, fps, columns)
    shown = (
        f"{len(path)} frames at {fps} fps, looping"
        if out.suffix.lower() == ".gif"
        else f"one row per walk, {len(path)} frames across"
    )
    return (
        f"wrote {walks} latent walks{classes(label, labels, saved.generator.num_classes)}, {keyframes} keyframes "
        f"each, to {out} ({shown})"
    )


def classes(label: str | None, labels: Tensor | None, k: int) -> str:
    """How the walks' classes were chosen, for the printed line ("" when unconditional)."""
    if labels is None:
        return ""
    if label is None:
        return " of classes drawn uniformly"
    return f" cycling through the {k} classes" if label.strip() == ALL_CLASSES else f" of class {label}"
