"""A run directory of ganfw 0.1.0 (format 2: callbacks kept by position; fixtures/release_0_1,
see its README) resumes exactly and samples under this release.

Exactly: every tensor and every part's state of the old checkpoint is what the current code
restores (it writes them back under the new keys, bit for bit), and training on from the old file
or from that rewritten one gives bit-identical weights.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ganfw.checkpoint import load_checkpoint
from ganfw.engine import assemble
from ganfw.plugins import load_registry
from ganfw.progress import SilentReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.helpers.cli import cli
from tests.helpers.recipes import assert_same_file

FIXTURE = Path(__file__).parent / "fixtures" / "release_0_1"
STEP2 = "checkpoints/step_00000002.safetensors"
pytestmark = pytest.mark.mnist


def old_run(where: Path) -> Path:
    """A copy of the 0.1.0 run directory (the recipe, the log, its checkpoint after epoch 1)."""
    (where / "checkpoints").mkdir(parents=True)
    for name in ("recipe.toml", "metrics.jsonl"):
        shutil.copy(FIXTURE / name, where / name)
    shutil.copy(FIXTURE / "step_00000002.safetensors", where / STEP2)
    return where


def rewritten(where: Path) -> Path:
    """The old run, resumed by this release and checkpointed again at the same step (format 3)."""
    run = old_run(where)
    recipe = load_recipe(run / "recipe.toml", load_registry(), ["train.epochs=2"])
    trainer = assemble(recipe, RunDir(run), SilentReporter())
    trainer.resume()
    trainer.state.save(trainer.clock, trainer.window, force=True)
    return run


def test_every_tensor_and_state_of_the_old_checkpoint_is_restored(tmp_path, mnist_root):
    old = load_checkpoint(FIXTURE / "step_00000002.safetensors")
    new = load_checkpoint(rewritten(tmp_path / "run") / STEP2)
    assert old.state["format"] == 2 and new.state["format"] == 3
    renamed = {"extra.rng_cpu": "extra.rng.0.cpu", "extra.rng_noise": "extra.rng.0.noise"}
    for key, tensor in old.tensors.items():
        key = renamed.get(key, key.replace("callbacks.0.ema.", "callbacks.ema."))
        assert torch.equal(new.tensors[key], tensor), key
    assert len(new.tensors) == len(old.tensors)
    parts = new.state["parts"]
    assert parts["schedule"] == old.state["schedule"] and parts["loss"] == old.state["loss"]
    assert parts["augment"] == old.state["augment"] and parts["callbacks.ema"] == old.state["callbacks"][0]
    assert parts["observers.health"] == old.state["observers"]["health"]
    assert new.state["sampler"] == "callbacks.ema.generator" and old.state["sampler"] == "callbacks.0.ema.generator"
    assert new.state["updates"] == old.state["updates"] and new.state["step"] == old.state["step"] == 2


def test_training_on_from_the_old_checkpoint_is_exact(tmp_path, capsys, mnist_root):
    runs = {"old": old_run(tmp_path / "old"), "rewritten": rewritten(tmp_path / "rewritten")}
    for run in runs.values():
        args = ("run", str(run / "recipe.toml"), "--out", str(run), "--resume", "--quiet", "--set", "train.epochs=2")
        code, _, err = cli(capsys, *args)
        assert code == 0, err
    final = "checkpoints/step_00000004.safetensors"
    assert_same_file(runs["old"] / final, runs["rewritten"] / final)


def test_the_old_checkpoint_samples(tmp_path, capsys, mnist_root):
    old, new = FIXTURE / "step_00000002.safetensors", rewritten(tmp_path / "run") / STEP2
    for name, ckpt in (("old", old), ("new", new)):
        code, _, err = cli(capsys, "sample", str(ckpt), "--n", "4", "--out", str(tmp_path / f"{name}.npy"))
        assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "old.npy"), np.load(tmp_path / "new.npy"))
