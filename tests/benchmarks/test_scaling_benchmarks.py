"""The scaling benchmarks run (their ``--smoke`` modes, as a user runs them): the distributed
evaluation's timing (benchmarks/distributed_eval.py) and the GPU check (benchmarks/gpu_check.py),
whose CPU fallback says which checks need CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.benchmarks import NUMBER, matching, one, run_benchmark

pytestmark = [pytest.mark.slow, pytest.mark.distributed]


def test_distributed_eval_times_one_process_against_two(mnist_root: Path, reference_cache: Path, tmp_path: Path):
    lines = run_benchmark("distributed_eval.py", "--data", str(mnist_root), cwd=tmp_path)
    fids = one(lines, rf"images: 200, FID ({NUMBER}) alone, ({NUMBER}) shared")
    assert float(fids.group(1)) == pytest.approx(float(fids.group(2)), rel=1e-4)  # the same score either way
    alone = float(one(lines, rf"1 process: ({NUMBER}) s").group(1))
    shared = float(one(lines, rf"2 processes: ({NUMBER}) s").group(1))
    # the ratio of the unrounded times: within what rounding each to 0.01 s (and it to 0.01) allows
    speedup, half = float(one(lines, rf"speedup: ({NUMBER})").group(1)), 0.005
    assert (alone - half) / (shared + half) - half <= speedup <= (alone + half) / (shared - half) + half


def test_the_gpu_check_runs_on_the_cpu_and_says_what_needs_cuda(
    mnist_root: Path, reference_cache: Path, tmp_path: Path
):
    lines = run_benchmark("gpu_check.py", "--data", str(mnist_root), cwd=tmp_path)
    checks = {m.group(1): m.group(2) for m in matching(lines, r"check (\w+): (ok|skipped|FAILED) \([\d.]+ s\): .+")}
    assert checks == {"device": "ok", "step": "ok", "quick": "ok", "ranks": "skipped", "resume": "ok"}, lines
    one(lines, r"check device: ok \(.+\): device cpu, \d+ threads?, precision auto -> (fp32|bf16): .+")
    one(lines, rf"check step: ok \(.+\): the course's step, ganfw against the plain loop: {NUMBER}x")
    one(lines, r"check ranks: skipped \(.+\): needs CUDA \(two processes on nccl\)")
    one(lines, r"check resume: ok \(.+\): 2 epochs straight = 1 \+ resume \+ 1, bit for bit \(\d+ tensors\)")
    assert lines[-1] == "checks failed: 0"
