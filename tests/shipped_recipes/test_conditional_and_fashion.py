"""recipes/mnist_cdcgan.toml and recipes/fashion_dcgan.toml as users run them: their own
settings (precision auto, the EMA callback, [eval] on), on a slice of the real data."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from tests.helpers.cli import RECIPES, cli


def records(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_the_conditional_recipe_trains_and_samples_the_class_asked_for(tmp_path, mnist_root, reference_cache, capsys):
    run = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "run",
        str(RECIPES / "mnist_cdcgan.toml"),
        "--out",
        str(run),
        "--quiet",
        "--set",
        f"data.root={json.dumps(str(mnist_root))}",
        "--set",
        "data.limit=1280",
        "--set",
        "train.epochs=2",
        "--set",
        "eval.n=200",
    )
    assert code == 0, err
    evals = [r for r in records(run) if r.get("event") == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert all(0 <= r["eval/conditional_accuracy"] <= 1 and r["eval/fid"] > 0 for r in evals)
    assert evals[0]["protocol"]["dataset"] == "mnist" and evals[0]["protocol"]["split"] == "test"
    grid = Image.open(run / "samples" / "image_at_epoch_0002.png")
    assert grid.size == (10 * (28 * 4 + 2) + 2,) * 2  # 10 x 10 cells: one column per digit

    code, _, err = cli(capsys, "sample", str(run), "--label", "7", "--n", "30", "--out", str(tmp_path / "sevens.npy"))
    assert code == 0, err
    assert np.load(tmp_path / "sevens.npy").shape == (30, 1, 28, 28)
    assert (np.load(tmp_path / "sevens.labels.npy") == 7).all()
    code, _, err = cli(capsys, "sample", str(run), "--label", "12", "--n", "4", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "--label 12: not a class" in err and "class index 0..9" in err


def test_the_fashion_recipe_is_scored_against_fashion_mnist_with_its_judge(
    tmp_path, fashion_mnist_root, capsys, monkeypatch
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    run = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "run",
        str(RECIPES / "fashion_dcgan.toml"),
        "--out",
        str(run),
        "--quiet",
        "--set",
        f"data.root={json.dumps(str(fashion_mnist_root))}",
        "--set",
        "data.limit=640",
        "--set",
        "train.epochs=1",
        "--set",
        "eval.n=200",
    )
    assert code == 0, err
    (evaluation,) = [r for r in records(run) if r.get("event") == "eval"]
    protocol = evaluation["protocol"]
    assert protocol["dataset"] == "fashion-mnist" and protocol["split"] == "test"
    assert "fashion-mnist" in protocol["extractor"]
    code, _, err = cli(
        capsys,
        "evaluate",
        str(run),
        "--n",
        "200",
        "--metrics",
        "fid,class-coverage",
        "--data",
        str(fashion_mnist_root),
        "--json",
        str(tmp_path / "scores.json"),
    )
    assert code == 0, err
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["protocol"]["dataset"] == "fashion-mnist" and scores["scores"]["fid"] > 0
