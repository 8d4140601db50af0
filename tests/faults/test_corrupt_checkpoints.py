"""Fault injection (issues 11 and 19), corrupted checkpoints: ``ganfw sample`` and ``ganfw evaluate`` refuse each
with one line naming the file; ``--resume`` falls back to the previous intact checkpoint and says so, also when
what is wrong only the optimiser would notice (a missing Adam moment)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ganfw import engine
from ganfw.checkpoint import checkpoint_name, list_checkpoints, load_training_checkpoint
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.helpers.cli import cli
from tests.helpers.recipes import tiny_recipe

Tensors = dict[str, torch.Tensor]


def rewrite(path: Path, change: Callable[[Tensors, dict], None]) -> None:
    """Rewrite checkpoint ``path`` as valid safetensors after ``change(tensors, state)``."""
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
        state = json.loads(f.metadata()["ganfw"])
    change(tensors, state)
    save_file(tensors, str(path), metadata={"ganfw": json.dumps(state)})


def nan_weights(t: Tensors, s: dict) -> None:
    key = next(k for k in t if k.startswith("generator.") and k.endswith("weight"))
    t[key] = torch.full_like(t[key], float("nan"))


def missing_tensor(t: Tensors, s: dict) -> None:
    del t[next(k for k in t if k.startswith("generator."))]


def wrong_shape(t: Tensors, s: dict) -> None:
    key = next(k for k in t if k.startswith("generator.") and k.endswith("weight"))
    t[key] = torch.zeros(3, 3)


def step_a_string(t: Tensors, s: dict) -> None:
    s["step"] = "four"


def recipe_not_toml(t: Tensors, s: dict) -> None:
    s["recipe"] = "[generator\nname = "


def missing_adam_moment(t: Tensors, s: dict) -> None:
    del t["optim.discriminator.0.exp_avg"]


def adam_moment_a_scalar(t: Tensors, s: dict) -> None:
    t["optim.generator.1.exp_avg_sq"] = torch.zeros(())


CORRUPTIONS = {
    "nan-weights": (nan_weights, "non-finite"),
    "missing-tensor": (missing_tensor, "lacks generator."),
    "wrong-shape": (wrong_shape, "(3, 3)"),
    "metadata-not-an-object": (None, "not an object"),
    "metadata-wrong-type": (step_a_string, "'step' is str"),
    "recipe-not-toml": (recipe_not_toml, "not TOML"),
    "truncated": (None, "not a readable ganfw checkpoint"),
    "random-bytes": (None, "not a readable ganfw checkpoint"),
}


#: What only the optimiser reads: sampling and evaluation never notice, a resume must.
OPTIMIZER_CORRUPTIONS = {
    "missing-adam-moment": (missing_adam_moment, "it lacks optim.discriminator.0.exp_avg"),
    "adam-moment-a-scalar": (adam_moment_a_scalar, "optim.generator.1.exp_avg_sq does not match"),
}
EVERY_CORRUPTION = {**CORRUPTIONS, **OPTIMIZER_CORRUPTIONS}


def corrupt(path: Path, kind: str) -> None:
    if kind == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif kind == "random-bytes":
        path.write_bytes(
            torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
            .numpy()
            .tobytes()
        )
    elif kind == "metadata-not-an-object":
        rewrite_raw(path, "[1, 2, 3]")
    else:
        rewrite(path, EVERY_CORRUPTION[kind][0])


def rewrite_raw(path: Path, metadata: str) -> None:
    with safe_open(str(path), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    save_file(tensors, str(path), metadata={"ganfw": metadata})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_root):
    """A finished 2-epoch run of the tiny recipe (checkpoints at steps 2 and 4) and its recipe."""
    base = tmp_path_factory.mktemp("trained")
    recipe = tiny_recipe(base / "r.toml", mnist_root, train={"epochs": 2})
    engine.train(load_recipe(recipe, load_registry()), RunDir(base / "run"), PlainReporter(), resume=False)
    return base / "run", recipe


@pytest.fixture
def broken(trained, tmp_path, request):
    """A copy of the trained run whose newest checkpoint suffered ``request.param``."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    newest = run / "checkpoints" / checkpoint_name(4)
    corrupt(newest, request.param)
    return run, newest, trained[1], EVERY_CORRUPTION[request.param][1]


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    (line,) = [x for x in stderr.splitlines() if x.startswith("error:")]
    return line


@pytest.mark.parametrize("broken", list(CORRUPTIONS), indirect=True)
def test_sample_and_evaluate_refuse_a_corrupt_checkpoint(broken, capsys, reference_cache):
    run, newest, _, reason = broken
    for args in (
        ["sample", str(newest), "--n", "4", "--out", str(run / "x.npy")],
        ["evaluate", str(run), "--n", "20", "--metrics", "fid"],
    ):
        code, _, err = cli(capsys, *args)
        assert code == 2, err
        line = one_error_line(err)
        assert str(newest) in line and reason in line, line
    assert not (run / "x.npy").exists()


@pytest.mark.parametrize("broken", list(EVERY_CORRUPTION), indirect=True)
def test_resume_falls_back_to_the_previous_checkpoint(broken, capsys):
    run, newest, recipe, reason = broken
    resumed = load_recipe(recipe, load_registry(), ["train.epochs=3"])
    assert engine.train(resumed, RunDir(run), PlainReporter(), resume=True)
    err = capsys.readouterr().err
    assert f"warning: {newest}" in err and reason in err and "falling back to" in err
    assert "resuming from" in err and checkpoint_name(2) in err
    # epoch 2 trained again from step 2; the corrupt file replaced by an intact one
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == [checkpoint_name(4), checkpoint_name(6)]
    load_training_checkpoint(run / "checkpoints" / checkpoint_name(4))


def test_finite_weights_that_generate_nan_are_refused_when_sampled(trained, tmp_path, capsys, reference_cache):
    """A negative batch-norm running variance passes the load checks (every value is finite) but
    makes the generator draw NaN in eval mode: sampling and evaluation say so in one line."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    newest = run / "checkpoints" / checkpoint_name(4)

    def negative_variance(t: Tensors, s: dict) -> None:
        key = next(k for k in t if k.startswith("generator.") and k.endswith("running_var"))
        t[key] = -torch.ones_like(t[key])

    rewrite(newest, negative_variance)
    for args, n in (
        (["sample", str(newest), "--n", "4", "--out", str(run / "x.npy")], 4),
        (["evaluate", str(run), "--n", "20", "--metrics", "fid"], 20),
    ):
        code, _, err = cli(capsys, *args)
        assert code == 2, err
        line = one_error_line(err)
        assert str(newest) in line and f"non-finite values (NaN or inf) in {n} of {n} images" in line, line
    assert not (run / "x.npy").exists()
