"""Scores that cannot be trusted carry warnings in the JSON report and under ``ganfw evaluate``'s
table (an interval of zero width, k-NN precision of blob-like samples, too few images), classes
are named rather than numbered, and a pixel-space metric gets the images."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ganfw.evaluation import datasets
from ganfw.evaluation.caveats import name_classes
from ganfw.evaluation.evaluate import evaluate_images
from ganfw.evaluation.reference import cache_dir
from ganfw.plugins import load_registry
from tests.helpers.cli import cli


def evaluate(capsys, tmp_path: Path, images: torch.Tensor, *options: str) -> tuple[dict, str]:
    """``ganfw evaluate`` of ``images`` saved as .npy against MNIST: the JSON report and stdout."""
    np.save(tmp_path / "images.npy", images.numpy())
    code, out, err = cli(capsys, "evaluate", str(tmp_path / "images.npy"), "--dataset", "mnist", *options,
                         "--json", str(tmp_path / "scores.json"))  # fmt: skip
    assert code == 0, err
    return json.loads((tmp_path / "scores.json").read_text()), " ".join(out.split())


def blobs(n: int, seed: int) -> torch.Tensor:
    """(n, 1, 28, 28) black images, each with one white Gaussian blob (centre in the middle 20x20,
    width 1.5 to 4 pixels): ink without digit shapes."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.arange(28.0)
    centre = 4 + torch.rand(n, 2, generator=g) * 20
    width = 1.5 + torch.rand(n, 1, 1, generator=g) * 2.5
    squared = (grid[None, :, None] - centre[:, 0, None, None]) ** 2 + (
        grid[None, None, :] - centre[:, 1, None, None]
    ) ** 2
    return (torch.exp(-squared / (2 * width**2)) * 2 - 1).unsqueeze(1)


def test_an_interval_of_zero_width_is_warned_of(capsys, reference_cache, train_digits, tmp_path):
    report, out = evaluate(
        capsys, tmp_path, train_digits[:1].repeat(50, 1, 1, 1), "--metrics", "fid", "--bootstrap", "20"
    )
    interval = report["intervals"]["fid"]
    assert interval["low"] == interval["high"]
    zero = [w for w in report["warnings"] if w.startswith("fid: its 95% interval has zero width")]
    assert len(zero) == 1 and "every one of 20 resamples of the generated images scored the same" in zero[0]
    assert "warning: fid: its 95% interval has zero width" in out
    assert "warning: fid: 50 generated images for 128-dimensional features" in out  # and the count's own warning


def test_k_nn_precision_of_blobs_is_warned_of_and_real_digits_are_not(capsys, reference_cache, train_digits, tmp_path):
    report, out = evaluate(capsys, tmp_path, blobs(1000, seed=0), "--metrics", "precision-recall")
    scores = report["scores"]
    assert scores["precision"] > 0.5 and scores["recall"] < 0.05 and scores["coverage"] < 0.05, scores
    assert [w.split(":")[0] for w in report["warnings"]] == ["precision-recall"]
    assert "so precision says nothing of their quality here; read density and coverage" in out
    real, _ = evaluate(capsys, tmp_path, train_digits[:1000], "--metrics", "precision-recall,fid,kid")
    assert real["warnings"] == []


def test_missing_classes_are_named(capsys, fashion_mnist_root, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = datasets.from_argument("fashion-mnist", load_registry(), str(fashion_mnist_root))
    images, labels = data.dataset.load()[:500], data.dataset.load_labels()[:500]
    kept = images[labels != 9]  # no ankle boots
    evaluation = evaluate_images(kept, ["class-coverage"], load_registry(), data)
    details = evaluation.details["class-coverage"]
    assert details["missing_classes"] == ["Ankle boot"]
    assert (
        list(details["class_shares"]) == list(data.dataset.class_names) and details["class_shares"]["Ankle boot"] < 0.01
    )


def test_class_indices_become_names_in_lists_shares_and_tables():
    names = ("cat", "dog", "owl")
    details = {
        "missing_classes": [0, 2],
        "class_shares": [0.0, 1.0, 0.0],
        "per_class_accuracy": {"1": 0.5},
        "other": [1],
    }
    assert name_classes(details, names) == {
        "missing_classes": ["cat", "owl"],
        "class_shares": {"cat": 0.0, "dog": 1.0, "owl": 0.0},
        "per_class_accuracy": {"dog": 0.5},
        "other": [1],
    }
    assert name_classes(details, ()) == details


def test_a_pixel_space_metric_reads_the_images_cached_once(capsys, reference_cache, train_digits, tmp_path):
    digits, _ = evaluate(capsys, tmp_path, train_digits[:300], "--metrics", "sliced-wasserstein")
    noise, _ = evaluate(
        capsys, tmp_path, torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1,
        "--metrics", "sliced-wasserstein",
    )  # fmt: skip
    assert (cache_dir() / "mnist-images.safetensors").is_file()
    assert 0 < digits["scores"]["swd"] < noise["scores"]["swd"] / 5, (digits["scores"], noise["scores"])
    assert digits["protocol"]["n_real"] == 10000


def test_pixel_space_metrics_run_only_when_asked_for(capsys, reference_cache, train_digits, tmp_path):
    report, _ = evaluate(capsys, tmp_path, train_digits[:200], "--bootstrap", "0")
    assert "swd" not in report["scores"] and {"fid", "precision", "is"} <= set(report["scores"])
