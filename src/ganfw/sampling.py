"""``ganfw sample``: images from a trained generator (a run directory or a checkpoint file)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import torch

from ganfw import artifacts
from ganfw.atomic import atomic_path
from ganfw.checkpoint import latest_checkpoint, load_checkpoint
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
    ckpt = load_checkpoint(path)
    tables = Tables(path, tomllib.loads(ckpt.state["recipe"]), {}, {})
    recipe = validate(tables, registry)
    generator = recipe.generator.build(image_shape=tuple(ckpt.state["image_shape"]))
    generator.load_state_dict(ckpt.module_state("generator"))
    return generator.to(device).eval()


@torch.no_grad()
def generate(generator: Generator, n: int, seed: int, batch: int = 1000) -> torch.Tensor:
    """``n`` images (n, C, H, W) in [-1, 1] from noise seeded by ``seed``, on the CPU."""
    device = next(generator.parameters()).device
    rng = torch.Generator(device).manual_seed(seed)
    z = generator.sample_latent(n, device=device, generator=rng)
    return torch.cat([generator(chunk).float().clamp(-1, 1).cpu() for chunk in z.split(batch)])


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
