"""recipes/cifar10_resnet*.toml as users run them, at tiny widths: on a folder of 32x32 RGB images
(CIFAR-10's shape; no download here), on Fashion-MNIST (28x28 grey), conditional, and with ADA."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers.cli import RECIPES, cli

#: Tiny networks and a short run: 40 images, batches of 4, one epoch (10 steps, 2 of them G's).
SMALL = [
    "--set", "generator.params.ch=2", "--set", "discriminator.params.ch=2",
    "--set", "train.batch_size=4", "--set", "train.epochs=1", "--set", "output.samples=4",
]  # fmt: skip


def png_folder(root, classes=("cat", "dog"), per_class=22):
    """Random 32x32 RGB PNGs, ``per_class`` in each class sub-folder (seeded)."""
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def train(capsys, recipe: str, run, *sets: str) -> list[dict]:
    """``ganfw run RECIPE`` with :data:`SMALL` and ``sets``; the records of metrics.jsonl."""
    code, _, err = cli(capsys, "run", str(RECIPES / f"{recipe}.toml"), "--out", str(run), "--quiet", *SMALL, *sets)
    assert code == 0, err
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def windows(records: list[dict]) -> list[dict]:
    return [r for r in records if "event" not in r]


def on_folder(folder) -> list[str]:
    return ["--set", "data.name=image-folder", "--set", f"data.params.path={json.dumps(str(folder))}"]


def test_the_sngan_recipe_trains_on_a_folder_of_32px_rgb_images(tmp_path, capsys):
    run = tmp_path / "run"
    records = train(capsys, "cifar10_resnet", run, *on_folder(png_folder(tmp_path / "images")))
    steps = windows(records)
    assert [(r["step"], r["stepped_d"], r["stepped_g"]) for r in steps] == [(10, 1.0, 0.2)]  # G every 5th step
    assert steps[-1]["lr_d"] < 2e-4  # linear decay
    assert Image.open(run / "samples" / "image_at_epoch_0001.png").mode == "RGB"
    assert list(run.glob("checkpoints/*.safetensors"))


def test_the_sngan_recipe_trains_on_fashion_mnist(tmp_path, capsys, fashion_mnist_root):
    run = tmp_path / "run"
    records = train(
        capsys,
        "cifar10_resnet",
        run,
        "--set", "data.name=fashion-mnist", "--set", f"data.root={json.dumps(str(fashion_mnist_root))}",
        "--set", "data.limit=40",
    )  # fmt: skip
    assert windows(records)[-1]["step"] == 10
    assert Image.open(run / "samples" / "image_at_epoch_0001.png").mode == "L"


def test_the_conditional_recipe_draws_the_class_asked_for(tmp_path, capsys):
    run = tmp_path / "run"
    train(capsys, "cifar10_resnet_cond", run, *on_folder(png_folder(tmp_path / "images")))
    code, _, err = cli(capsys, "sample", str(run), "--label", "1", "--n", "3", "--out", str(tmp_path / "dogs.npy"))
    assert code == 0, err
    assert np.load(tmp_path / "dogs.npy").shape == (3, 3, 32, 32)
    assert (np.load(tmp_path / "dogs.labels.npy") == 1).all()


def test_the_ada_recipe_logs_p_and_r_t_as_p_adapts(tmp_path, capsys):
    """p starts at 0.5 and moves 0.08 every 4 D steps (4 images a step, 0.2 thousand images
    from 0 to 1), whichever way D's signs send it."""
    run = tmp_path / "run"
    records = train(
        capsys,
        "cifar10_resnet_ada",
        run,
        *on_folder(png_folder(tmp_path / "images")),
        "--set", "augment.params.p=0.5",
        "--set", "augment.params.speed_kimg=0.2", "--set", "output.log_every=4",
    )  # fmt: skip
    logged = [(r["step"], r["augment/p"], r["augment/rt"]) for r in windows(records)]
    assert [step for step, _, _ in logged] == [4, 8, 10]
    for step, p, rt in logged:
        moves = (p - 0.5) / 0.08
        assert moves == pytest.approx(round(moves)) and abs(round(moves)) <= step // 4
        assert -1.0 <= rt <= 1.0
    assert logged[-1][1] != 0.5
