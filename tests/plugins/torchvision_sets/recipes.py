"""A tiny recipe around a dataset, for ``ganfw check`` (shared by the dataset plugins' tests)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from tests.helpers.cli import cli


def tiny_recipe(path: Path, name: str, params: dict[str, Any], root: Path | None = None) -> Path:
    """``path``: the shipped DCGAN recipe on the dataset ``name`` with ``params``, 8 images,
    fp32, no evaluation (values written as JSON, which TOML reads alike for these types)."""
    lines = ['extends = "mnist_dcgan"', "", "[data]", f'name = "{name}"', "limit = 8"]
    lines += [f"root = {json.dumps(str(root))}"] if root is not None else []
    lines += ["", "[data.params]", *(f"{key} = {json.dumps(value)}" for key, value in params.items())]
    lines += ["", "[train]", 'precision = "fp32"', "batch_size = 4", "", "[eval]", "every = 0", ""]
    path.write_text("\n".join(lines))
    return path


def checked(capsys: Any, recipe: Path) -> dict[str, Any]:
    """``ganfw check RECIPE`` in this process: the resolved recipe it prints (it must pass)."""
    code, out, err = cli(capsys, "check", str(recipe))
    assert code == 0, err
    return tomllib.loads("\n".join(line for line in out.splitlines() if not line.startswith("#")))
