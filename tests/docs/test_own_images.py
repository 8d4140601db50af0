"""docs/own-images.md as a user follows it: a folder of a few hundred pictures of any size and
mode in class sub-folders, two of them broken, trained with the shipped recipes/folder_dcgan.toml
to a sample grid, then a judge trained for it and the run scored against its held-out share."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from tests.helpers.cli import RECIPES, cli

RECIPE = RECIPES / "folder_dcgan.toml"


@pytest.fixture
def photos(tmp_path):
    """200 pictures in two classes (bright squares, dark discs), sizes 24..70, RGB, grey and
    RGBA, PNG and JPEG; one truncated JPEG and one file that is no image."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    for cls, bright in (("bright", True), ("dark", False)):
        (root / cls).mkdir(parents=True)
        for i in range(100):
            h, w = rng.integers(24, 71, size=2)
            base = rng.integers(150, 256) if bright else rng.integers(0, 100)
            pixels = np.clip(base + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
            image = Image.fromarray(pixels).convert(("RGB", "L", "RGBA")[i % 3])
            image.save(root / cls / f"{i:03d}.png") if i % 2 else image.convert("RGB").save(root / cls / f"{i:03d}.jpg")
    (root / "bright" / "broken.jpg").write_bytes((root / "bright" / "000.jpg").read_bytes()[:200])
    (root / "dark" / "notes.png").write_bytes(b"not an image")
    return root


def test_a_folder_of_your_images_trains_to_a_grid_and_is_scored(photos, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no judge of this folder exists yet
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "photos"
    code, _, err = cli(
        capsys,
        "run",
        str(RECIPE),
        "--set",
        "data.params.path=photos",
        "--set",
        "train.epochs=1",
        "--out",
        str(run),
        "--quiet",
    )
    assert code == 0, err
    assert "skipped 2 of 202 image files" in err and err.count("skipped") == 1
    grid = Image.open(run / "samples" / "image_at_epoch_0001.png")
    assert grid.mode == "RGB" and grid.size[0] > 4 * 32

    code, out, err = cli(capsys, "train-judge", str(run / "recipe.toml"), "--epochs", "2")
    assert code == 0, err
    said = re.search(r"images of 2 classes: ([\d.]+)% accuracy on the (\d+) images of its held-out split", out + err)
    assert said and float(said[1]) >= 90 and 15 <= int(said[2]) <= 25, out + err  # bright vs dark: easy

    code, _, err = cli(
        capsys,
        "evaluate",
        str(run),
        "--n",
        "100",
        "--metrics",
        "fid,class-coverage",
        "--json",
        str(tmp_path / "scores.json"),
    )
    assert code == 0, err
    result = json.loads((tmp_path / "scores.json").read_text())
    assert result["scores"]["fid"] > 0
    assert result["protocol"]["dataset"].startswith("image-folder-") and result["protocol"]["split"] == "held-out"


def test_a_held_out_share_too_small_for_a_metric_is_one_line(photos, tmp_path, capsys, monkeypatch):
    """Ten pictures a class leave two held out: k-NN precision/recall (k = 5) cannot run on them,
    and says so in one line instead of a traceback."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    for path in photos.rglob("*.*"):
        if not path.stem.isdigit() or int(path.stem) >= 10:
            path.unlink()
    run = tmp_path / "runs" / "few"
    assert (
        cli(
            capsys,
            "run",
            str(RECIPE),
            "--set",
            "data.params.path=photos",
            "--set",
            "train.epochs=1",
            "--out",
            str(run),
            "--quiet",
        )[0]
        == 0
    )
    assert cli(capsys, "train-judge", str(run / "recipe.toml"), "--epochs", "1")[0] == 0
    code, _, err = cli(capsys, "evaluate", str(run), "--n", "50", "--metrics", "fid,precision-recall")
    assert code == 2 and "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("error: metric 'precision-recall' failed on 50 generated and 2 reference")
    )
