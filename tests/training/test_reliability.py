"""Defects found by using ganfw as a user would (issue 11), each tested under the defaults users
run: ``[eval]`` on, the CLI, shipped recipes where the defect involves them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ganfw.checkpoint import checkpoint_name, list_checkpoints
from tests.helpers.cli import RECIPES, cli, run_cli
from tests.helpers.recipes import DEFAULT_EVAL, assert_same_file, tiny_recipe


def eval_recipe(path: Path, root: Path, **sections) -> Path:
    """The tiny recipe (2 steps an epoch) with the default ``[eval]`` switched back on."""
    return tiny_recipe(path, root, eval=DEFAULT_EVAL, **sections)


def ganfw_run(recipe: Path, out: Path, *args: str, env: dict[str, str] | None = None):
    return run_cli("run", str(recipe), "--out", str(out), "--quiet", *args, env=env)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------ 1. exact resume with [eval] on
def test_resume_with_default_eval_is_bit_exact_an_epoch_later(tmp_path, mnist_root, reference_cache):
    recipe = eval_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 3, "seed": 7})
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert ganfw_run(recipe, straight).returncode == 0
    first = ganfw_run(recipe, split, "--set", "train.epochs=1")
    assert first.returncode == 0, first.stderr
    second = ganfw_run(recipe, split, "--resume")
    assert second.returncode == 0, second.stderr
    # step 4 ends epoch 2, the first one trained after the resume; step 6 ends epoch 3
    for step in (4, 6):
        assert_same_file(
            straight / "checkpoints" / checkpoint_name(step), split / "checkpoints" / checkpoint_name(step)
        )
    assert [r["epoch"] for r in records(split) if r.get("event") == "eval"] == [1, 2, 3]


# ------------------------------------------------------------------ 3. the epoch's outputs survive
def broken_test_split(tmp_path: Path, mnist_root: Path) -> tuple[Path, Path]:
    """A data root whose MNIST test images are truncated (training files intact); returns the
    root and the truncated file."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for source in (mnist_root / "MNIST" / "raw").iterdir():
        (raw / source.name).symlink_to(source)
    broken = raw / "t10k-images-idx3-ubyte"
    broken.unlink()
    broken.write_bytes((mnist_root / "MNIST" / "raw" / broken.name).read_bytes()[:5000])
    return tmp_path / "data", broken


def test_a_broken_test_split_is_refused_before_the_first_step(tmp_path, mnist_root):
    root, _ = broken_test_split(tmp_path, mnist_root)
    recipe = eval_recipe(tmp_path / "r.toml", root, train={"epochs": 2})
    run, cold_cache = tmp_path / "run", {"XDG_CACHE_HOME": str(tmp_path / "cold")}  # must read the test split
    failed = ganfw_run(recipe, run, env=cold_cache)
    assert failed.returncode == 2
    (line,) = [x for x in failed.stderr.splitlines() if x.startswith("error:")]
    assert "[eval] cannot score this run" in line and "t10k-images" in line and "Traceback" not in failed.stderr
    assert not list_checkpoints(run / "checkpoints")


def release_run_locks() -> None:
    """Close the run-directory locks this process holds (a CLI process holds them until it exits)."""
    import os

    import ganfw.rundir

    while ganfw.rundir._HELD:
        os.close(ganfw.rundir._HELD.pop())


def test_failed_evaluation_keeps_the_epoch_and_resume_redoes_it(
    tmp_path, mnist_root, reference_cache, capsys, monkeypatch
):
    """An evaluation that fails mid-run (here the disk, as the metric would see it) stops the run
    in one line after the epoch's checkpoint and grid; --resume redoes the evaluation."""
    import ganfw.evaluation.evaluate as evaluate

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    recipe = eval_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 2})
    run = tmp_path / "run"
    monkeypatch.setattr(evaluate, "evaluate_generator", disk_full)
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(run), "--quiet")
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    assert "epoch 1: evaluation failed: OSError" in line and "No space left" in line and "Traceback" not in err
    assert [c.name for c in list_checkpoints(run / "checkpoints")] == [checkpoint_name(2)]
    assert (run / "samples" / "image_at_epoch_0001.png").exists()
    assert [r["epoch"] for r in records(run) if r.get("event") == "epoch"] == [1]

    monkeypatch.undo()
    release_run_locks()  # as the failed process's exit would
    resumed = ganfw_run(recipe, run, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert [(r["event"], r["epoch"]) for r in records(run) if r.get("event") in ("epoch", "eval")] == [
        ("epoch", 1),
        ("eval", 1),
        ("epoch", 2),
        ("eval", 2),
    ]


def test_resume_recreates_outputs_lost_after_the_last_steps_checkpoint(tmp_path, mnist_root, reference_cache):
    """A kill between the ``checkpoint_every`` checkpoint on an epoch's last step and the end of
    the epoch's work leaves that checkpoint and no grid, epoch or eval record: exactly this."""
    recipe = eval_recipe(tmp_path / "r.toml", mnist_root, output={"checkpoint_every": 1})
    run = tmp_path / "run"
    assert ganfw_run(recipe, run).returncode == 0
    (run / "samples" / "image_at_epoch_0001.png").unlink()
    kept = [r for r in records(run) if r.get("event") not in ("epoch", "eval")]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))

    resumed = ganfw_run(recipe, run, "--resume", "--set", "train.epochs=2")
    assert resumed.returncode == 0, resumed.stderr
    assert "missing outputs of epoch 1" in resumed.stderr
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["image_at_epoch_0001.png", "image_at_epoch_0002.png"]
    assert [(r["event"], r["epoch"]) for r in records(run) if r.get("event") in ("epoch", "eval")] == [
        ("epoch", 1),
        ("eval", 1),
        ("epoch", 2),
        ("eval", 2),
    ]


# ------------------------------------------------------------------ 6. ganfw check catches more
@pytest.mark.parametrize(
    "overrides, key",
    [
        (["data.limit=513", "train.batch_size=64"], "train.batch_size = 64 leaves a last batch of one image"),
        (["train.seed=18446744073709551617"], "train.seed"),
    ],
)
def test_check_catches_values_that_cannot_work(overrides, key):
    result = run_cli("check", str(RECIPES / "mnist_mlp.toml"), *[a for o in overrides for a in ("--set", o)])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert key in line and "mnist_mlp.toml" in line


def test_run_refuses_a_last_batch_of_one_before_training(tmp_path, mnist_root):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, data={"limit": 65})  # batches of 32: 32, 32, 1
    result = ganfw_run(recipe, tmp_path / "run", "--set", "train.drop_last=false")
    assert result.returncode == 2 and "last batch of one image" in result.stderr
    assert not list_checkpoints(tmp_path / "run" / "checkpoints")
    assert ganfw_run(recipe, tmp_path / "run", "--set", "train.drop_last=true").returncode == 0
