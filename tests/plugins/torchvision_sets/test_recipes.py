"""Each torchvision dataset in a tiny recipe that ``ganfw check`` passes, on files in its format."""

from __future__ import annotations

from pathlib import Path

import pytest

from .formats import write_celeba, write_cifar10, write_cifar100, write_lsun, write_stl10
from .recipes import checked, tiny_recipe

#: name -> (writes the files below the root, the recipe's params)
CASES = {
    "cifar10": (write_cifar10, {"download": False}),
    "cifar100": (write_cifar100, {"download": False, "resolution": 64}),
    "stl10": (write_stl10, {"download": False, "split": "train", "resolution": 32}),
    "celeba": (write_celeba, {"download": False, "resolution": 32, "crop": 108}),
    "lsun": (lambda root, _: write_lsun(root / "lsun", {"tower": (9, 2)}), {"categories": ["tower"], "resolution": 32}),
}


@pytest.mark.parametrize("name", CASES)
def test_a_tiny_recipe_passes_ganfw_check(name: str, tmp_path: Path, monkeypatch, capsys, clean_plugin_env) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    write, params = CASES[name]
    write(tmp_path / "data", monkeypatch)
    resolved = checked(capsys, tiny_recipe(tmp_path / "r.toml", name, params, tmp_path / "data"))
    assert resolved["data"]["name"] == name and resolved["data"]["limit"] == 8
    assert resolved["data"]["params"] == {**resolved["data"]["params"], **params}
