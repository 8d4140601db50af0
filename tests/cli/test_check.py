"""``ganfw check`` looks at the data (issue 22): it builds the recipe's dataset and reads it (its
images, classes, shape and held-out split), names the data root only where the dataset reads
one, refuses a folder that does not exist, and counts the epoch's batches from the images found."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganfw.preflight import DataSummary
from tests.helpers.cli import RECIPES, cli

FOLDER_RECIPE = str(RECIPES / "folder_dcgan.toml")


def pictures(folder: Path, counts: dict[str, int]) -> Path:
    """``counts[name]`` small RGB pictures in ``folder/name`` each ("" for the folder itself)."""
    rng = np.random.default_rng(0)
    for name, count in counts.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(folder / name / f"{i:03d}.png")
    return folder


def checked(capsys, *args: str) -> list[str]:
    """``ganfw check ARGS``, which must pass: its comment lines."""
    code, out, err = cli(capsys, "check", *args)
    assert code == 0, err
    return [line for line in out.splitlines() if line.startswith("#")]


def test_an_image_folder_is_read_and_no_data_root_is_named(tmp_path, capsys, clean_plugin_env):
    photos = pictures(tmp_path / "photos", {"cats": 30, "dogs": 20})
    comments = checked(capsys, FOLDER_RECIPE, "--set", f"data.params.path={json.dumps(str(photos))}")
    assert comments[2:] == [
        "# data: image-folder: 45 training images of 3x32x32, 2 classes (cats, dogs), "
        "5 held out for evaluation (10% of 50)"
    ]  # no "# data root": the folder is data.params.path


def test_a_folder_that_does_not_exist_is_an_error_not_valid(tmp_path, capsys, monkeypatch, clean_plugin_env):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "check", FOLDER_RECIPE, "--set", "data.params.path=nonexistent_dir")
    assert (code, out) == (2, "")
    assert err.strip().startswith(f"error: image folder {tmp_path / 'nonexistent_dir'} does not exist")


def test_mnist_is_read_where_the_data_root_says(mnist_root, capsys, clean_plugin_env, monkeypatch):
    monkeypatch.setenv("GANFW_DATA", str(mnist_root))
    comments = checked(capsys, str(RECIPES / "mnist_quick.toml"))
    assert comments[2:] == [
        f"# data root: {mnist_root} (from the GANFW_DATA environment variable)",
        "# data: mnist: 60,000 training images of 1x28x28, 10 classes (0, 1, 2, 3, 4, 5, ...), "
        "10,000 held out for evaluation (14% of 70,000)",
    ]
    limited = checked(capsys, str(RECIPES / "mnist_quick.toml"), "--set", "data.limit=500")
    assert limited[3].startswith("# data: mnist: 500 training images of 1x28x28")


def test_the_last_batch_is_counted_from_the_images_found(tmp_path, capsys, clean_plugin_env):
    """A data.limit above what the folder holds: the epoch has the folder's 65 images, whose last
    batch of 32 holds one image, which the DCGAN's batch norm cannot train on."""
    photos = pictures(tmp_path / "photos", {"": 72})  # 65 to train, 7 held out
    args = ["--set", f"data.params.path={json.dumps(str(photos))}", "--set", "train.batch_size=32"]
    code, _, err = cli(capsys, "check", FOLDER_RECIPE, *args, "--set", "data.limit=1000")
    assert code == 2 and "train.batch_size = 32 leaves a last batch of one image (65 images an epoch)" in err
    assert checked(capsys, FOLDER_RECIPE, *args, "--set", "train.drop_last=true")[2].startswith(
        "# data: image-folder: 65 training images of 3x32x32, unlabelled, 7 held out"
    )


@pytest.mark.parametrize(
    "summary, line",
    [
        (DataSummary("d", 1000, (3, 8, 8), ("a",), 0), "d: 1,000 training images of 3x8x8, 1 class (a), nothing held out for evaluation"),
        (DataSummary("d", 5, (1, 4, 4), (), None), "d: 5 training images of 1x4x4, unlabelled, held-out split not counted (a streamed dataset)"),
        (DataSummary("d", 9, (1, 4, 4), tuple("abcdefg"), 1), "d: 9 training images of 1x4x4, 7 classes (a, b, c, d, e, f, ...), 1 held out for evaluation (10% of 10)"),
    ],
)  # fmt: skip
def test_a_summary_is_one_line(summary, line):
    assert summary.line() == line
