"""The TensorBoard callback (plugin ``tensorboard``), checked by reading its event files back:
on a stand-in trainer view, through a real ``ganfw run`` with ``[output] tensorboard = true``,
and without the optional package."""

from __future__ import annotations

import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ganfw.errors import UserError
from ganfw.rundir import read_metrics
from ganfw_plugins.tensorboard import TensorBoardParams, ganfw_callbacks
from ganfw_plugins.tensorboard.callback import TensorBoardLogger
from ganfw_plugins.tensorboard.records import scalars
from tests.helpers.cli import RECIPES, run_cli

RECIPE = {"generator": {"name": "mlp", "params": {"hidden": [8, 16]}}, "train": {"epochs": 2}}

WINDOW = {
    "step": 10,
    "epoch": 1,
    "d_loss": 1.25,
    "g_loss": 0.75,
    "d_real": 0.6,
    "d_fake": 0.4,
    "acc_real": 0.7,
    "acc_fake": 0.65,
    "stepped_d": 1.0,
    "stepped_g": 0.5,
    "images_per_s": 900.0,
    "d_acc": 0.675,
    "lr_g": 0.001,
    "lr_d": 0.0002,
    "d/real": 0.5,
    "penalty/r1": 0.125,
    "d_steps": 2.0,
    "ema/decay": 0.999,
}
EPOCH = {"event": "epoch", "epoch": 1, "step": 20, "seconds": 3.5, "elapsed_s": 4.0, "images_per_s": 800.0}
EVAL = {"event": "eval", "epoch": 1, "step": 20, "n": 100, "protocol": {"dataset": "mnist"}, "eval/fid": 42.5}
WARNING = {
    "event": "warning",
    "step": 20,
    "epoch": 1,
    "source": "health",
    "code": "d-winning",
    "message": "D has been right about 99% of images; try a lower D learning rate",
}


@dataclass
class View:
    """The part of a :class:`ganfw.contracts.TrainerView` that the callback reads."""

    run_dir: Path | None
    step: int = 0
    is_main: bool = True
    recipe: dict = field(default_factory=lambda: RECIPE)
    latest_samples: torch.Tensor | None = None


def events(log_dir: Path):
    """Everything written under ``log_dir``, nothing sampled away."""
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def texts(acc, tag: str) -> list[str]:
    return [e.tensor_proto.string_val[0].decode() for e in acc.Tensors(f"{tag}/text_summary")]


def recipe_in(text: str) -> dict:
    """The TOML inside the recipe text's code fence."""
    return tomllib.loads(re.fullmatch(r"```toml\n(.*)```", text, re.S).group(1))


def assert_scalars_match(acc, records: list[dict]) -> None:
    """Every number :func:`scalars` takes from the records is in the event files, at the
    record's step, and nothing else is."""
    expected: dict[str, dict[int, float]] = {}
    for record in records:
        for tag, value in scalars(record).items():
            expected.setdefault(tag, {})[record["step"]] = value
    assert sorted(acc.Tags()["scalars"]) == sorted(expected)
    for tag, by_step in expected.items():
        written = {e.step: e.value for e in acc.Scalars(tag)}
        assert written == pytest.approx(by_step, rel=1e-6, nan_ok=True), tag


def test_the_plugin_declares_the_callback():
    (spec,) = ganfw_callbacks()
    assert (spec.name, spec.kind, spec.params) == ("tensorboard", "callback", TensorBoardParams)
    assert spec.load_factory() is TensorBoardLogger


def test_records_become_tagged_scalars():
    assert scalars(WINDOW) == {
        "loss/d_loss": 1.25,
        "loss/g_loss": 0.75,
        "D/d_real": 0.6,
        "D/d_fake": 0.4,
        "D/acc_real": 0.7,
        "D/acc_fake": 0.65,
        "D/d_acc": 0.675,
        "schedule/stepped_d": 1.0,
        "schedule/stepped_g": 0.5,
        "speed/images_per_s": 900.0,
        "lr/lr_g": 0.001,
        "lr/lr_d": 0.0002,
        "loss/d/real": 0.5,
        "penalty/r1": 0.125,
        "schedule/d_steps": 2.0,
        "ema/decay": 0.999,
    }
    assert scalars(EPOCH) == {"epoch/seconds": 3.5, "epoch/elapsed_s": 4.0, "epoch/images_per_s": 800.0}
    assert scalars(EVAL) == {"eval/fid": 42.5}
    assert scalars(WARNING) == scalars({"event": "stop", "step": 3, "reason": "early stopping"}) == {}


def test_the_loss_terms_join_the_losses_not_a_group_beside_d():
    """TensorBoard groups tags by their first part: ``d/real`` made a group ``d`` beside ``D``."""
    tags = scalars({**WINDOW, "g/fake": 0.25, "g/path_length": 0.5})
    assert (tags["loss/d/real"], tags["loss/g/fake"], tags["loss/g/path_length"]) == (0.5, 0.25, 0.5)
    groups = {tag.split("/")[0] for tag in tags}
    assert groups == {"loss", "D", "schedule", "speed", "lr", "penalty", "ema"}
    assert len({group.lower() for group in groups}) == len(groups)


def test_the_callback_writes_scalars_grids_recipe_and_warnings(tmp_path):
    view, logger = View(tmp_path), TensorBoardLogger(TensorBoardParams())
    logger.on_run_start(view)
    records = [WINDOW, {**WINDOW, "step": 20, "d_loss": float("nan")}, EPOCH, EVAL, WARNING]
    for record in records:
        logger.on_log(view, record)
    for step in (20, 40):
        view.step, view.latest_samples = step, torch.rand(9, 1, 28, 28) * 2 - 1  # a 3 x 3 grid
        logger.on_epoch_end(view)
    logger.on_run_end(view)

    acc = events(tmp_path / "tensorboard")
    assert_scalars_match(acc, records)
    images = acc.Images("samples")
    assert [(i.step, i.width, i.height) for i in images] == [(20, 92, 92), (40, 92, 92)]  # 3 * (28 + 2) + 2
    (recipe,) = texts(acc, "recipe")
    assert recipe_in(recipe) == RECIPE
    assert texts(acc, "warnings") == ["**d-winning** (epoch 1, health): " + WARNING["message"]]


def test_a_shared_log_dir_gets_a_folder_per_run(tmp_path):
    logger = TensorBoardLogger(TensorBoardParams(log_dir=str(tmp_path / "tb")))
    view = View(tmp_path / "runs" / "mnist-0001")
    logger.on_log(view, WINDOW)
    logger.on_run_end(view)
    assert events(tmp_path / "tb" / "mnist-0001").Scalars("loss/d_loss")[0].value == 1.25


def test_other_ranks_write_nothing(tmp_path):
    view, logger = View(None, is_main=False), TensorBoardLogger(TensorBoardParams())
    logger.on_run_start(view)
    logger.on_log(view, WINDOW)
    view.latest_samples = torch.zeros(4, 1, 28, 28)
    logger.on_epoch_end(view)
    logger.on_run_end(view)
    assert logger.writer is None and not any(tmp_path.iterdir())


def test_a_resumed_run_replaces_the_events_past_its_checkpoint(tmp_path):
    first, view = TensorBoardLogger(TensorBoardParams()), View(tmp_path)
    first.on_run_start(view)
    for step in (10, 20, 30):  # killed after step 30; the checkpoint is at step 20
        first.on_log(view, {**WINDOW, "step": step, "d_loss": float(step)})
    first.on_run_end(view)
    resumed, view = TensorBoardLogger(TensorBoardParams()), View(tmp_path, step=20)
    resumed.on_run_start(view)
    resumed.on_log(view, {**WINDOW, "step": 30, "d_loss": 3.0})
    resumed.on_run_end(view)
    acc = events(tmp_path / "tensorboard")
    assert [(e.step, e.value) for e in acc.Scalars("loss/d_loss")] == [(10, 10.0), (20, 20.0), (30, 3.0)]


def test_without_the_package_the_callback_is_one_user_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with pytest.raises(UserError, match=re.escape('pip install "ganfw[tensorboard]"')):
        TensorBoardLogger(TensorBoardParams())


def quick_run(out: Path, *extra: str, data: Path, pythonpath: str | None = None):
    """``ganfw run recipes/mnist_quick.toml --set output.tensorboard=true`` on 512 digits."""
    return run_cli(
        "run",
        str(RECIPES / "mnist_quick.toml"),
        "--set",
        "output.tensorboard=true",
        "--set",
        "train.epochs=2",
        "--set",
        "data.limit=512",
        "--set",
        "eval.n=100",
        "--out",
        str(out),
        "--quiet",
        *extra,
        pythonpath=pythonpath,
        env={"GANFW_DATA": str(data), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    )


def test_a_run_with_the_switch_writes_what_metrics_jsonl_holds(tmp_path, mnist_root, reference_cache):
    out = tmp_path / "run"
    result = quick_run(out, data=mnist_root)
    assert result.returncode == 0, result.both
    acc = events(out / "tensorboard")
    records = read_metrics(out / "metrics.jsonl")
    assert_scalars_match(acc, records)
    assert {
        "loss/d_loss",
        "loss/g_loss",
        "D/d_real",
        "D/acc_fake",
        "lr/lr_g",
        "schedule/stepped_d",
        "eval/fid",
        "epoch/seconds",
    } <= set(acc.Tags()["scalars"])
    epoch_ends = [r["step"] for r in records if r.get("event") == "epoch"]
    assert epoch_ends == [4, 8]
    # 16 grid images of 28 x 28: 4 a row, 2 white pixels around each
    assert [(i.step, i.width, i.height) for i in acc.Images("samples")] == [(4, 122, 122), (8, 122, 122)]
    (recipe,) = texts(acc, "recipe")
    assert recipe_in(recipe)["generator"]["name"] == "mlp"
    assert recipe_in(recipe) == tomllib.loads((out / "recipe.toml").read_text())


def test_asking_for_it_without_the_package_is_one_line(tmp_path, mnist_root):
    blocked = tmp_path / "site" / "tensorboard"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text(  # shadows the installed package, failing as a missing one does
        'raise ModuleNotFoundError("No module named \'tensorboard\'", name="tensorboard")\n'
    )
    result = quick_run(tmp_path / "run", data=mnist_root, pythonpath=str(tmp_path / "site"))
    assert result.returncode == 2, result.both
    lines = result.stderr.strip().splitlines()  # after the "run directory:" line
    assert (
        [line for line in lines if line.startswith("error:")]
        == lines[-1:]
        == [
            'error: TensorBoard logging ([output] tensorboard, or the callback "tensorboard") needs the package '
            'tensorboard: pip install "ganfw[tensorboard]"'
        ]
    ), result.both
    assert "Traceback" not in result.both and not (tmp_path / "run" / "tensorboard").exists()
