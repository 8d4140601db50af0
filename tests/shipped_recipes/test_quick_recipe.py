"""recipes/mnist_quick.toml as users run it: its own settings, precision auto, [eval] on."""

from __future__ import annotations

import json

import torch

from ganfw import precision
from ganfw.plugins import load_registry
from ganfw.precision import resolve_precision
from ganfw.recipe import load_recipe
from tests.helpers.cli import RECIPES, cli

RECIPE = RECIPES / "mnist_quick.toml"


def test_the_quick_recipe_is_a_narrow_least_squares_mlp_gan_of_15_seconds_on_all_of_mnist():
    recipe = load_recipe(RECIPE, load_registry())
    assert recipe.generator.ref == recipe.discriminator.ref == "mlp" and recipe.loss.ref == "least-squares"
    assert recipe.generator.params.hidden == [128, 256, 384] and recipe.discriminator.params.hidden == [256, 256, 128]
    train = recipe.train
    assert (train.budget, train.epochs, train.batch_size, train.precision) == ("15s", 8, 128, "auto")
    assert [c.ref for c in recipe.callbacks] == ["ema"]  # grids and evaluation sample the EMA
    assert recipe.data_limit is None and recipe.eval.every == 1  # the whole training split, scored every epoch


def test_the_quick_recipe_trains_with_its_defaults(tmp_path, mnist_root, reference_cache, capsys, monkeypatch):
    # The precision probe (where the CPU's flags leave bf16 open) reads as a quiet machine's: the
    # run and the comparison below then resolve "auto" alike, however busy this machine is.
    monkeypatch.setattr(precision, "_measure", lambda device, dtype: precision.Probe(1.5))
    out = tmp_path / "run"
    code, _, err = cli(
        capsys,
        "run",
        str(RECIPE),
        "--out",
        str(out),
        "--quiet",
        "--set",
        f"data.root={json.dumps(str(mnist_root))}",
        "--set",
        "data.limit=1024",
        "--set",
        "train.epochs=2",
    )
    assert code == 0, err
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["precision"] == resolve_precision("auto", torch.device("cpu")).name
    assert [r["epoch"] for r in records if r.get("event") == "eval"] == [1, 2]
    assert all(0 < r["eval/fid"] < 400 for r in records if r.get("event") == "eval")
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["image_at_epoch_0001.png", "image_at_epoch_0002.png"]
    assert (out / "training.gif").is_file() and (out / "checkpoints" / "step_00000016.safetensors").is_file()
