"""Two-process training on the CPU (gloo) through torchrun: outputs written once, identical
weights on every rank, resume, the adaptive schedule, and a crashing rank."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganfw.checkpoint import list_checkpoints, load_checkpoint
from tests.helpers.cli import RECIPES
from tests.helpers.recipes import tiny_recipe

WORKER = Path(__file__).parents[1] / "helpers" / "ddp_worker.py"
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]

#: One rank of a two-process gloo run on the CPU (torch 2.14) sometimes dies with SIGABRT and this
#: line, mid-run or at exit, whichever test runs (about one file run in four, at commits before
#: and after issue 14 alike; never with one process). A test failing with it is run again, and
#: pytest's summary says so.
GLOO_ABORT = "terminate called without an active exception"
pytestmark = pytest.mark.flaky(reruns=2, only_rerun=[GLOO_ABORT])


@pytest.fixture
def recipe(tmp_path, mnist_root):
    def write(schedule: str = "alternating") -> Path:
        return tiny_recipe(
            tmp_path / f"{schedule}.toml",
            mnist_root,
            schedule={"name": schedule},
            data={"limit": 128},
            train={"epochs": 2, "batch_size": 16, "dist_timeout": 30},
        )

    return write


def torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*TORCHRUN, *args], capture_output=True, text=True, timeout=timeout, env={**__import__("os").environ, **env}
    )


def rank_weights(out: Path) -> list[dict[str, torch.Tensor]]:
    return [load_file(f"{out}.rank{r}.safetensors") for r in (0, 1)]


def assert_ranks_agree(out: Path) -> None:
    rank0, rank1 = rank_weights(out)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


def test_cli_under_torchrun_writes_outputs_once(recipe, tmp_path):
    out = tmp_path / "run"
    proc = torchrun("-m", "ganfw", "run", str(recipe()), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = (out / "metrics.jsonl").read_text().splitlines()
    epochs = [json.loads(line) for line in lines if '"event": "epoch"' in line]
    assert [e["epoch"] for e in epochs] == [1, 2]  # one writer: no line twice
    steps = [json.loads(line)["step"] for line in lines if '"event"' not in line]
    assert steps == sorted(set(steps))
    # 128 images, 64 per rank, per-rank batch 16: 4 steps an epoch, global batch 32
    assert [c.name for c in list_checkpoints(out / "checkpoints")] == [
        "step_00000004.safetensors",
        "step_00000008.safetensors",
    ]
    assert len(list((out / "samples").iterdir())) == 2


@pytest.mark.parametrize("schedule", ["alternating", "simultaneous", "adaptive"])
def test_ranks_end_with_identical_weights(recipe, tmp_path, schedule):
    out = tmp_path / "run"
    extra = ["--set", "schedule.params.warmup=2"] if schedule == "adaptive" else []
    proc = torchrun(str(WORKER), str(recipe(schedule)), str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_ranks_agree(out)
    if schedule == "adaptive":  # the schedule's decisions were taken, and alike on both ranks
        state = load_checkpoint(list_checkpoints(out / "checkpoints")[-1]).state["schedule"]
        assert state, "adaptive schedule state missing"


def test_resumed_run_continues_on_both_ranks(recipe, tmp_path):
    out = tmp_path / "run"
    first = torchrun(str(WORKER), str(recipe()), str(out), "--set", "train.epochs=1")
    assert first.returncode == 0, first.stderr[-3000:]
    second = torchrun(str(WORKER), str(recipe()), str(out), "--resume")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming from" in second.stderr
    assert_ranks_agree(out)
    assert load_checkpoint(list_checkpoints(out / "checkpoints")[-1]).state["step"] == 8


def test_shipped_recipe_with_its_default_eval_trains_on_two_processes(tmp_path, mnist_root, reference_cache):
    """recipes/mnist_dcgan.toml as shipped, [eval] included (FID on 1,000 images every epoch):
    rank 0 evaluates alone while rank 1 waits, and the metric must not wait for rank 1."""
    out = tmp_path / "run"
    small = [
        "--set",
        f"data.root={mnist_root}",
        "--set",
        "data.limit=128",
        "--set",
        "train.batch_size=32",
        "--set",
        "train.epochs=2",
        "--set",
        "train.precision=fp32",
        "--set",
        "train.dist_timeout=60",
    ]
    proc = torchrun("-m", "ganfw", "run", str(RECIPES / "mnist_dcgan.toml"), "--out", str(out), "--quiet", *small)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("event") == "eval"]
    assert [r["epoch"] for r in evals] == [1, 2] and all(r["eval/fid"] > 0 for r in evals)
    assert [c.name for c in list_checkpoints(out / "checkpoints")] == [
        "step_00000002.safetensors",
        "step_00000004.safetensors",
    ]


# Last: a crashed run's processes and sockets must not overlap another run of this file.
def test_a_crashing_rank_stops_the_others_and_keeps_the_checkpoint(recipe, tmp_path):
    out = tmp_path / "run"
    proc = torchrun(str(WORKER), str(recipe()), str(out), "--crash-at", "6", timeout=200)
    assert proc.returncode != 0
    assert "rank 1 crashes on purpose" in proc.stderr
    # epoch 1's, and the last good step's (written by rank 0 before any optimiser stepped in step 7)
    kept = list_checkpoints(out / "checkpoints")
    assert [load_checkpoint(path).state["step"] for path in kept] == [4, 6]
