"""``[output] keep_best``: the checkpoint of the best evaluation so far, kept as
checkpoints/best.safetensors across pruning and resumes, read by ``ganfw sample/evaluate RUN --best``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganfw.checkpoint import list_checkpoints, load_checkpoint
from ganfw.rundir import locks_released
from ganfw.training.best import BestCheckpoint
from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe


def test_the_best_is_the_lowest_distance_or_the_highest_other_score():
    fid = BestCheckpoint("fid")
    assert [fid.consider({"fid": v}, step) for step, v in enumerate([30.0, 20.0, 25.0, 20.0, 10.0])] == [
        True, True, False, False, True,
    ]  # fmt: skip
    assert (fid.value, fid.step) == (10.0, 4)
    recall = BestCheckpoint("recall")
    assert [recall.consider({"recall": v}, step) for step, v in enumerate([0.2, 0.1, 0.3])] == [True, False, True]
    assert not BestCheckpoint("fid").consider({"fid": float("nan")}, 0)


def test_a_score_the_evaluation_does_not_give_is_one_line():
    with pytest.raises(
        Exception, match=r"^output.keep_best = 'fdi' is not a score of this run's \[eval\] \(it gives: fid, kid\)$"
    ):
        BestCheckpoint("fdi").consider({"fid": 1.0, "kid": 0.1}, 0)


def test_a_run_keeps_its_best_checkpoint_and_sample_and_evaluate_read_it(tmp_path, capsys, mnist_root, reference_cache):
    recipe = tiny_recipe(
        tmp_path / "r.toml", mnist_root, train={"epochs": 3},
        output={"keep_best": "fid", "keep_checkpoints": 1, "samples": 4, "gif": False},
        eval={"every": 1, "n": 100, "metrics": ["fid"]},
    )  # fmt: skip
    run = tmp_path / "run"
    with locks_released():
        code, _, err = cli(capsys, "run", str(recipe), "--out", str(run), "--quiet")
    assert code == 0, err
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line]
    fids = {r["step"]: r["eval/fid"] for r in evals}
    best_step = min(fids, key=fids.get)
    best = load_checkpoint(run / "checkpoints" / "best.safetensors")
    assert best.state["step"] == best_step and best.state["best"]["value"] == pytest.approx(fids[best_step], abs=1e-5)
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step_00000006.safetensors"]  # pruned; best kept
    for name, args in (("best", ("--best",)), ("file", ())):
        target = str(run) if args else str(run / "checkpoints" / "best.safetensors")
        code, _, err = cli(capsys, "sample", target, *args, "--n", "4", "--out", str(tmp_path / f"{name}.npy"))
        assert code == 0, err
    assert np.array_equal(np.load(tmp_path / "best.npy"), np.load(tmp_path / "file.npy"))
    code, _, err = cli(capsys, "evaluate", str(run), "--best", "--n", "100", "--bootstrap", "0", "-m", "fid")
    assert code == 0, err


def test_best_without_a_best_checkpoint_is_one_line(tmp_path, capsys):
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    code, _, err = cli(capsys, "sample", str(tmp_path / "run"), "--best", "--out", str(tmp_path / "x.png"))
    assert code == 2 and err.count("\n") == 1 and "no best checkpoint" in err and "keep_best" in err
