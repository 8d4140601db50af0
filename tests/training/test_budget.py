"""``train.budget``: training to a deadline - the run stops once its training time is spent, the
learning rates anneal to the deadline rather than to ``train.epochs``, the last (partial) epoch
is evaluated and the best checkpoint kept."""

from __future__ import annotations

import json
import tomllib

import pytest

from ganfw.checkpoint import load_checkpoint
from ganfw.config import budget_seconds
from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.recipe import load_recipe
from ganfw.rundir import locks_released
from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe


@pytest.mark.parametrize(
    "text, seconds", [("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0), ("2.5m", 150.0), ("1h", 3600.0), ("", None)]
)
def test_a_budget_reads_as_hours_minutes_and_seconds(text, seconds):
    assert budget_seconds(text) == seconds


@pytest.mark.parametrize("text", ["10", "m", "0s", "10 minutes", "1m1h", "-5s"])
def test_a_budget_that_is_no_duration_is_one_line_naming_the_key(tmp_path, text):
    path = tiny_recipe(tmp_path / "r.toml", tmp_path, train={"budget": text})
    with pytest.raises(
        UserError, match=rf"^{path}: train.budget: '.+' is (not a duration such as 90s, 10m or 1h30m|no time at all)$"
    ):
        load_recipe(path, load_registry())


def test_a_run_to_a_deadline_stops_evaluates_anneals_and_keeps_its_best(tmp_path, capsys, mnist_root, reference_cache):
    """100 epochs would take minutes; a 3 s budget stops the run mid-epoch, evaluates that partial
    epoch, keeps the best checkpoint by FID, and the cosine schedule anneals towards the deadline.
    The budget comes from ``ganfw run --budget``, which the run's recipe.toml keeps."""
    recipe = tiny_recipe(
        tmp_path / "r.toml", mnist_root, data={"limit": 256}, train={"epochs": 100, "budget": "1h", "batch_size": 16},
        lr_schedule={"name": "cosine"}, eval={"every": 1, "n": 100, "metrics": ["fid"]},
        output={"log_every": 4, "samples": 4, "gif": False},
    )  # fmt: skip
    run = tmp_path / "run"
    with locks_released():
        code, _, err = cli(capsys, "run", str(recipe), "--out", str(run), "--quiet", "--budget", "3s")
    assert code == 0, err
    assert tomllib.loads((run / "recipe.toml").read_text())["train"]["budget"] == "3s"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (stop,) = [r for r in records if r.get("event") == "stop"]
    assert stop["reason"] == "the training budget of 3s is spent" and stop["step"] < 100 * 16
    epochs = [r for r in records if r.get("event") == "epoch"]
    assert epochs[-1]["step"] == stop["step"] and epochs[-1]["elapsed_s"] < 3 + 2  # the epoch's end follows the stop
    evals = [r for r in records if r.get("event") == "eval"]
    assert evals[-1]["step"] == stop["step"]  # the last, partial epoch is evaluated
    best = load_checkpoint(run / "checkpoints" / "best.safetensors").state["best"]
    assert best["score"] == "fid" and best["value"] == pytest.approx(min(r["eval/fid"] for r in evals), abs=1e-5)
    lrs = [r["lr_g"] for r in records if "lr_g" in r]
    assert lrs[-1] < 0.6 * lrs[0]  # annealed towards the deadline: 100 epochs would have kept it near the top


def test_a_budget_option_that_is_no_duration_is_one_line_and_no_run(tmp_path, capsys, mnist_root):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, data={"limit": 64})
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(tmp_path / "run"), "--budget", "10 minutes")
    assert code == 2 and err.count("\n") == 1, err
    assert "train.budget (from --set train.budget=\"10 minutes\"): '10 minutes' is not a duration such as 90s" in err
    assert not (tmp_path / "run").exists()
