"""``ganfw sample``: images from a trained generator (a run directory or a checkpoint file)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from ganfw import artifacts
from ganfw.atomic import atomic_path
from ganfw.checkpoint import latest_checkpoint, load_module, load_training_checkpoint
from ganfw.contracts import Generator
from ganfw.errors import UserError
from ganfw.plugins import Registry
from ganfw.recipe import Tables, validate
from ganfw.rundir import RunDir

FORMATS = (".png", ".pt", ".npy")


def checkpoint_of(target: Path) -> Path:
    """``target`` itself if it is a file, else the newest checkpoint of the run directory."""
    if target.is_dir():
        path = latest_checkpoint(RunDir(target).checkpoints)
        if path is None:
            raise UserError(f"{target}: no checkpoints in this run directory")
        return path
    if not target.exists():
        raise UserError(f"{target}: no such run directory or checkpoint")
    return target


def load_generator(target: Path, registry: Registry, device: str = "cpu") -> Generator:
    """The generator saved in ``target``, in eval mode, rebuilt from the recipe stored with it."""
    path = checkpoint_of(target)
    ckpt = load_training_checkpoint(path)  # metadata types, TOML recipe, finite weights
    recipe = validate(Tables(path, ckpt.recipe, {}, {}), registry)
    generator = recipe.generator.build(image_shape=tuple(ckpt.state["image_shape"]))
    load_module(generator, ckpt, "generator", path)
    return generator.to(device).eval()


def check_count(n: int, image_shape: tuple[int, ...], what: str = "--n") -> None:
    """Refuse ``n`` images of ``image_shape`` that could not fit in half the machine's memory."""
    need = n * math.prod(image_shape) * 4 * 2  # float32 images, and their copy when written
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have // 2:
        raise UserError(f"{what} {n}: {n} images of shape {tuple(image_shape)} need {need / 2**30:.1f} GiB; "
                        f"this machine has {have / 2**30:.1f} GiB (draw fewer)")


@torch.no_grad()
def generate(generator: Generator, n: int, seed: int, batch: int = 1000, source: str = "the generator") -> torch.Tensor:
    """``n`` images (n, C, H, W) in [-1, 1] from noise seeded by ``seed``, on the CPU.

    An ``n`` too large for memory, or images with NaN/inf values, are a one-line
    :class:`UserError` naming ``source`` (the checkpoint, for the CLI).
    """
    check_count(n, tuple(generator.image_shape))
    device = next(generator.parameters()).device
    rng = torch.Generator(device).manual_seed(seed)
    z = generator.sample_latent(n, device=device, generator=rng)  # (n, Z), drawn at once: same noise for any batch
    images = torch.cat([generator(chunk).float().cpu() for chunk in z.split(batch)])
    bad = (~torch.isfinite(images)).flatten(1).any(1).sum().item()
    if bad:
        raise UserError(f"{source}: the generator produced non-finite values (NaN or inf) in {bad} of {n} images")
    return images.clamp(-1, 1)


def write_images(images: torch.Tensor, out: Path) -> None:
    """Save (N, C, H, W) images: ``.png`` as a square-ish grid, ``.pt``/``.npy`` as float32."""
    suffix = out.suffix.lower()
    if suffix == ".png":
        artifacts.save_grid(images, out, nrow=math.ceil(math.sqrt(len(images))))
    elif suffix == ".pt":
        with atomic_path(out) as tmp:
            torch.save(images.contiguous(), tmp)
    elif suffix == ".npy":
        with atomic_path(out) as tmp, open(tmp, "wb") as f:
            np.save(f, images.numpy().astype(np.float32))
    else:
        raise UserError(f"{out}: unsupported output format {out.suffix!r}; use one of {', '.join(FORMATS)}")
