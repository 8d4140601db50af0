"""Two-process training on the CPU (gloo) through torchrun: outputs written once, identical
weights on every rank, resume, the adaptive schedule, and a crashing rank."""

from __future__ import annotations

import json
import os
import socket
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

pytestmark = pytest.mark.distributed


def two_process_recipe(folder: Path, mnist_root: Path, schedule: str = "alternating") -> Path:
    """The tests' recipe: two epochs of 8 steps (128 images, batch 16) under ``schedule``."""
    return tiny_recipe(
        folder / f"{schedule}.toml",
        mnist_root,
        schedule={"name": schedule},
        data={"limit": 128},
        train={"epochs": 2, "batch_size": 16, "dist_timeout": 30},
    )


@pytest.fixture
def recipe(tmp_path, mnist_root):
    def write(schedule: str = "alternating") -> Path:
        return two_process_recipe(tmp_path, mnist_root, schedule)

    return write


def torchrun(*args: str, timeout: float = 240, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run([*TORCHRUN, *args], capture_output=True, text=True, timeout=timeout, env=env)


def rank_weights(out: Path) -> list[dict[str, torch.Tensor]]:
    return [load_file(f"{out}.rank{r}.safetensors") for r in (0, 1)]


def assert_ranks_agree(out: Path) -> None:
    rank0, rank1 = rank_weights(out)
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    assert_group_freed(out)


def assert_group_freed(out: Path) -> None:
    """No gloo thread outlived training on either rank: leaving freed the process group. A gloo
    worker still alive when Python finalizes can abort its process ("terminate called without an
    active exception"), see ganfw.distributed.leave."""
    for r in (0, 1):
        assert json.loads(Path(f"{out}.rank{r}.threads.json").read_text()) == [], f"rank {r}"


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


@pytest.mark.parametrize("schedule", ["simultaneous", "adaptive"])  # alternating: the uninterrupted run below
def test_ranks_end_with_identical_weights(recipe, tmp_path, schedule):
    out = tmp_path / "run"
    extra = ["--set", "schedule.params.warmup=2"] if schedule == "adaptive" else []
    proc = torchrun(str(WORKER), str(recipe(schedule)), str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_ranks_agree(out)
    if schedule == "adaptive":  # the schedule's decisions were taken, and alike on both ranks
        state = load_checkpoint(list_checkpoints(out / "checkpoints")[-1]).state["parts"]["schedule"]
        assert state, "adaptive schedule state missing"


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
    assert "terminate called" not in proc.stderr
    # the rank that lost its peer says so, and blames no component whose call met the failure
    assert "rank 0: training stopped, the process group failed (another rank may have crashed)" in proc.stderr
    assert "raised in forward" not in proc.stderr
    assert_group_freed(out)  # on the rank that crashed and on the one that lost it alike
    # epoch 1's, and the last good step's (written by rank 0 before any optimiser stepped in step 7)
    kept = list_checkpoints(out / "checkpoints")
    assert [load_checkpoint(path).state["step"] for path in kept] == [4, 6]


#: A callback that asks to stop on one rank only, after a given step.
STOP_PLUGIN = """
    import os
    from dataclasses import dataclass

    from ganfw.plugin import Callback, ComponentSpec, hookimpl, param

    GANFW_API = 2


    @dataclass(frozen=True)
    class StopParams:
        rank: int = param(1, "the rank that asks")
        step: int = param(5, "after this step")


    class StopOnOneRank(Callback):
        def __init__(self, params):
            self.params = params

        def on_step_end(self, view, report):
            if int(os.environ.get("RANK", "0")) == self.params.rank and view.step == self.params.step:
                view.request_stop(f"rank {self.params.rank} asked after step {view.step}")


    @hookimpl
    def ganfw_callbacks():
        return [ComponentSpec(name="stop-on-one-rank", kind="callback", summary="stops on one rank",
                              factory="stop_plugin:StopOnOneRank", params=StopParams)]
"""


def stopped_run(proc: subprocess.CompletedProcess, out: Path) -> tuple[dict, list[int]]:
    """The run's one ``stop`` record, and the steps of the checkpoints rank 0 wrote (rank 1 none)."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    (stop,) = [r for r in records if r.get("event") == "stop"]
    assert not Path(f"{out}.rank1.saves.json").exists()  # rank 1 writes nothing
    assert_ranks_agree(out)  # both ranks ended at the same step, in step
    return stop, json.loads(Path(f"{out}.rank0.saves.json").read_text())


def test_early_stopping_decided_on_rank_0_stops_every_rank(recipe, tmp_path, reference_cache):
    """``early-stopping`` (patience 1) sees evaluations on rank 0 only; its stop after epoch 2
    reaches rank 1 before epoch 3 starts (it hung until dist_timeout before)."""
    out = tmp_path / "run"
    sets = ["train.epochs=4", "eval.every=1", "eval.n=100"]
    path = recipe()
    path.write_text(
        path.read_text() + '[[callbacks]]\nname = "early-stopping"\nparams = {patience = 1, min_delta = 1e6}\n'
    )
    proc = torchrun(str(WORKER), str(path), str(out), *(a for s in sets for a in ("--set", s)), timeout=300)
    stop, saves = stopped_run(proc, out)
    assert stop["step"] == 8 and "fid" in stop["reason"]
    assert saves == [4, 4, 8, 8]  # each epoch's checkpoint, rewritten after its evaluation; none more


def test_a_stop_asked_on_one_rank_mid_epoch_stops_every_rank_at_the_same_step(recipe, tmp_path, plugin_site):
    plugin_site.add("ganfw-stop", "1.0", {"stop_plugin": STOP_PLUGIN}, {"stop": "stop_plugin"})
    out, path = tmp_path / "run", recipe()
    path.write_text(path.read_text() + '[[callbacks]]\nname = "stop-on-one-rank"\nparams = {rank = 1, step = 5}\n')
    env = {"PYTHONPATH": plugin_site.pythonpath}
    proc = torchrun(str(WORKER), str(path), str(out), "--set", "train.epochs=3", env=env)
    stop, saves = stopped_run(proc, out)
    # Rank 1 asked after step 5; every rank learns it from step 6's reduction and stops there.
    assert stop == {"event": "stop", "step": 6, "reason": "rank 1 asked after step 5"}
    assert saves == [4, 4, 6]


#: The stop-and-resume runs: a checkpoint every 2 steps, and augmentation drawing random numbers.
STOPPED_SETS = ["--set", "output.checkpoint_every=2", "--set", "augment.name='diffaugment'"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_root) -> tuple[Path, Path]:
    """The recipe of the stop-and-resume tests (the alternating schedule) and where its
    uninterrupted two-process run left each rank's weights, which agree (run once for the ways to
    stop it and the two-node run)."""
    folder = tmp_path_factory.mktemp("uninterrupted")
    recipe = two_process_recipe(folder, mnist_root)
    straight = folder / "straight"
    run = torchrun(str(WORKER), str(recipe), str(straight), *STOPPED_SETS)
    assert run.returncode == 0, run.stderr[-3000:]
    assert_ranks_agree(straight)  # the alternating schedule's case of test_ranks_end_with_identical_weights
    return recipe, straight


def stop_then_resume(
    uninterrupted, split: Path, *signal_args: str
) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """The stop-and-resume tests' recipe run into ``split``, stopped after step 5 as
    ``signal_args`` say (a checkpoint every 2 steps, and one at the stop), then resumed; the
    stopped run and the resume."""
    recipe, _ = uninterrupted
    first = torchrun(str(WORKER), str(recipe), str(split), *STOPPED_SETS, "--signal-at", "5", *signal_args)
    assert "usage:" not in first.stderr, first.stderr[-3000:]
    assert [c.name for c in list_checkpoints(split / "checkpoints")][-1] == "step_00000005.safetensors"
    resumed = torchrun(str(WORKER), str(recipe), str(split), "--resume", *STOPPED_SETS)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming from" in resumed.stderr and "step_00000005" in resumed.stderr
    return first, resumed


@pytest.mark.parametrize(
    "signal_name",
    [
        "SIGINT",  # Ctrl-C in the terminal: every rank gets it
        "SIGUSR1",  # a scheduler's warning before its time limit (SLURM)
    ],
    ids=["ctrl-c", "sigusr1"],
)
def test_a_stopped_two_process_run_resumes_to_the_weights_of_an_uninterrupted_one(uninterrupted, tmp_path, signal_name):
    """Every rank's random streams (noise, dropout, augmentation) and the data order are in the
    checkpoint, so two processes stopped and resumed end bit for bit where two uninterrupted ones do."""
    split = tmp_path / "split"
    first, resumed = stop_then_resume(uninterrupted, split, "--send-signal", signal_name)
    assert first.returncode == 0, first.stderr[-3000:]  # a stop ends the run normally
    assert "start afresh" not in resumed.stderr
    for r in (0, 1):
        a, b = load_file(f"{uninterrupted[1]}.rank{r}.safetensors"), load_file(f"{split}.rank{r}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), f"rank {r} differs"


def test_a_run_whose_rank_was_killed_resumes_from_the_survivors_checkpoint_and_says_what_differs(
    uninterrupted, tmp_path
):
    """Rank 1 killed outright after step 5: rank 0 keeps step 5 in a checkpoint of its own, which
    cannot hold rank 1's random streams; the resume continues from it, says that rank 1's streams
    start afresh (so the run is not bit for bit an uninterrupted one's), and the ranks stay in step."""
    split = tmp_path / "split"
    first, resumed = stop_then_resume(uninterrupted, split, "--send-signal", "SIGKILL", "--signal-rank", "1")
    assert first.returncode != 0
    assert "the checkpoint lacks the random streams of rank(s) 1 (a rank that lost its peers wrote it alone): the " \
           "random streams start afresh" in " ".join(resumed.stderr.split())  # fmt: skip
    assert_ranks_agree(split)
    assert load_checkpoint(list_checkpoints(split / "checkpoints")[-1]).state["step"] == 8


def two_nodes(*args: str, timeout: float = 300) -> list[subprocess.CompletedProcess]:
    """Run ``args`` as two torchrun "nodes" of one process each, meeting through the c10d
    rendezvous on loopback (as two machines would through the first one's address)."""
    with socket.socket() as probe:  # a free port for the rendezvous
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc_per_node=1",
            "--rdzv_backend=c10d", f"--rdzv_endpoint=127.0.0.1:{port}", "--rdzv_id=ganfw-test"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([*node, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]  # fmt: skip
    return [subprocess.CompletedProcess(p.args, p.wait(timeout), *p.communicate()) for p in procs]


def test_two_nodes_on_loopback_train_as_one_node_of_two_processes(uninterrupted):
    """Two torchrun "nodes" of one process each end with the weights of one node of two processes
    (the stop-and-resume tests' uninterrupted run), write one run directory once, and free their
    process groups."""
    recipe, one_node = uninterrupted
    two = one_node.parent / "two-nodes"
    for proc in two_nodes(str(WORKER), str(recipe), str(two), *STOPPED_SETS):
        assert proc.returncode == 0, proc.stderr[-3000:]
    assert_ranks_agree(two)
    for r in (0, 1):
        a, b = load_file(f"{one_node}.rank{r}.safetensors"), load_file(f"{two}.rank{r}.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a), f"rank {r} differs"
    # one run directory, written once: rank 0's node writes, the other reads nothing back
    assert json.loads(Path(f"{two}.rank0.saves.json").read_text()) == [2, 4, 6, 8]
    assert not Path(f"{two}.rank1.saves.json").exists()
    records = (two / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(r)["epoch"] for r in records if '"event": "epoch"' in r] == [1, 2]


def test_accumulated_steps_keep_the_ranks_in_step(recipe, tmp_path):
    """``train.accumulate = 2`` under torchrun: each rank sums two micro-batches' gradients and DDP
    all-reduces them once, after the second; every rank ends with the same weights."""
    out = tmp_path / "run"
    proc = torchrun(str(WORKER), str(recipe()), str(out), "--set", "train.accumulate=2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_ranks_agree(out)


def test_a_distributed_evaluation_scores_as_one_process_does(unconditional_run, reference_cache, tmp_path):
    """Each of two ranks draws and embeds its share of the same seeded images; rank 0 puts them
    back in order and scores them: the scores equal one process's, up to float rounding."""
    worker = Path(__file__).parents[1] / "helpers" / "ddp_eval_worker.py"
    checkpoint = next((unconditional_run / "checkpoints").iterdir())
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    alone = subprocess.run([sys.executable, str(worker), str(checkpoint), str(tmp_path / "alone.json")],
                           capture_output=True, text=True, env=env, timeout=240)  # fmt: skip
    assert alone.returncode == 0, alone.stderr[-3000:]
    shared = torchrun(str(worker), str(checkpoint), str(tmp_path / "shared.json"))
    assert shared.returncode == 0, shared.stderr[-3000:]
    one, two = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("alone", "shared"))
    assert (one.pop("world"), two.pop("world")) == (1, 2)
    one, two = one["scores"], two["scores"]
    assert one.keys() == two.keys() == {"fid", "kid", "kid_std"}
    for key in one:
        assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-6), key
