"""Every script in benchmarks/ runs: its ``--smoke`` mode (the real measurement's code path on
tiny data, a few seconds), started as a user starts it (``python benchmarks/X.py --smoke ...``
in a subprocess, ``OMP_NUM_THREADS=1``), prints the lines the docs show (docs/speed.md,
docs/techniques.md, docs/metrics.md, docs/reliability.md). A refactor that breaks a benchmark
fails here. The numbers of a smoke run mean nothing; what is checked is that they are there and
agree with each other.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ganfw import api
from tests.helpers.benchmarks import NUMBER, matching, one, run_benchmark, tables
from tests.helpers.cli import RECIPES
from tests.helpers.data import read_idx_images

pytestmark = pytest.mark.slow


def write_anchors(folder: Path, mnist_root: Path, epochs: tuple[int, ...], n: int) -> Path:
    """``seed_epochNN.npy`` files of the anchors' format, (n, 28, 28) uint8: real digits, a
    different slice of MNIST's training split for each epoch."""
    digits = read_idx_images(mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte", n * len(epochs))
    folder.mkdir()
    for i, epoch in enumerate(epochs):
        np.save(folder / f"seed_epoch{epoch:02d}.npy", digits[i * n : (i + 1) * n])
    return folder


def test_train_step_prints_the_speed_lines_of_docs_speed(mnist_root: Path, tmp_path: Path) -> None:
    lines = run_benchmark(
        "train_step.py", "--data", str(mnist_root), "--lever", "train.channels_last=false", cwd=tmp_path
    )
    assert lines[0].startswith("machine: ") and " threads" in lines[0]
    one(
        lines,
        r"device: cpu, batch 16, 1 rounds x 1 steps, ganfw options: train.precision=auto "
        r"train.channels_last=true; precision auto -> (fp32|bf16): .+",
    )
    median = {}
    for side in ("plain", "ganfw"):
        m = one(lines, rf" *{side}: median +({NUMBER}) ms/step +({NUMBER}) images/s +peak memory +(\d+) MiB")
        median[side] = float(m[1])
        assert float(m[2]) == pytest.approx(16 / median[side] * 1e3, rel=0.01)
        assert int(m[3]) > 100  # torch alone takes more: a fresh process's real peak
    lever = one(lines, rf"  lever: ganfw train.channels_last=false: median +({NUMBER}) ms/step, .+")
    assert float(lever[1]) > 0
    flops = one(lines, rf"FLOPs per step: ({NUMBER}) GFLOP; ganfw achieves ({NUMBER}) GFLOP/s")
    # docs/speed.md: 115.63 GFLOP at batch 256; the step's arithmetic is linear in the batch
    assert float(flops[1]) * 256 / 16 == pytest.approx(115.63, rel=0.01)
    assert matching(lines, rf"  = {NUMBER}% of the estimated .+ peak of {NUMBER} GFLOP/s")
    speedup = one(lines, rf"speedup: ({NUMBER})")
    assert lines[-1] == speedup[0]
    assert float(speedup[1]) == pytest.approx(median["plain"] / median["ganfw"], abs=0.01)


def test_memory_prints_the_peaks_and_their_ratio(mnist_root: Path, tmp_path: Path) -> None:
    lines = run_benchmark("memory.py", cwd=tmp_path, env={"GANFW_DATA": str(mnist_root)})
    assert lines[0].startswith(f"{RECIPES / 'mnist_dcgan.toml'}: loaded, peak RSS ")
    # 64 images at batch 16: 4 steps an epoch; the warm-up ends with the first epoch past its 2
    # steps, and 2 + 4 steps take 2 whole epochs
    one(lines, rf"after 4 warm-up steps: peak RSS {NUMBER} MiB, now {NUMBER} MiB")
    one(lines, rf"after 4 more steps: peak RSS {NUMBER} MiB, now {NUMBER} MiB")
    last = one(lines, rf"peak RSS after warm-up ({NUMBER}) MiB, at the end ({NUMBER}) MiB: ratio ({NUMBER})")
    assert lines[-1] == last[0]
    warm, end = float(last[1]), float(last[2])
    assert end >= warm > 100
    assert float(last[3]) == pytest.approx(end / warm, abs=0.01)


@pytest.mark.usefixtures("reference_cache")
def test_metric_floors_prints_the_tables_of_docs_metrics(mnist_root: Path, tmp_path: Path) -> None:
    anchors = write_anchors(tmp_path / "anchors", mnist_root, (1, 50), n=200)
    lines = run_benchmark("metric_floors.py", "--data", str(mnist_root), "--anchors", str(anchors), cwd=tmp_path)
    assert lines[0] == "## Floors and ceilings (mnist)"
    floors, *anchor_tables = tables(lines)
    assert [row[:2] for row in floors] == [
        ["mnist train, first 200", "200"],
        ["mnist train, next 200", "200"],
        ["mnist train, first 50", "50"],
        ["uniform noise", "200"],
        ["uniform noise", "50"],
        ["Gaussian blobs", "200"],
        ["Gaussian blobs", "50"],
    ]
    fid = {row[0] + " " + row[1]: float(row[2]) for row in floors}
    assert fid["mnist train, first 200 200"] < 10 < fid["Gaussian blobs 200"] < fid["uniform noise 200"]
    spread = one(lines, rf"FID at 50: mean ({NUMBER}), std {NUMBER}, min ({NUMBER}), max ({NUMBER})")
    assert float(spread[2]) <= float(spread[1]) <= float(spread[3])
    assert "## Anchors (the course's recipe), 200 samples" in lines
    assert "## Anchors, first 50 samples (what training-time evaluation sees with [eval] n = 50)" in lines
    assert [[row[0] for row in rows] for rows in anchor_tables] == [["seed_epoch01", "seed_epoch50"]] * 2


@pytest.mark.usefixtures("reference_cache")
def test_techniques_trains_scores_and_tabulates_each_variant(mnist_root: Path, tmp_path: Path) -> None:
    recipe, runs = RECIPES / "mnist_quick.toml", tmp_path / "runs"
    variant = 'ema=callbacks=[{name="ema"}];train.batch_size=64'
    lines = run_benchmark(
        "techniques.py", str(recipe), "--data", str(mnist_root), "--variant", variant, "--runs", str(runs), cwd=tmp_path
    )
    assert lines[0].startswith("# machine: ")
    one(lines, rf"# {re.escape(str(recipe))}, 1 epochs per variant, scored on 200 samples")
    one(lines, r"# ema: 4 steps, \d+ s: \{'fid': .+\}")  # 256 images at batch 64
    one(lines, r"\| variant \| steps \| training s \| fid \| precision \| recall \| density \| coverage \|")
    assert [row[:2] for row in tables(lines)[0]] == [["ema", "4"]]
    kept = (runs / "ema" / "recipe.toml").read_text()
    assert 'name = "ema"' in kept and "limit = 256" in kept
    assert list((runs / "ema" / "checkpoints").glob("*.safetensors"))


@pytest.mark.usefixtures("reference_cache")
def test_time_to_quality_trains_to_a_budget_and_scores_runs_and_anchors(mnist_root: Path, tmp_path: Path) -> None:
    """A recipe trained by the benchmark to a budget of 4 s, a finished run and two anchors."""
    anchors = write_anchors(tmp_path / "anchors", mnist_root, (1, 40), n=200)
    small = {"data.limit": 256, "data.root": str(mnist_root), "eval.n": 50}
    fixed = {"train.epochs": 2, "train.budget": ""}  # two epochs, not the recipe's 15 s: its newest checkpoint
    finished = api.train(api.load_recipe("mnist_quick", small | fixed), out=tmp_path / "run")
    small["train.epochs"] = 1000  # the budget ends it
    plot = tmp_path / "plot" / "fid.png"
    sets = [arg for key, value in small.items() for arg in ("--set", f"{key}={value}")]
    lines = run_benchmark(
        "time_to_quality.py",
        *("--data", str(mnist_root), "--budget", "4s", "--recipe", "mnist_quick", *sets),
        *("--out", str(tmp_path / "runs"), "--run", f"quick={finished.path}", "--anchors", str(anchors)),
        *("--plot", str(plot)),
        cwd=tmp_path,
    )
    assert lines[0].startswith("machine: ")
    assert lines[1].startswith("| recipe | machine | precision | epochs | training time | eval n | FID at the end |")
    trained, quick, anchor = tables(lines)[0]
    assert [trained[0], trained[5], trained[7], quick[0], quick[3], quick[7]] == [
        "mnist_quick",
        "50",
        "best",
        "quick",
        "2",
        "newest",
    ]  # a 4 s budget has no 1-minute mark
    assert anchor[:5] == [
        "mnist_dcgan_seed (anchor, epoch 40)",
        "AMX (the course's machine)",
        "fp32",
        "40",
        "109 min 54 s",
    ]
    budgeted = api.Run(tmp_path / "runs" / "mnist_quick")
    assert budgeted.metrics("stop")[-1]["reason"] == "the training budget of 4s is spent"
    assert float(trained[6]) == pytest.approx(budgeted.metrics("eval")[-1]["eval/fid"], abs=0.005)  # the deadline's
    assert float(quick[6]) == pytest.approx(finished.metrics("eval")[-1]["eval/fid"], abs=0.005)
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
