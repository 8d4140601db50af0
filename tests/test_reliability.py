"""Defects found by using ganfw as a user would (issue 11), each tested under the defaults users
run: ``[eval]`` on, the CLI, shipped recipes where the defect involves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import RECIPES, run_cli
from data_fixtures import mnist_root  # noqa: F401  (fixture)
from evaluation_fixtures import cache_home, reference_cache  # noqa: F401  (fixtures)
from ganfw.checkpoint import checkpoint_name, list_checkpoints
from recipe_fixtures import tiny_recipe

#: ``[eval]`` as the defaults have it (every epoch, FID on 1,000 images).
DEFAULT_EVAL = {"every": 1, "n": 1000, "metrics": ["fid"]}


def eval_recipe(path: Path, root: Path, **sections) -> Path:
    """The tiny recipe (2 steps an epoch) with the default ``[eval]`` switched back on."""
    return tiny_recipe(path, root, eval=DEFAULT_EVAL, **sections)


def ganfw_run(recipe: Path, out: Path, *args: str):
    return run_cli("run", str(recipe), "--out", str(out), "--quiet", *args)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def assert_same_file(a: Path, b: Path) -> None:
    left, right = load_file(str(a)), load_file(str(b))
    assert left.keys() == right.keys()
    different = [k for k in left if not torch.equal(left[k], right[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"


# ------------------------------------------------------------------ 1. exact resume with [eval] on
def test_resume_with_default_eval_is_bit_exact_an_epoch_later(tmp_path, mnist_root, reference_cache):  # noqa: F811
    recipe = eval_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 3, "seed": 7})
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert ganfw_run(recipe, straight).returncode == 0
    first = ganfw_run(recipe, split, "--set", "train.epochs=1")
    assert first.returncode == 0, first.stderr
    second = ganfw_run(recipe, split, "--resume")
    assert second.returncode == 0, second.stderr
    # step 4 ends epoch 2, the first one trained after the resume; step 6 ends epoch 3
    for step in (4, 6):
        assert_same_file(straight / "checkpoints" / checkpoint_name(step), split / "checkpoints" / checkpoint_name(step))
    assert [r["epoch"] for r in records(split) if r.get("event") == "eval"] == [1, 2, 3]
