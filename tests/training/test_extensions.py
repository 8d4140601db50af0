"""The engine's v2 extension points end to end on a slice of real MNIST: callbacks (EMA, early
stopping, the documented hook order), augmentation, a lazy penalty around a relativistic loss, a
learning-rate schedule, conditional models - and exact resume with all of them on."""

from __future__ import annotations

import importlib
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganfw import engine
from ganfw.checkpoint import list_checkpoints, load_checkpoint
from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from ganfw.sampling import load_generator
from tests.helpers.recipes import tiny_recipe

#: Every extension point at once: EMA, DiffAugment, lazy R1 around RaGAN, a cosine lr schedule,
#: evaluation on. 3 steps an epoch.
EVERYTHING = {
    "loss": {"name": "r1", "params": {"base": {"name": "relativistic"}, "gamma": 1.0, "every": 2}},
    "augment": {"name": "diffaugment", "params": {"policy": ["translation", "cutout"]}},
    "lr_schedule": {"name": "cosine", "params": {"warmup": 2, "final": 0.1}},
    "callbacks": [{"name": "ema", "params": {"decay": 0.9}}],
    "data": {"limit": 96},
    "train": {"epochs": 2, "seed": 5},
    "output": {"log_every": 1},
    "eval": {"every": 1, "n": 100, "metrics": ["fid"]},
}


def train(recipe_path: Path, out: Path, *overrides: str, resume: bool = False) -> bool:
    recipe = load_recipe(recipe_path, load_registry(), list(overrides))
    return engine.train(recipe, RunDir(out), PlainReporter(), resume)


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def newest(run: Path) -> Path:
    return list_checkpoints(run / "checkpoints")[-1]


@pytest.fixture
def everything(tmp_path, mnist_root):
    return tiny_recipe(tmp_path / "everything.toml", mnist_root, **EVERYTHING)


def test_a_run_with_every_extension_resumes_bit_exactly_after_a_kill_mid_epoch(
    everything, tmp_path, monkeypatch, reference_cache
):
    assert train(everything, tmp_path / "straight")
    original = engine.Trainer._train_step

    def ctrl_c_at_step_4(self, batch):
        report = original(self, batch)
        if self.step == 4:  # mid-epoch 2: EMA, augmentation RNG, penalty phase, lr all in flight
            os.kill(os.getpid(), signal.SIGINT)
        return report

    monkeypatch.setattr(engine.Trainer, "_train_step", ctrl_c_at_step_4)
    assert train(everything, tmp_path / "split") is False
    monkeypatch.setattr(engine.Trainer, "_train_step", original)
    assert train(everything, tmp_path / "split", resume=True)

    straight, split = load_file(str(newest(tmp_path / "straight"))), load_file(str(newest(tmp_path / "split")))
    assert straight.keys() == split.keys()
    assert any(k.startswith("callbacks.ema.generator.") for k in straight)
    for key in straight:
        assert torch.equal(straight[key], split[key]), key
    evals = [
        [r["eval/fid"] for r in records(run) if r.get("event") == "eval"]
        for run in (tmp_path / "straight", tmp_path / "split")
    ]
    assert evals[0] == evals[1] and len(evals[0]) == 2


def test_sampling_and_evaluation_use_the_ema_generator(everything, tmp_path, reference_cache):
    run = tmp_path / "run"
    assert train(everything, run, "train.epochs=1")
    ckpt = load_checkpoint(newest(run))
    assert ckpt.state["sampler"] == "callbacks.ema.generator"
    ema = {
        k[len("callbacks.ema.generator.") :]: v
        for k, v in ckpt.tensors.items()
        if k.startswith("callbacks.ema.generator.")
    }
    raw = {k[len("generator.") :]: v for k, v in ckpt.tensors.items() if k.startswith("generator.")}
    assert any(not torch.equal(ema[k], raw[k]) for k in raw if raw[k].is_floating_point())
    sampled = load_generator(run, load_registry()).state_dict()
    for key, value in sampled.items():
        assert torch.equal(value, ema[key]), key


def test_named_terms_penalties_and_learning_rates_are_logged(everything, tmp_path):
    run = tmp_path / "run"
    assert train(everything, run, "eval.every=0")
    steps = [r for r in records(run) if "event" not in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    assert all("d/real" in r and "d/fake" in r for r in steps)
    assert [("penalty/r1" in r) for r in steps] == [True, False] * 3  # lazy: steps 0, 2, 4
    assert all(r["penalty/r1"] > 0 for r in steps if "penalty/r1" in r)
    lr = [r["lr_g"] / 2e-4 for r in steps]
    assert lr[:3] == pytest.approx([0.5, 1.0, 1.0])  # linear warm-up over 2 steps, then the cosine
    assert lr[5] == pytest.approx(0.1) and lr[2] > lr[3] > lr[4] > lr[5]


def test_early_stopping_ends_the_run_after_its_patience(tmp_path, mnist_root, reference_cache):
    recipe = tiny_recipe(
        tmp_path / "r.toml",
        mnist_root,
        data={"limit": 96},
        train={"epochs": 6},
        eval={"every": 1, "n": 100, "metrics": ["fid"]},
        callbacks=[{"name": "early-stopping", "params": {"patience": 1, "min_delta": 1e6}}],
    )
    run = tmp_path / "run"
    assert train(recipe, run) is True
    events = [r for r in records(run) if r.get("event")]
    assert [r["epoch"] for r in events if r["event"] == "eval"] == [1, 2]
    (stop,) = [r for r in events if r["event"] == "stop"]
    assert stop["step"] == 6 and "fid" in stop["reason"]
    assert load_checkpoint(newest(run)).state["parts"]["callbacks.early-stopping"]  # its state is checkpointed


def test_a_conditional_run_draws_one_column_per_class(tmp_path, mnist_root):
    recipe = tiny_recipe(
        tmp_path / "c.toml",
        mnist_root,
        data={"limit": 96},
        output={"samples": 100},
        generator={"name": "cmlp", "params": {"latent_dim": 8, "hidden": [16]}},
        discriminator={"name": "cmlp", "params": {"hidden": [16]}},
    )
    run = tmp_path / "run"
    assert train(recipe, run)
    ckpt = load_checkpoint(newest(run))
    assert ckpt.state["num_classes"] == 10 and ckpt.state["class_names"] == [str(d) for d in range(10)]
    assert torch.equal(ckpt.tensors["extra.fixed_labels"], torch.arange(100) % 10)
    assert (run / "samples" / "image_at_epoch_0001.png").exists()


RECORDER = """
from ganfw import ComponentSpec, hookimpl

GANFW_API = 2


@hookimpl
def ganfw_callbacks():
    return [ComponentSpec(name="recorder", kind="callback", summary="writes each hook it sees",
                          factory="recorder_parts:Recorder")]
"""

RECORDER_PARTS = """
import os
from ganfw.contracts import Callback


class Recorder(Callback):
    def __init__(self, params):
        self.path = os.environ["RECORDER_LOG"]

    def _write(self, text):
        with open(self.path, "a") as f:
            f.write(text + "\\n")

    def setup(self, view):
        self._write(f"setup {view.step} {view.total_steps}")

    def on_run_start(self, view):
        self._write(f"on_run_start {view.step}")

    def on_step_end(self, view, report):
        self._write(f"on_step_end {view.step} {report.step}")

    def on_evaluation(self, view, scores):
        self._write(f"on_evaluation {view.epoch} {sorted(scores)}")

    def on_epoch_end(self, view):
        self._write(f"on_epoch_end {view.epoch}")
        if view.epoch == 1:
            view.request_stop("enough")

    def on_run_end(self, view):
        self._write(f"on_run_end {view.step}")
"""


def test_callback_hooks_run_in_the_documented_order(site, tmp_path, mnist_root, monkeypatch, reference_cache):
    site.add(
        "ganfw-recorder",
        "1.0",
        {"recorder_plugin": RECORDER, "recorder_parts": RECORDER_PARTS},
        {"recorder": "recorder_plugin"},
    )
    importlib.invalidate_caches()
    log = tmp_path / "hooks.txt"
    monkeypatch.setenv("RECORDER_LOG", str(log))
    recipe = tiny_recipe(
        tmp_path / "r.toml",
        mnist_root,
        data={"limit": 96},
        train={"epochs": 3},
        eval={"every": 1, "n": 100, "metrics": ["fid"]},
        callbacks=[{"name": "recorder"}],
    )
    run = tmp_path / "run"
    assert train(recipe, run)
    assert log.read_text().splitlines() == [
        "setup 0 9",
        "on_run_start 0",
        "on_step_end 1 0",
        "on_step_end 2 1",
        "on_step_end 3 2",
        "on_evaluation 1 ['fid']",
        "on_epoch_end 1",
        "on_run_end 3",
    ]
    assert [r["reason"] for r in records(run) if r.get("event") == "stop"] == ["enough"]


def pictures(folder: Path, per_class: int = 24) -> Path:
    """Two class sub-folders of random 20x20 RGB PNGs."""
    from PIL import Image

    rng = torch.Generator().manual_seed(0)
    for cls in ("a", "b"):
        (folder / cls).mkdir(parents=True)
        for i in range(per_class):
            pixels = (torch.rand(20, 20, 3, generator=rng) * 255).to(torch.uint8).numpy()
            Image.fromarray(pixels).save(folder / cls / f"{i}.png")
    return folder


@pytest.mark.parametrize(
    "features, why",
    [
        ("judge", r"no judge for the dataset 'image-folder-"),
        (
            "auto",
            r"Inception weights are not on this machine \(GANFW_OFFLINE=1\): .*weights-inception-2015-12-05-6726825d.pth",
        ),
    ],
)
def test_a_dataset_evaluation_cannot_score_is_refused_before_training(
    tmp_path, mnist_root, reference_cache, monkeypatch, features, why
):
    """An unlabelled folder has no judge: scored in the judge's features it is refused; by default
    (``auto``) it is scored in Inception's, whose weights this offline machine lacks."""
    monkeypatch.setenv("GANFW_OFFLINE", "1")
    data = {"name": "image-folder", "params": {"path": str(pictures(tmp_path / "pics")), "image_size": 16}}
    recipe = tiny_recipe(
        tmp_path / "r.toml",
        mnist_root,
        data=data,
        eval={"every": 1, "n": 20, "metrics": ["fid"], "features": features},
        generator={"name": "mlp", "params": {"latent_dim": 8, "hidden": [16]}},
        discriminator={"name": "mlp", "params": {"hidden": [16]}},
    )
    with pytest.raises(UserError, match=r"\[eval\] cannot score this run .*" + why):
        train(recipe, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the first step: nothing written


def test_a_streamed_folder_trains_exactly_as_the_same_folder_held_in_memory(tmp_path, mnist_root):
    """data.stream = "always" (DataLoader workers, decoded on access) visits the same batches in
    the same order as the in-memory path: the weights after a resumed run agree bit for bit."""
    data = {
        "name": "image-folder",
        "params": {"path": str(pictures(tmp_path / "pics")), "image_size": 16, "held_out": 0.0},
    }
    recipe = tiny_recipe(
        tmp_path / "r.toml",
        mnist_root,
        data=data,
        train={"epochs": 2, "batch_size": 16},
        generator={"name": "cmlp", "params": {"latent_dim": 8, "hidden": [16]}},
        discriminator={"name": "cmlp", "params": {"hidden": [16]}},
    )
    assert train(recipe, tmp_path / "memory", "data.stream=never")
    assert train(recipe, tmp_path / "streamed", "data.stream=always", "train.epochs=1")
    assert train(recipe, tmp_path / "streamed", "data.stream=always", resume=True)
    a, b = load_file(str(newest(tmp_path / "memory"))), load_file(str(newest(tmp_path / "streamed")))
    assert load_checkpoint(newest(tmp_path / "memory")).state["step"] == 6
    for key in a:
        assert torch.equal(a[key], b[key]), key
