"""Tiny recipes for tests that train (a few steps of small networks on a slice of real MNIST), and
comparing what two runs saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors.torch import load_file

#: Component sections a test replaces whole; the other sections are merged key by key.
COMPONENTS = ("generator", "discriminator", "loss", "schedule", "lr_schedule", "augment", "callbacks")

#: ``[eval]`` as the defaults have it (every epoch, FID on 1,000 images).
DEFAULT_EVAL = {"every": 1, "n": 1000, "metrics": ["fid"]}


def tiny_recipe(path: Path, root: Path | str, **sections: dict[str, Any]) -> Path:
    """Write a recipe training a tiny DCGAN on the first 64 images (2 steps of 32, fp32, so that
    every machine kind computes the same) to ``path``.

    ``sections`` adjust it: ``schedule={"name": "adaptive"}`` replaces a component section,
    ``train={"epochs": 2}`` merges into a settings section.
    """
    recipe: dict[str, dict[str, Any]] = {
        "generator": {"name": "dcgan", "params": {"widths": [16, 8, 4], "latent_dim": 8}},
        "discriminator": {"name": "dcgan", "params": {"widths": [4, 8]}},
        "data": {"name": "mnist", "root": str(root), "limit": 64},
        "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "precision": "fp32"},
        "output": {"samples": 4, "gif": False},
        "eval": {"every": 0},
    }
    for name, table in sections.items():
        recipe[name] = table if name in COMPONENTS else {**recipe.get(name, {}), **table}
    path.write_text(tomli_w.dumps(recipe), encoding="utf-8")
    return path


def assert_same_file(a: Path, b: Path) -> None:
    """Two safetensors files (checkpoints) hold the same tensors, bit for bit."""
    left, right = load_file(str(a)), load_file(str(b))
    assert left.keys() == right.keys()
    different = [k for k in left if not torch.equal(left[k], right[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
