"""``ganfw evaluate`` on each kind of target (run directory, checkpoint, .npy, .pt, PNG grid)
against MNIST, the protocol and FID interval of its report, and its one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ganfw import engine
from ganfw.artifacts import save_grid, to_uint8
from ganfw.checkpoint import list_checkpoints
from ganfw.cli import main
from ganfw.evaluation.images import read_grid
from ganfw.evaluation.judges import SHIPPED
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from ganfw.sampling import write_images
from tests.helpers.cli import REPO, WIDE, cli, run_cli
from tests.helpers.recipes import tiny_recipe

SCORES = {
    "fid",
    "kid",
    "kid_std",
    "is",
    "is_std",
    "coverage_entropy",
    "classes_missing",
    "precision",
    "recall",
    "density",
    "coverage",
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mnist_root, cache_home) -> Path:
    """A run directory left by one epoch (2 steps) of a tiny DCGAN."""
    folder = tmp_path_factory.mktemp("evaluate")
    recipe_path = tiny_recipe(folder / "tiny.toml", mnist_root)
    out = folder / "run"
    assert engine.train(load_recipe(recipe_path, load_registry()), RunDir(out), PlainReporter(), False)
    return out


def evaluate(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``ganfw evaluate ARGS`` in-process; return (exit status, stdout, stderr)."""
    try:
        main(["evaluate", *args])
        code = 0
    except SystemExit as e:
        code = e.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def report(capsys, *args: str, tmp_path: Path) -> dict:
    """The JSON report of a successful ``ganfw evaluate``."""
    out = tmp_path / "scores.json"
    code, stdout, stderr = evaluate(capsys, *args, "--json", str(out))
    assert code == 0, stderr
    assert "fid" in stdout
    return json.loads(out.read_text())


def judge_hash() -> str:
    return hashlib.sha256((SHIPPED / "mnist.safetensors").read_bytes()).hexdigest()


def test_run_directory_and_its_checkpoint_give_the_same_scores(capsys, reference_cache, run_dir, tmp_path):
    from_run = report(capsys, str(run_dir), "--n", "200", "--seed", "3", tmp_path=tmp_path)
    assert set(from_run["scores"]) == SCORES
    assert from_run["protocol"] == {
        "protocol": "quick",
        "dataset": "mnist",
        "split": "test",
        "features": "judge",
        "extractor": "judge:mnist",
        "extractor_hash": judge_hash(),
        "resize": None,
        "classifier": "judge:mnist",
        "judge_hash": judge_hash(),
        "n_real": 10000,
        "n_generated": 200,
        "seed": 3,
    }
    coverage = from_run["details"]["class-coverage"]
    assert coverage["missing_classes"] == sorted(coverage["missing_classes"])  # by name: the digits "0" .. "9"
    assert list(coverage["class_shares"]) == [str(d) for d in range(10)]
    checkpoint = list_checkpoints(run_dir / "checkpoints")[-1]
    from_checkpoint = report(capsys, str(checkpoint), "--n", "200", "--seed", "3", tmp_path=tmp_path)
    assert from_checkpoint["scores"] == from_run["scores"]
    # An untrained generator draws one grey blob, far from MNIST and nothing like its variety.
    assert from_run["scores"]["fid"] > 50 and from_run["scores"]["recall"] < 0.1, from_run["scores"]
    interval = from_run["intervals"]["fid"]
    assert interval["low"] < from_run["scores"]["fid"] < interval["high"] and (
        interval["resamples"],
        interval["level"],
    ) == (200, 0.95)


def test_fid_interval_brackets_the_score_and_follows_the_options(capsys, reference_cache, train_digits, tmp_path):
    np.save(tmp_path / "digits.npy", train_digits[:1000].numpy())
    scored = report(
        capsys,
        str(tmp_path / "digits.npy"),
        "--dataset",
        "mnist",
        "--metrics",
        "fid",
        "--bootstrap",
        "50",
        "--seed",
        "2",
        tmp_path=tmp_path,
    )
    fid, interval = scored["scores"]["fid"], scored["intervals"]["fid"]
    # Real digits at 1,000: FID 0.74, and 0.60 .. 1.05 over ten disjoint slices (docs/metrics.md).
    assert interval["low"] < fid < interval["high"] and 0.2 < interval["high"] - interval["low"] < 1.5
    assert (interval["resamples"], interval["seed"]) == (50, 2)
    again = report(
        capsys,
        str(tmp_path / "digits.npy"),
        "--dataset",
        "mnist",
        "--metrics",
        "fid",
        "--bootstrap",
        "50",
        "--seed",
        "2",
        tmp_path=tmp_path,
    )
    assert again["intervals"] == scored["intervals"]  # seeded
    code, out, _ = evaluate(capsys, str(tmp_path / "digits.npy"), "--dataset", "mnist", "--metrics", "fid")
    assert code == 0 and "fid 95% interval" in out
    none = report(
        capsys,
        str(tmp_path / "digits.npy"),
        "--dataset",
        "mnist",
        "--metrics",
        "fid,kid",
        "--bootstrap",
        "0",
        tmp_path=tmp_path,
    )
    assert none["intervals"] == {} and none["scores"]["fid"] == fid


def test_metrics_option_picks_metrics(capsys, reference_cache, run_dir, tmp_path):
    picked = report(
        capsys, str(run_dir), "--n", "100", "--metrics", "fid, class-coverage", "--bootstrap", "0", tmp_path=tmp_path
    )
    assert set(picked["scores"]) == {"fid", "coverage_entropy", "classes_missing"}


@pytest.mark.parametrize("kind", ["npy-float-4d", "npy-uint8-3d", "pt-float-4d", "pt-uint8-3d"])
def test_image_arrays(capsys, reference_cache, train_digits, tmp_path, kind):
    images = train_digits[:300]
    suffix, dtype, dims = kind.split("-")
    array = to_uint8(images)[:, 0] if dtype == "uint8" else images
    assert array.ndim == int(dims[0])
    path = tmp_path / f"images.{suffix}"
    if suffix == "npy":
        np.save(path, array.numpy())
    else:
        torch.save(array, path)
    scores = report(capsys, str(path), "--dataset", "mnist", tmp_path=tmp_path)
    assert scores["protocol"]["n_generated"] == 300 and set(scores["scores"]) == SCORES
    assert scores["scores"]["fid"] < 10 and scores["scores"]["classes_missing"] == 0  # real digits
    first = report(capsys, str(path), "--dataset", "mnist", "--n", "100", "--metrics", "fid", tmp_path=tmp_path)
    assert first["protocol"]["n_generated"] == 100


def test_float_and_uint8_files_of_the_same_digits_score_the_same(capsys, reference_cache, train_digits, tmp_path):
    np.save(tmp_path / "float.npy", train_digits[:200].numpy())
    np.save(tmp_path / "uint8.npy", to_uint8(train_digits[:200]).numpy())
    a = report(capsys, str(tmp_path / "float.npy"), "--dataset", "mnist", tmp_path=tmp_path)["scores"]
    b = report(capsys, str(tmp_path / "uint8.npy"), "--dataset", "mnist", tmp_path=tmp_path)["scores"]
    assert a == pytest.approx(b, rel=1e-5)


@pytest.mark.parametrize("count, rows, cols", [(20, 4, 5), (10, 3, 4), (16, 4, 4)])
def test_png_grids_are_cut_into_their_cells(train_digits, tmp_path, count, rows, cols):
    images = train_digits[:count]
    path = tmp_path / "grid.png"
    write_images(images, path)  # what ganfw sample writes
    from PIL import Image

    assert Image.open(path).size == (cols * (28 * 4 + 2) + 2, rows * (28 * 4 + 2) + 2)
    assert torch.equal(to_uint8(read_grid(path, (1, 28, 28))), to_uint8(images))


def test_png_grid_of_a_run_and_of_ganfw_sample(capsys, reference_cache, run_dir, tmp_path):
    grid = run_dir / "samples" / "image_at_epoch_0001.png"
    code, out, err = evaluate(capsys, str(grid), "--dataset", "mnist", "--metrics", "fid")
    assert code == 2 and "need at least 10 images to evaluate, got 4" in err  # a 2x2 grid: too few
    sampled = tmp_path / "sampled.png"
    write_images(torch.rand(25, 1, 28, 28) * 2 - 1, sampled)
    scores = report(capsys, str(sampled), "--dataset", "mnist", tmp_path=tmp_path)
    assert scores["protocol"]["n_generated"] == 25 and set(scores["scores"]) == SCORES


def test_rgb_grid_is_read_as_grey_and_rgb_cells_of_any_size(train_digits, tmp_path):
    save_grid(train_digits[:9].expand(-1, 3, -1, -1), tmp_path / "rgb.png")
    assert torch.equal(to_uint8(read_grid(tmp_path / "rgb.png", (1, 28, 28))), to_uint8(train_digits[:9]))
    colour = torch.rand(7, 3, 12, 20, generator=torch.Generator().manual_seed(0)) * 2 - 1
    save_grid(colour, tmp_path / "colour.png")
    assert torch.equal(to_uint8(read_grid(tmp_path / "colour.png", (3, 12, 20))), to_uint8(colour))


def _write(tmp_path: Path, name: str, value) -> str:
    path = tmp_path / name
    if isinstance(value, bytes):
        path.write_bytes(value)
    elif name.endswith(".npy"):
        np.save(path, value)
    else:
        torch.save(value, path)
    return str(path)


BAD = {
    "missing file": (lambda t: str(t / "nope.npy"), [], "nope.npy: no such run directory, checkpoint or image file"),
    "missing checkpoint": (lambda t: str(t / "step_00000001.safetensors"), [], "no such run directory or checkpoint"),
    "wrong shape": (
        lambda t: _write(t, "a.npy", np.zeros((20, 32, 32), np.float32)),
        [],
        "expected images of shape (N, 1, 28, 28) or (N, 28, 28) with N > 0, got (20, 32, 32)",
    ),
    "empty array": (lambda t: _write(t, "e.npy", np.zeros((0, 28, 28), np.uint8)), [], "got (0, 28, 28)"),
    "out of range": (
        lambda t: _write(t, "r.npy", np.full((20, 28, 28), 3.0, np.float32)),
        [],
        "float images must lie in [-1, 1]",
    ),
    "nan": (lambda t: _write(t, "n.npy", np.full((20, 28, 28), np.nan, np.float32)), [], "NaN or infinite"),
    "int16": (
        lambda t: _write(t, "i.npy", np.zeros((20, 28, 28), np.int16)),
        [],
        "expected float images in [-1, 1] or uint8",
    ),
    "not npy": (lambda t: _write(t, "x.npy", b"garbage"), [], "not a readable .npy array"),
    "pt dict": (
        lambda t: _write(t, "d.pt", {"images": torch.zeros(20, 28, 28)}),
        [],
        "expected one tensor or a dict of 'images' and 'labels' tensors, got dict",
    ),
    "pt labels": (
        lambda t: _write(t, "l.pt", {"images": torch.zeros(20, 28, 28), "labels": torch.zeros(19, dtype=torch.int64)}),
        [],
        "l.pt: expected one integer label per image, shape (20,), got torch.int64 (19,)",
    ),
    "npy labels": (
        lambda t: _labelled_npy(t, np.full(20, 0.5)),
        [],
        "ok.labels.npy: expected one integer label per image, shape (20,), got torch.float64 (20,)",
    ),
    "negative labels": (
        lambda t: _labelled_npy(t, np.full(20, -1)),
        [],
        "ok.labels.npy: labels must be class indices (0 or more), found -1",
    ),
    "not pt": (lambda t: _write(t, "x.pt", b"garbage"), [], "not a readable .pt tensor file"),
    "not png": (lambda t: _write(t, "x.png", b"garbage"), [], "not a readable PNG"),
    "not a grid": (lambda t: _write_png(t, (100, 50)), [], "is not a grid of 28x28 images"),
    "no dataset": (
        lambda t: _write(t, "ok.npy", np.zeros((20, 28, 28), np.uint8)),
        ["--dataset", ""],
        "ok.npy: a file of images needs --dataset DATASET_OR_RECIPE",
    ),
    "unknown dataset": (
        lambda t: _write(t, "ok.npy", np.zeros((20, 28, 28), np.uint8)),
        ["--dataset", "mnsit"],
        "mnsit: not a recipe file nor a dataset: unknown dataset 'mnsit'; available:",
    ),
    "bootstrap": (
        lambda t: _write(t, "ok.npy", np.zeros((20, 28, 28), np.uint8)),
        ["--bootstrap", "-1"],
        "--bootstrap -1: ask for 0 resamples (no interval) or more",
    ),
    "generator of another shape": (
        lambda t: str(t),
        ["--dataset", "tiny"],
        "the generator makes images of shape (1, 28, 28), but the dataset 'tiny' has images of shape (3, 16, 16)",
    ),
    "suffix": (lambda t: _write(t, "x.txt", b"hello"), [], "unsupported file type '.txt'"),
    "corrupt checkpoint": (
        lambda t: _write(t, "step_00000001.safetensors", b"\x00" * 64),
        [],
        "not a readable ganfw checkpoint",
    ),
    "empty run directory": (lambda t: str(t), [], "no checkpoints in this run directory"),
    "unknown metric": (
        lambda t: _write(t, "ok.npy", np.zeros((20, 28, 28), np.uint8)),
        ["--metrics", "fid,fdi"],
        "unknown metric 'fdi'; available: class-coverage, conditional-accuracy, fid",
    ),
    "no metric": (
        lambda t: _write(t, "ok.npy", np.zeros((20, 28, 28), np.uint8)),
        ["--metrics", ","],
        "no metrics to compute",
    ),
    "features": (
        lambda t: _write(t, "ok.npy", np.zeros((20, 28, 28), np.uint8)),
        ["--features", "clip"],
        "--features: unknown feature space 'clip'; choose one of auto, judge, inception, dinov2",
    ),
    "too few": (
        lambda t: _write(t, "few.npy", np.zeros((9, 28, 28), np.uint8)),
        [],
        "need at least 10 images to evaluate, got 9",
    ),
}


def _labelled_npy(tmp_path: Path, labels: np.ndarray) -> str:
    np.save(tmp_path / "ok.labels.npy", labels)
    return _write(tmp_path, "ok.npy", np.zeros((20, 28, 28), np.uint8))


def _write_png(tmp_path: Path, size: tuple[int, int]) -> str:
    from PIL import Image

    path = tmp_path / "odd.png"
    Image.new("L", size).save(path)
    return str(path)


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_status_2(capsys, reference_cache, tiny_site, run_dir, tmp_path, monkeypatch, case):
    make_target, options, message = BAD[case]
    monkeypatch.syspath_prepend(str(tiny_site))
    target = run_dir if case == "generator of another shape" else make_target(tmp_path)
    dataset = [] if "--dataset" in options else ["--dataset", "mnist"]
    code, out, err = evaluate(capsys, str(target), *dataset, *options)
    assert code == 2, (out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert message in err
    assert "Traceback" not in err


def test_inception_features_fail_offline_with_one_line(tmp_path, cache_home):
    """Weights not on disk and no network: the download fails and says where to put which file,
    in one line."""
    refuse = "http://127.0.0.1:9"  # nothing listens on the discard port: every download fails
    env = {
        **WIDE,
        "TORCH_HOME": str(tmp_path / "torch"),
        "XDG_CACHE_HOME": str(cache_home),
        "https_proxy": refuse,
        "HTTPS_PROXY": refuse,
        "http_proxy": refuse,
        "HTTP_PROXY": refuse,
        "no_proxy": "",
        "NO_PROXY": "",
        "GANFW_WEIGHTS": "",
        "GANFW_OFFLINE": "",
    }
    images = tmp_path / "digits.npy"
    np.save(images, np.zeros((20, 28, 28), np.uint8))
    result = run_cli("evaluate", str(images), "--dataset", "mnist", "--features", "inception", env=env)
    assert result.returncode == 2, result.both
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: Inception weights are not available offline: downloading weights-inception-2015-12-05-6726825d.pth failed"
    )
    assert lines[0].endswith(
        "; put weights-inception-2015-12-05-6726825d.pth (from https://github.com/toshas/torch-fidelity/releases/"
        f"download/v0.2.0/weights-inception-2015-12-05-6726825d.pth) in {cache_home / 'ganfw' / 'weights'}"
    )


def test_evaluate_help_does_not_import_torch():
    code = (
        "import sys\nfrom ganfw.cli import main\n"
        "try:\n    main(['evaluate', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'torchmetrics', 'numpy')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GANFW_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env={**env, **WIDE}, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "--metrics" in proc.stdout and "--features" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "[]"


# --------------------------------------------------------------------------- conditional generators
def test_a_conditional_run_is_scored_on_uniform_labels(
    capsys, reference_cache, templates_plugin, conditional_run, tmp_path
):
    scores = report(capsys, str(conditional_run), "--n", "200", tmp_path=tmp_path)
    assert set(scores["scores"]) == SCORES | {"conditional_accuracy"}
    assert scores["scores"]["conditional_accuracy"] == 1.0  # every template is read as its class
    per_class = scores["details"]["conditional-accuracy"]["per_class_accuracy"]
    assert per_class == {str(c): 1.0 for c in range(10)}
    code, out, _ = evaluate(capsys, str(conditional_run), "--n", "200", "--metrics", "conditional-accuracy")
    assert code == 0 and "conditional_accuracy" in out and "0: 1.000  1: 1.000" in " ".join(out.split("│"))


def test_conditional_accuracy_needs_labels_only_when_asked_for(capsys, reference_cache, unconditional_run, tmp_path):
    scores = report(capsys, str(unconditional_run), "--n", "100", tmp_path=tmp_path)
    assert set(scores["scores"]) == SCORES  # left out of the default metrics, not failed
    code, out, err = evaluate(capsys, str(unconditional_run), "--n", "100", "--metrics", "fid,conditional-accuracy")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: conditional-accuracy: these images carry no labels (the generator is not conditional")


@pytest.mark.parametrize("suffix", [".npy", ".pt"])
def test_labels_saved_by_ganfw_sample_are_read_back(
    capsys, reference_cache, templates_plugin, conditional_run, tmp_path, suffix
):
    sevens = tmp_path / f"sevens{suffix}"
    assert cli(capsys, "sample", str(conditional_run), "--label", "7", "--n", "50", "--out", str(sevens))[0] == 0
    scores = report(
        capsys,
        str(sevens),
        "--dataset",
        "mnist",
        "--metrics",
        "fid,conditional-accuracy,class-coverage",
        tmp_path=tmp_path,
    )
    assert scores["scores"]["conditional_accuracy"] == 1.0 and scores["details"]["conditional-accuracy"] == {
        "per_class_accuracy": {"7": 1.0}
    }
    assert scores["details"]["class-coverage"]["missing_classes"] == [str(d) for d in range(10) if d != 7]
    if suffix == ".npy":  # without its labels file, a .npy is unlabelled images
        (tmp_path / "sevens.labels.npy").unlink()
        assert (
            "conditional_accuracy"
            not in report(capsys, str(sevens), "--dataset", "mnist", "--n", "20", tmp_path=tmp_path)["scores"]
        )
