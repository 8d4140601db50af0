"""The losses that read class labels (class-ce, mismatch) in a run, as users write them: each
term logged on a conditional MNIST slice, and a recipe whose D takes no labels refused before
training in one line."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe

#: loss -> (its params, the penalty terms it logs and a range each lies in on the first steps)
LABEL_LOSSES = {
    "class-ce": ({"base": "least-squares", "every": 1}, {"class_ce_d": (1.0, 4.0), "class_ce_g": (0.1, 0.4)}),
    "mismatch": ({"base": "least-squares", "every": 1}, {"mismatch": (0.0, 2.0)}),
}


@pytest.mark.parametrize("name", sorted(LABEL_LOSSES))
def test_a_label_loss_trains_a_conditional_pair_and_refuses_an_unconditional_d(name, tmp_path, mnist_root, capsys):
    params, ranges = LABEL_LOSSES[name]
    loss = {"name": name, "params": params}
    cond = {"generator": {"name": "cmlp", "params": {"hidden": [16]}}, "discriminator": {"name": "cmlp"}}
    recipe = tiny_recipe(tmp_path / "cond.toml", mnist_root, loss=loss, **cond)
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(tmp_path / "cond"), "--quiet")
    assert code == 0, err
    logged = [json.loads(line) for line in (tmp_path / "cond" / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in logged if "d_loss" in r]
    assert steps
    for term, (low, high) in ranges.items():
        assert all(low < r[f"penalty/{term}"] < high for r in steps), (term, steps)

    plain = tiny_recipe(tmp_path / "plain.toml", mnist_root, loss=loss)
    code, _, err = cli(capsys, "run", str(plain), "--out", str(tmp_path / "plain"), "--quiet")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    first = next(iter(ranges))
    assert err.startswith(f"error: {plain}: [loss] loss {name!r}") and f"penalty {first!r}, which reads class" in err
    assert not (tmp_path / "plain" / "checkpoints").exists()
