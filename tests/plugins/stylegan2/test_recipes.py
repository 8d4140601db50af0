"""The shipped StyleGAN2 recipes train (at tiny widths) on a folder of 32x32 RGB images and on
Fashion-MNIST's 28x28 grey ones, with path-length regularisation switched on and as shipped, and
the path-length running mean resumes exactly from a run's checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganfw.checkpoint import checkpoint_name, list_checkpoints, load_checkpoint
from ganfw.rundir import locks_released
from tests.helpers.cli import RECIPES, cli

#: Tiny networks and a few steps: 16 images, batches of 8, one epoch.
TINY = (
    "generator.params.latent_dim=8",
    "generator.params.w_dim=8",
    "generator.params.channel_base=64",
    "generator.params.channel_max=8",
    "discriminator.params.channel_base=64",
    "discriminator.params.channel_max=8",
    "data.limit=16",
    "train.batch_size=8",
    "train.epochs=1",
    "output.samples=4",
)


@pytest.fixture
def pictures(tmp_path) -> Path:
    """Two class sub-folders of eight 32x32 RGB PNGs each (bright and dark noise)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "pictures"
    for cls, low in (("bright", 150), ("dark", 0)):
        (root / cls).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(low, low + 100, (32, 32, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    return root


def train(capsys, recipe: str, out: Path, *sets: str, resume: bool = False) -> list[dict]:
    """``ganfw run recipes/RECIPE --set TINY... --set SETS... [--resume]``; the run's metrics.jsonl
    records."""
    args = [arg for key in (*TINY, *sets) for arg in ("--set", key)] + (["--resume"] if resume else [])
    with locks_released():  # in-process runs: the next one may train into the same directory
        code, _, err = cli(capsys, "run", str(RECIPES / f"{recipe}.toml"), "--out", str(out), "--quiet", *args)
    assert code == 0, err
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


def folder(pictures: Path) -> tuple[str, ...]:
    return ("data.name=image-folder", f"data.params.path={json.dumps(str(pictures))}", "data.params.image_size=32")


@pytest.mark.parametrize("recipe", ["cifar10_stylegan2", "cifar10_cstylegan2"])
def test_a_recipe_trains_on_a_folder_of_rgb_images_with_path_length_on(recipe, pictures, tmp_path, capsys):
    run = tmp_path / "run"
    records = train(capsys, recipe, run, *folder(pictures), "loss.params.weight=2.0")
    (window,) = [r for r in records if "event" not in r]
    assert window["step"] == 2 and window["penalty/path-length"] > 0 and "penalty/r1" in window
    state = load_checkpoint(run / "checkpoints" / checkpoint_name(2)).state["parts"]["loss"]
    assert state["path_length_mean"] == window["loss/path_length_mean"] > 0
    grid = Image.open(run / "samples" / "image_at_epoch_0001.png")
    assert grid.mode == "RGB"


@pytest.mark.parametrize("recipe", ["cifar10_stylegan2", "cifar10_cstylegan2"])
def test_a_recipe_trains_on_fashion_mnist_as_shipped(recipe, fashion_mnist_root, tmp_path, capsys):
    run = tmp_path / "run"
    records = train(capsys, recipe, run, "data.name=fashion-mnist", f"data.root={json.dumps(str(fashion_mnist_root))}")
    (window,) = [r for r in records if "event" not in r]
    assert "penalty/r1" in window and "penalty/path-length" not in window  # weight 0, as the references
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [checkpoint_name(2)]


def test_the_path_length_mean_resumes_exactly(pictures, tmp_path, capsys):
    """Two epochs straight, or one and a resume: the same running mean (updated on every G step)."""
    sets = (*folder(pictures), "loss.params.weight=2.0", "loss.params.every=1")
    train(capsys, "cifar10_stylegan2", tmp_path / "straight", *sets, "train.epochs=2")
    train(capsys, "cifar10_stylegan2", tmp_path / "split", *sets)
    train(capsys, "cifar10_stylegan2", tmp_path / "split", *sets, "train.epochs=2", resume=True)
    means = [
        load_checkpoint(tmp_path / run / "checkpoints" / checkpoint_name(4)).state["parts"]["loss"]["path_length_mean"]
        for run in ("straight", "split")
    ]
    assert means[0] == means[1] > 0
