"""Losses as a recipe builds them, and the inputs a step hands their penalties, for loss tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w
import torch

from ganfw.contracts import Loss, PenaltyInputs
from ganfw.plugins import Registry
from ganfw.recipe import load_recipe


def build_loss(tmp_path: Path, registry: Registry, loss: dict[str, Any], network: str = "mlp") -> Loss:
    """The ``[loss]`` table ``loss`` built through a recipe whose G and D are ``network``
    (``"cmlp"`` for a class-conditional pair), as ``ganfw run`` builds it."""
    path = tmp_path / "recipe.toml"
    networks = {"generator": {"name": network}, "discriminator": {"name": network}}
    path.write_text(tomli_w.dumps({**networks, "loss": loss}), encoding="utf-8")
    return load_recipe(path, registry).loss.build()


def labelled_inputs(d, real: torch.Tensor, labels, classes: int, fake: torch.Tensor | None = None) -> PenaltyInputs:
    """What a step of a class-conditional pair with ``classes`` classes hands a penalty: D ``d``,
    the real batch (N, C, H, W) and G's (``real`` again unless given), both with ``labels`` (N,)."""
    return PenaltyInputs(
        discriminator=d,
        generator=lambda z, y: z,
        real=real,
        fake=real if fake is None else fake,
        real_labels=labels,
        fake_labels=labels,
        z=torch.zeros(len(real), 2),
        num_classes=classes,
    )
