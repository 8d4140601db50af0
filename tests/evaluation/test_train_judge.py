"""A judge for every dataset: ``ganfw train-judge`` on a tiny (3, 16, 16) dataset plugin, then
``ganfw evaluate`` and training-time evaluation scoring against its held-out split; judges that
do not match their dataset, datasets without a judge, without labels or without a held-out
split; the protocol of every score; and a core that never imports the plugins package."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ganfw import engine
from ganfw.evaluation import inception
from ganfw.evaluation.judge import judge_images, load_judge, read_info
from ganfw.evaluation.network import Network
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir, read_metrics
from ganfw.sampling import write_images
from tests.helpers.cli import REPO, cli
from tests.helpers.recipes import tiny_recipe

MLP = {
    "generator": {"name": "mlp", "params": {"latent_dim": 8, "hidden": [16]}},
    "discriminator": {"name": "mlp", "params": {"hidden": [16]}},
}


def tiny(tmp_path: Path, name: str = "tiny.toml", eval: dict | None = None, **params) -> str:
    """A recipe training an MLP GAN for one epoch on the ``tiny`` dataset with ``params``."""
    return str(
        tiny_recipe(
            tmp_path / name,
            tmp_path / "data",
            data={"name": "tiny", "params": params},
            eval=eval or {"every": 0},
            **MLP,
        )
    )


def train_judge(capsys, *args: str) -> str:
    code, out, err = cli(capsys, "train-judge", *args, "--epochs", "1")
    assert code == 0, err
    return out


def tiny_images(n: int = 150) -> np.ndarray:
    """Training images of ``tiny`` (default params), (n, 3, 16, 16) float32, every class alike."""
    from ganfw_tiny_plugin import TinyParams, draw

    return draw(TinyParams(), 200, seed=1)[0][
        torch.randperm(600, generator=torch.Generator().manual_seed(0))[:n]
    ].numpy()


def report(capsys, tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "scores.json"
    code, _, err = cli(capsys, "evaluate", *args, "--json", str(out))
    assert code == 0, err
    return json.loads(out.read_text())


def one_error(capsys, *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: "), (code, out, err)
    return err.strip()


def test_the_core_never_names_the_plugins_package():
    """Datasets reach the core through the registry: no file under src/ganfw imports (or
    otherwise names) ganfw_plugins."""
    files = [p for p in (REPO / "src" / "ganfw").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) > 50
    assert [str(p) for p in files if b"ganfw_plugins" in p.read_bytes()] == []


def test_a_judge_trained_by_the_command_scores_a_dataset_of_another_shape(capsys, tiny_plugin, tmp_path):
    line = train_judge(capsys, "tiny")
    path = tiny_plugin / "ganfw" / "judges" / "tiny.safetensors"
    info = read_info(path)
    assert (info.dataset, info.image_shape, info.classes) == ("tiny", (3, 16, 16), ("class0", "class1", "class2"))
    assert (info.split, info.n_held_out, info.training["epochs"], info.training["n_train"]) == ("held-out", 150, 1, 600)
    assert info.training["precision"] in ("fp32", "bf16", "fp16") and info.training["seed"] == 0
    from ganfw_tiny_plugin import TinyParams, draw

    held, labels = draw(TinyParams(), 50, seed=2)
    measured = (judge_images(load_judge(path).net, held)[1].argmax(1) == labels).float().mean().item()
    assert info.accuracy == round(measured, 4) and info.accuracy > 0.9  # the squares are easy to tell apart
    assert line.strip() == (
        f"judge of 'tiny' (3, 16, 16) images of 3 classes: {info.accuracy:.2%} accuracy on the 150 "
        f"images of its held-out split; written to {path}"
    )

    np.save(tmp_path / "real.npy", tiny_images())
    real = report(capsys, tmp_path, str(tmp_path / "real.npy"), "--dataset", "tiny", "--seed", "4")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert real["protocol"] == {
        "protocol": "quick",
        "dataset": "tiny",
        "split": "held-out",
        "features": "judge",
        "extractor": "judge:tiny",
        "extractor_hash": digest,
        "resize": None,
        "classifier": "judge:tiny",
        "judge_hash": digest,
        "n_real": 150,
        "n_generated": 150,
        "seed": 4,
    }
    assert real["scores"]["classes_missing"] == 0 and real["scores"]["coverage_entropy"] > 1.5
    assert len(real["details"]["class-coverage"]["class_shares"]) == 3
    noise = np.random.default_rng(0).uniform(-1, 1, (150, 3, 16, 16)).astype(np.float32)
    np.save(tmp_path / "noise.npy", noise)
    bad = report(capsys, tmp_path, str(tmp_path / "noise.npy"), "--dataset", "tiny", "--metrics", "kid,class-coverage")[
        "scores"
    ]
    assert bad["kid"] > 10 * abs(real["scores"]["kid"]) and bad["coverage_entropy"] < real["scores"]["coverage_entropy"]
    assert real["intervals"]["fid"]["low"] <= real["scores"]["fid"] <= real["intervals"]["fid"]["high"]

    write_images(torch.from_numpy(tiny_images(20)), tmp_path / "grid.png")  # an RGB grid of 16x16 cells
    grid = report(
        capsys, tmp_path, str(tmp_path / "grid.png"), "--dataset", "tiny", "--metrics", "fid", "--bootstrap", "0"
    )
    assert grid["protocol"]["n_generated"] == 20 and grid["scores"]["fid"] >= 0


def test_a_run_on_the_dataset_is_scored_against_it_with_its_protocol(capsys, tiny_plugin, tmp_path):
    train_judge(capsys, "tiny")
    recipe = tiny(tmp_path, eval={"every": 1, "n": 40, "metrics": ["fid", "class-coverage"]})
    run = tmp_path / "run"
    assert engine.train(load_recipe(recipe, load_registry()), RunDir(run), PlainReporter(), False)
    evals = [r for r in read_metrics(run / "metrics.jsonl") if r.get("event") == "eval"]
    digest = hashlib.sha256((tiny_plugin / "ganfw" / "judges" / "tiny.safetensors").read_bytes()).hexdigest()
    assert len(evals) == 1 and evals[0]["protocol"] == {
        "protocol": "quick",
        "dataset": "tiny",
        "split": "held-out",
        "features": "judge",
        "extractor": "judge:tiny",
        "extractor_hash": digest,
        "resize": None,
        "classifier": "judge:tiny",
        "judge_hash": digest,
        "n_real": 150,
        "n_generated": 40,
        "seed": 0,
    }
    assert evals[0]["eval/fid"] > 0 and 0 <= evals[0]["eval/coverage_entropy"] <= np.log2(3) + 1e-6
    scored = report(
        capsys, tmp_path, str(run), "--n", "40", "--metrics", "fid,class-coverage"
    )  # the checkpoint's recipe
    assert scored["protocol"] == evals[0]["protocol"]
    assert scored["scores"]["fid"] == pytest.approx(evals[0]["eval/fid"], abs=1e-5)


MISMATCHES = {
    "shape": ({"channels": 1}, "the dataset is 'tiny' (1, 16, 16) images of 3 classes"),
    "classes": ({"classes": 4}, "the dataset is 'tiny' (3, 16, 16) images of 4 classes"),
}


@pytest.mark.parametrize("case", MISMATCHES)
def test_a_judge_of_other_data_is_refused(capsys, tiny_plugin, tmp_path, case):
    train_judge(capsys, "tiny")
    params, dataset = MISMATCHES[case]
    recipe = tiny(tmp_path, **params)
    images = tmp_path / "images.npy"
    np.save(images, np.zeros((20, params.get("channels", 3), 16, 16), np.float32))
    judge = tiny_plugin / "ganfw" / "judges" / "tiny.safetensors"
    assert one_error(capsys, "evaluate", str(images), "--dataset", recipe) == (
        f"error: the judge {judge} was trained on 'tiny' (3, 16, 16) images of 3 classes, but {dataset}; "
        f"train a judge for it with `ganfw train-judge {recipe}`"
    )


def test_a_judge_of_another_key_is_refused(capsys, tiny_plugin, tmp_path):
    train_judge(capsys, "tiny")
    judges = tiny_plugin / "ganfw" / "judges"
    (judges / "copied.safetensors").write_bytes((judges / "tiny.safetensors").read_bytes())
    np.save(tmp_path / "images.npy", tiny_images(20))
    error = one_error(capsys, "evaluate", str(tmp_path / "images.npy"), "--dataset", tiny(tmp_path, key="copied"))
    assert "was trained on 'tiny' (3, 16, 16) images of 3 classes, but the dataset is 'copied' (3, 16, 16)" in error


def test_a_dataset_without_a_judge_says_how_to_get_one(capsys, tiny_plugin, tmp_path):
    np.save(tmp_path / "images.npy", tiny_images(20))
    recipe = tiny(tmp_path, key="unjudged")
    assert one_error(capsys, "evaluate", str(tmp_path / "images.npy"), "--dataset", recipe) == (
        "error: no judge for the dataset 'unjudged' (3, 16, 16) images of 3 classes: train one with "
        f"`ganfw train-judge {recipe}`, or score it with --features inception"
    )
    assert one_error(capsys, "evaluate", str(tmp_path / "images.npy")).startswith(
        f"error: {tmp_path / 'images.npy'}: a file of images needs --dataset DATASET_OR_RECIPE"
    )


def test_unlabelled_data_has_no_judge_and_scores_through_inception(capsys, tiny_plugin, tmp_path, monkeypatch):
    recipe = tiny(tmp_path, labelled=False)
    np.save(tmp_path / "images.npy", tiny_images(30))
    assert one_error(capsys, "train-judge", recipe) == (
        "error: the dataset 'tiny' (3, 16, 16) images without labels: a judge learns a dataset's classes; "
        "score it with ganfw evaluate --features inception"
    )
    assert one_error(capsys, "evaluate", str(tmp_path / "images.npy"), "--dataset", recipe) == (
        "error: no judge for the dataset 'tiny' (3, 16, 16) images without labels (a judge learns a dataset's classes): "
        "score it with --features inception"
    )
    # Inception without the network: the images' channel means stand in for its features.
    channel_means = Network(
        "inception",
        Path(inception.WEIGHTS.name),
        "0" * 64,
        inception.RESIZE,
        lambda px: (px.float().mean((2, 3)), None),
    )
    monkeypatch.setattr(inception, "load_inception", lambda: channel_means)
    scores = report(capsys, tmp_path, str(tmp_path / "images.npy"), "--dataset", recipe, "--features", "inception")
    assert set(scores["scores"]) == {"fid", "kid", "kid_std", "precision", "recall", "density", "coverage"}
    assert (
        scores["protocol"]["extractor"] == f"inception:{inception.WEIGHTS.name}"
        and scores["protocol"]["judge_hash"] is None
        and scores["protocol"]["classifier"] is None
    )
    assert one_error(
        capsys,
        "evaluate",
        str(tmp_path / "images.npy"),
        "--dataset",
        recipe,
        "--features",
        "inception",
        "--metrics",
        "fid,inception-score",
    ) == (
        "error: metric 'inception-score' needs a judge of the dataset's classes (its class logits), and the dataset "
        "'tiny' (3, 16, 16) images without labels has none: leave it out"
    )


def test_a_dataset_without_a_held_out_split_is_refused(capsys, tiny_plugin, tmp_path):
    recipe = tiny(tmp_path, held_out=False)
    assert one_error(capsys, "train-judge", recipe) == (
        "error: the dataset 'tiny' (3, 16, 16) images of 3 classes has no held-out split to score against "
        "(its held_out() gives None)"
    )
    train_judge(capsys, "tiny")  # the same key, with its held-out split
    np.save(tmp_path / "images.npy", tiny_images(20))
    assert "has no held-out split to score against" in one_error(
        capsys, "evaluate", str(tmp_path / "images.npy"), "--dataset", recipe
    )


def test_a_folder_of_class_sub_folders_gets_a_judge_and_is_scored(capsys, tiny_plugin, tmp_path):
    """image-folder: PNGs of three classes (a coloured square each, on noise), 24x24 cropped to 16x16."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        (tmp_path / "photos" / f"kind{c}").mkdir(parents=True)
        for i in range(40):
            pixels = rng.integers(0, 80, (24, 24, 3), dtype=np.uint8)
            pixels[4 + 4 * c : 12 + 4 * c, 6:14] = colour
            Image.fromarray(pixels).save(tmp_path / "photos" / f"kind{c}" / f"{i}.png")
    recipe = str(
        tiny_recipe(
            tmp_path / "folder.toml",
            tmp_path / "data",
            data={
                "name": "image-folder",
                "params": {"path": str(tmp_path / "photos"), "image_size": 16, "held_out": 0.25},
            },
            **MLP,
        )
    )
    line = train_judge(capsys, recipe)
    key = line.split("'")[1]
    assert key.startswith("image-folder-") and "(3, 16, 16) images of 3 classes" in line and "on the 30 images" in line
    assert read_info(tiny_plugin / "ganfw" / "judges" / f"{key}.safetensors").classes == ("kind0", "kind1", "kind2")
    from ganfw.evaluation.datasets import from_argument

    images = from_argument(recipe, load_registry()).dataset.load()
    np.save(tmp_path / "own.npy", images.numpy())
    scored = report(capsys, tmp_path, str(tmp_path / "own.npy"), "--dataset", recipe, "--metrics", "fid,class-coverage")
    assert scored["protocol"]["dataset"] == key and scored["protocol"]["n_real"] == 30
    assert scored["protocol"]["n_generated"] == 90 and len(scored["details"]["class-coverage"]["class_shares"]) == 3


def test_train_judge_refuses_bad_input_with_one_line(capsys, tiny_plugin, tmp_path):
    assert one_error(capsys, "train-judge", "nonesuch").startswith(
        "error: nonesuch: not a recipe file nor a dataset: unknown dataset 'nonesuch'; available:"
    )
    assert one_error(capsys, "train-judge", "tiny", "--epochs", "0") == "error: --epochs 0: train for 1 epoch or more"
    out = tmp_path / "judge.safetensors"
    train_judge(capsys, "tiny", "--out", str(out))
    assert read_info(out).dataset == "tiny" and not (tiny_plugin / "ganfw" / "judges").exists()
