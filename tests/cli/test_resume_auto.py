"""``ganfw run ... --resume auto`` (issue 23, item 4): a job scheduler resubmits one command; the
first submission starts the run, the next ones continue it from its newest checkpoint. ``--resume``
alone keeps its meaning (continue, or refuse when there is no run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ganfw.checkpoint import list_checkpoints
from ganfw.cli import ALONE, _optional_values
from ganfw.distributed import Ranks
from ganfw.errors import UserError
from ganfw.rundir import AUTO, locks_released, open_run_dir, resuming
from tests.helpers.cli import cli
from tests.helpers.recipes import assert_same_file, tiny_recipe


@pytest.mark.parametrize(
    "args, parsed",
    [
        (["r.toml", "--resume"], ["r.toml", f"--resume={ALONE}"]),
        (["r.toml", "--resume", "auto", "-q"], ["r.toml", "--resume=auto", "-q"]),
        (["--resume", "r.toml", "--out", "x"], [f"--resume={ALONE}", "r.toml", "--out", "x"]),  # not a value
        (["r.toml", "--resume", "--quiet"], ["r.toml", f"--resume={ALONE}", "--quiet"]),
        (["r.toml", "--resume=auto"], ["r.toml", "--resume=auto"]),
        (["r.toml", "--", "--resume"], ["r.toml", "--", "--resume"]),  # after --, an argument
    ],
)
def test_resume_takes_auto_or_nothing(args, parsed):
    assert _optional_values(args) == parsed


def test_a_resume_value_other_than_auto_is_one_line(capsys):
    code, _, err = cli(capsys, "run", "mnist_quick", "--resume=maybe", "--out", "x")
    assert (code, err.strip()) == (
        2,
        "error: --resume=maybe: give --resume alone (continue the run in --out) or --resume auto",
    )


def test_auto_continues_only_a_directory_with_a_checkpoint(tmp_path):
    out = tmp_path / "run"
    assert resuming(out, AUTO) is False  # no directory yet
    (out / "checkpoints").mkdir(parents=True)
    (out / "recipe.toml").write_text("")
    assert resuming(out, AUTO) is False  # a run that died before its first checkpoint: start over
    (out / "checkpoints" / "step_00000002.safetensors").write_bytes(b"")
    assert resuming(out, AUTO) is True
    assert (resuming(out, True), resuming(out, False)) == (True, False)  # --resume, or none: as asked
    with pytest.raises(UserError, match=r"^--resume auto needs --out DIR, the run directory to continue or start$"):
        resuming(None, AUTO)


@pytest.mark.parametrize("checkpointed", [False, True])
def test_every_rank_of_a_torchrun_job_decides_alike_and_rank_0_alone_claims(tmp_path, checkpointed):
    """Under torchrun every rank calls ``resuming`` and ``open_run_dir`` before the process group
    exists: they see the same files (no checkpoint is written before all have joined), decide the
    same, and only rank 0 takes the lock and cleans the directory up."""
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "metrics.jsonl").write_text('{"step": 1}\n')
    if checkpointed:
        (out / "checkpoints" / "step_00000004.safetensors").write_bytes(b"")
    recipe = tmp_path / "r.toml"
    decisions = [resuming(out, AUTO) for _ in (1, 0)]
    assert decisions == [checkpointed] * 2
    with locks_released():
        open_run_dir(out, decisions[0], "runs", recipe, Ranks(rank=1, world=2))
        assert not (out / ".lock").exists() and (out / "metrics.jsonl").exists()  # rank 1 touches nothing
        open_run_dir(out, decisions[1], "runs", recipe, Ranks(rank=0, world=2))
    assert (out / ".lock").exists()
    assert (out / "metrics.jsonl").exists() is checkpointed  # a dead run's log goes when it starts over


def run(capsys, recipe: Path, out: Path, *args: str) -> str:
    """``ganfw run RECIPE --out OUT --quiet ARGS`` in this process (its lock released after:
    the next run of a test may go into the same directory); its stderr."""
    with locks_released():
        code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet", *args)
    assert code == 0, err
    return err


def test_auto_starts_the_run_then_continues_it_to_the_weights_of_an_uninterrupted_one(tmp_path, mnist_root, capsys):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 2})
    run(capsys, recipe, tmp_path / "straight")

    first = run(capsys, recipe, tmp_path / "auto", "--resume", "auto", "--set", "train.epochs=1")
    assert f"run directory: {tmp_path / 'auto'} (--resume auto: no checkpoint there yet, so the run starts)" in first
    assert "resuming" not in first
    again = run(capsys, recipe, tmp_path / "auto", "--resume", "auto")  # the same command, resubmitted
    assert "resuming from" in again and "(step 2)" in again and "no checkpoint there yet" not in again
    ends = [c.name for c in list_checkpoints(tmp_path / "auto" / "checkpoints")]
    assert ends[-1] == "step_00000004.safetensors"
    assert_same_file(tmp_path / "straight" / "checkpoints" / ends[-1], tmp_path / "auto" / "checkpoints" / ends[-1])


def test_resume_alone_still_refuses_a_directory_without_a_run(tmp_path, mnist_root, capsys):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root)
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(tmp_path / "none"), "--resume")
    assert code == 2 and f"{tmp_path / 'none'}: no run to resume" in err
    assert not (tmp_path / "none").exists()


@pytest.mark.distributed
def test_under_torchrun_the_same_command_starts_then_continues_the_run(tmp_path, mnist_root):
    recipe = tiny_recipe(
        tmp_path / "r.toml", mnist_root, data={"limit": 128}, train={"batch_size": 16, "dist_timeout": 30}
    )
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ganfw"]
    command += ["run", str(recipe), "--out", str(out), "--quiet", "--resume", "auto"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for epochs in (1, 2):
        proc = subprocess.run(
            [*command, "--set", f"train.epochs={epochs}"], capture_output=True, text=True, timeout=240, env=env
        )
        assert proc.returncode == 0, proc.stderr
        assert ("resuming from" in proc.stderr) is (epochs == 2), proc.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r.get("event") == "start"] == [0, 4]  # 64 images a rank, batches of 16
    assert [r["step"] for r in records if r.get("event") == "epoch"] == [4, 8]
