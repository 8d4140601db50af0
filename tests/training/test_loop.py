"""The training engine end to end on a slice of real MNIST: outputs, resume, interruption, NaN."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from ganfw import engine
from ganfw.checkpoint import list_checkpoints, load_checkpoint
from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.helpers.recipes import tiny_recipe


def engine_recipe(
    path: Path, root: Path, loss: str = "non-saturating", schedule: str = "alternating", eval_every: int = 0
) -> Path:
    """3 steps an epoch, 2 epochs, a log line every 2 steps."""
    return tiny_recipe(
        path,
        root,
        loss={"name": loss},
        schedule={"name": schedule},
        data={"limit": 96},
        train={"epochs": 2, "seed": 3},
        output={"log_every": 2, "gif": True},
        eval={"every": eval_every, "n": 200, "metrics": ["fid", "class-coverage"]},
    )


@pytest.fixture
def tiny(tmp_path, mnist_root):
    """Write a tiny recipe (3 steps an epoch) and return its path; ``tiny(loss=..., schedule=...)``."""

    def write(loss: str = "non-saturating", schedule: str = "alternating", eval_every: int = 0) -> Path:
        return engine_recipe(tmp_path / f"tiny_{loss}_{schedule}.toml", mnist_root, loss, schedule, eval_every)

    return write


def train(recipe_path: Path, out: Path, *overrides: str, resume: bool = False) -> bool:
    recipe = load_recipe(recipe_path, load_registry(), list(overrides))
    return engine.train(recipe, RunDir(out), PlainReporter(), resume)


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(list_checkpoints(run / "checkpoints")[-1]))


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_cli_run_writes_every_output(tiny, tmp_path, reference_cache):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "ganfw", "run", str(tiny(eval_every=1)), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "epoch 2/2 done" in proc.stderr

    assert "[generator]" in (out / "recipe.toml").read_text()
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "event" not in r]
    for key in (
        "step",
        "epoch",
        "d_loss",
        "g_loss",
        "d_real",
        "d_fake",
        "d_acc",
        "stepped_d",
        "stepped_g",
        "lr_g",
        "lr_d",
        "images_per_s",
    ):
        assert key in steps[0], key
    assert [r["epoch"] for r in records if r.get("event") == "epoch"] == [1, 2]
    evals = [r for r in records if r.get("event") == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2]
    assert all(0 < r["eval/fid"] < 500 and 0 <= r["eval/coverage_entropy"] <= 3.33 for r in evals)
    assert steps[-1]["step"] == 6

    grids = sorted((out / "samples").iterdir())
    assert [g.name for g in grids] == ["image_at_epoch_0001.png", "image_at_epoch_0002.png"]
    assert Image.open(grids[0]).size == Image.open(grids[1]).size
    gif = Image.open(out / "training.gif")
    assert gif.n_frames == 2
    assert Image.open(out / "losses.png").size[0] > 100

    checkpoints = list_checkpoints(out / "checkpoints")
    assert [c.name for c in checkpoints] == ["step_00000003.safetensors", "step_00000006.safetensors"]
    state = load_checkpoint(checkpoints[-1]).state
    assert state["step"] == 6 and "[generator]" in state["recipe"]


@pytest.mark.parametrize("schedule", ["simultaneous", "alternating"])
def test_two_epochs_equal_one_plus_resume_plus_one(tiny, tmp_path, schedule):
    recipe = tiny(schedule=schedule)
    assert train(recipe, tmp_path / "straight")
    assert train(recipe, tmp_path / "split", "train.epochs=1")
    assert train(recipe, tmp_path / "split", "train.epochs=2", resume=True)
    assert_same_tensors(final_weights(tmp_path / "straight"), final_weights(tmp_path / "split"))
    steps = [json.loads(line)["step"] for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps), "resumed log must continue, not repeat"


def test_a_callback_is_keyed_by_its_name_however_the_recipe_spells_it(tiny, tmp_path):
    """Checkpoints key a callback's state and modules by its component's name (``callbacks.ema``),
    so a resume may qualify it with its plugin (``callbacks:ema``) or not."""
    recipe = tiny()
    recipe.write_text(recipe.read_text() + '[[callbacks]]\nname = "ema"\nparams = {decay = 0.5}\n')
    assert train(recipe, tmp_path / "straight", "train.epochs=2")
    assert train(recipe, tmp_path / "split", "train.epochs=1")
    qualified = recipe.with_name("qualified.toml")
    qualified.write_text(recipe.read_text().replace('name = "ema"', 'name = "callbacks:ema"'))
    assert train(qualified, tmp_path / "split", "train.epochs=2", resume=True)
    saved = load_checkpoint(list_checkpoints(tmp_path / "split" / "checkpoints")[-1])
    assert saved.state["sampler"] == "callbacks.ema.generator" and "callbacks.ema" in saved.state["parts"]
    assert_same_tensors(final_weights(tmp_path / "straight"), final_weights(tmp_path / "split"))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])  # Ctrl-C; a scheduler's (or torchrun's) stop
def test_interrupt_mid_epoch_saves_and_resumes_identically(tiny, tmp_path, monkeypatch, stop):
    recipe = tiny(loss="wasserstein-gp", schedule="adaptive")
    assert train(recipe, tmp_path / "straight")

    original = engine.Trainer._train_step

    def signal_at_step_4(self, real):
        report = original(self, real)
        if self.step == 4:
            os.kill(os.getpid(), stop)  # the real signal, handled by the engine
        return report

    monkeypatch.setattr(engine.Trainer, "_train_step", signal_at_step_4)
    assert train(recipe, tmp_path / "split") is False
    assert [c.name for c in list_checkpoints(tmp_path / "split" / "checkpoints")][-1] == "step_00000004.safetensors"
    monkeypatch.setattr(engine.Trainer, "_train_step", original)
    assert train(recipe, tmp_path / "split", resume=True)
    assert_same_tensors(final_weights(tmp_path / "straight"), final_weights(tmp_path / "split"))


def test_nan_loss_stops_naming_the_step_and_keeps_the_checkpoint(tiny, tmp_path, monkeypatch):
    recipe = tiny()
    run = tmp_path / "run"
    original = engine.Trainer._train_step

    def nan_at_step_5(self, real):
        if self.step == 4:
            self.parts.loss.obj.d_loss = lambda r, f: r.mean() * float("nan")
        return original(self, real)

    monkeypatch.setattr(engine.Trainer, "_train_step", nan_at_step_5)
    with pytest.raises(UserError, match=r"step 5: d_loss is nan.*step_00000003\.safetensors"):
        train(recipe, run)
    (kept,) = list_checkpoints(run / "checkpoints")
    assert load_checkpoint(kept).state["step"] == 3


def test_run_refuses_a_non_empty_directory_without_resume(tiny, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    proc = subprocess.run(
        [sys.executable, "-m", "ganfw", "run", str(tiny()), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "already holds files" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "precious.txt").read_text() == "keep me"


def test_resume_refuses_a_different_architecture(tiny, tmp_path):
    recipe = tiny()
    assert train(recipe, tmp_path / "run", "train.epochs=1")
    with pytest.raises(UserError, match=r"generator"):
        train(recipe, tmp_path / "run", "generator.params.latent_dim=9", resume=True)


def test_sigkill_leaves_a_loadable_checkpoint(tiny, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ganfw",
            "run",
            str(tiny()),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "train.epochs=50",
            "--set",
            "output.checkpoint_every=1",
            "--set",
            "output.keep_checkpoints=50",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(list_checkpoints(out / "checkpoints")) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    checkpoints = list_checkpoints(out / "checkpoints")
    assert len(checkpoints) >= 3
    for path in checkpoints:  # every named checkpoint is complete
        load_checkpoint(path)
    done = load_checkpoint(checkpoints[-1]).state["step"]
    resumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ganfw",
            "run",
            str(tiny()),
            "--out",
            str(out),
            "--quiet",
            "--resume",
            "--set",
            f"train.epochs={done // 3 + 1}",
            "--set",
            "output.checkpoint_every=1",
            "--set",
            "output.keep_checkpoints=50",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stderr


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, mnist_root):
    out = tmp_path_factory.mktemp("sample") / "run"
    recipe = engine_recipe(out.parent / "tiny.toml", mnist_root)
    assert train(recipe, out, "train.epochs=1")
    return out


@pytest.mark.parametrize("suffix", [".npy", ".pt", ".png"])
def test_sample_writes_each_format(trained_run, tmp_path, suffix):
    out = tmp_path / f"images{suffix}"
    proc = subprocess.run(
        [sys.executable, "-m", "ganfw", "sample", str(trained_run), "--n", "10", "--out", str(out), "--seed", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    if suffix == ".png":
        cell = 28 * 4 + 2  # 28 px scaled 4x, plus padding
        assert Image.open(out).size == (4 * cell + 2, 3 * cell + 2)  # 10 images: 4 columns, 3 rows
        return
    images = np.load(out) if suffix == ".npy" else torch.load(out).numpy()
    assert images.shape == (10, 1, 28, 28) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0


def test_sample_is_reproducible_from_a_checkpoint_file(trained_run, tmp_path):
    checkpoint = list_checkpoints(trained_run / "checkpoints")[-1]
    outs = []
    for name in ("a.npy", "b.npy"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "ganfw",
                "sample",
                str(checkpoint),
                "--n",
                "3",
                "--out",
                str(tmp_path / name),
                "--seed",
                "7",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        outs.append(np.load(tmp_path / name))
    np.testing.assert_array_equal(*outs)


@pytest.mark.parametrize(
    "target, out, message",
    [
        ("corrupt", "x.png", "not a readable ganfw checkpoint"),
        ("missing", "x.png", "no such run directory or checkpoint"),
        ("run", "x.bmp", "unsupported format"),
    ],
)
def test_sample_bad_input_is_one_line(trained_run, tmp_path, target, out, message):
    paths = {"corrupt": tmp_path / "bad.safetensors", "missing": tmp_path / "nope", "run": trained_run}
    paths["corrupt"].write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    proc = subprocess.run(
        [sys.executable, "-m", "ganfw", "sample", str(paths[target]), "--out", str(tmp_path / out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / out).exists()


def _raise(*args):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    "net, broken_forward, message",
    [
        (
            "generator",
            lambda forward: lambda self, z: forward(self, z).flatten(1),
            r"\[generator\] generator 'dcgan' \(plugin dcgan, package ganfw .*\) broke the generator contract: "
            r"forward\(z\) returned torch.float32 \(2, 784\), expected floats of shape \(2, 1, 28, 28\)",
        ),
        (
            "generator",
            lambda forward: lambda self, z: forward(self, z) + 2,
            r"broke the generator contract: images must lie in \[-1, 1\]",
        ),
        (
            "discriminator",
            lambda forward: lambda self, x: forward(self, x)[:, None],
            r"\[discriminator\] discriminator 'dcgan' .* returned shape \(2, 1\), expected \(2,\)",
        ),
        (
            "discriminator",
            lambda forward: _raise,
            r"\[discriminator\] discriminator 'dcgan' .* failed on its first input \(2, 1, 28, 28\): RuntimeError: boom",
        ),
    ],
)
def test_a_component_breaking_its_contract_stops_the_run_with_one_line(
    tiny, tmp_path, capsys, monkeypatch, net, broken_forward, message
):
    from ganfw_plugins.dcgan import models
    from tests.helpers.cli import cli

    cls = models.DCGANGenerator if net == "generator" else models.DCGANDiscriminator
    monkeypatch.setattr(cls, "forward", broken_forward(cls.forward))
    code, out, err = cli(capsys, "run", str(tiny()), "--out", str(tmp_path / "run"), "--quiet")
    assert code == 2 and "Traceback" not in err
    (error,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert re.search(message, error), error
    assert not (tmp_path / "run").exists()  # nothing written
