"""recipes/mnist_10m.toml, fashion_10m.toml and mnist_cond_10m.toml as users run them - their own
settings (precision auto, the EMA by half-life, the learning rates decaying to the deadline,
[eval] on) - on a slice of the real data, with ``ganfw run --budget`` cutting their 10 minutes to
seconds."""

from __future__ import annotations

import json

import pytest

from ganfw.checkpoint import load_checkpoint
from tests.helpers.cli import RECIPES, cli

#: recipe -> (its dataset's fixture, the scores its evaluation records)
DEADLINE_RECIPES = {
    "mnist_10m": ("mnist_root", {"eval/fid"}),
    "fashion_10m": ("fashion_mnist_root", {"eval/fid", "eval/conditional_accuracy", "eval/recall"}),
    "mnist_cond_10m": ("mnist_root", {"eval/fid", "eval/conditional_accuracy", "eval/recall"}),
}


@pytest.mark.parametrize("name", sorted(DEADLINE_RECIPES))
def test_a_deadline_recipe_stops_at_its_budget_evaluated_annealed_and_keeps_its_best(
    name, tmp_path, capsys, monkeypatch, request
):
    fixture, scores = DEADLINE_RECIPES[name]
    root = request.getfixturevalue(fixture)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # its judge's reference, embedded once
    run = tmp_path / "run"
    overrides = [f"data.root={json.dumps(str(root))}", "data.limit=1024", "eval.n=200"]
    args = [a for o in overrides for a in ("--set", o)]
    code, _, err = cli(
        capsys, "run", str(RECIPES / f"{name}.toml"), "--out", str(run), "--quiet", "--budget", "3s", *args
    )
    assert code == 0, err
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    (stop,) = [r for r in records if r.get("event") == "stop"]
    assert stop["reason"] == "the training budget of 3s is spent"
    evals = [r for r in records if r.get("event") == "eval"]
    assert evals[-1]["step"] == stop["step"] and scores <= evals[-1].keys()  # the deadline's partial epoch
    best = load_checkpoint(run / "checkpoints" / "best.safetensors").state["best"]
    assert best["score"] == "fid"
    lrs = [r["lr_g"] for r in records if "lr_g" in r]
    assert lrs[-1] < lrs[0]  # decaying towards the deadline, not towards 1,000 epochs
