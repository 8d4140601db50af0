"""Contract checks for callbacks: a scripted run over probe networks, interrupted halfway and
resumed from a checkpoint as the engine does it."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganfw.checkpoint import load_checkpoint, save_checkpoint
from ganfw.contracts import Callback, Decision, Generator, ImageShape, StepReport
from ganfw.testing.contract import ContractError, check_log, check_tensor, expect, through_json
from ganfw.testing.probes import PROBE_LATENT_DIM, FakeTrainerView, ProbeDiscriminator, ProbeGenerator
from ganfw.testing.schedules import step_report

#: The scripted run: epochs of this many steps; the checkpoint is taken after the first epoch.
_STEPS_PER_EPOCH, _EPOCHS = 4, 2


def check_callback(callback: Callback, image_shape: ImageShape = (1, 28, 28)) -> None:
    """Check a built callback on a scripted two-epoch run over probe networks (a
    :class:`~ganfw.testing.probes.FakeTrainerView`; the networks' weights move before each step as
    an optimiser would move them).

    * it is a :class:`ganfw.contracts.Callback`; every hook runs in the engine's order (``setup``,
      ``on_run_start``, ``on_step_end`` and ``on_log`` (a one-step log line) after each step, the
      epoch's and evaluation's ``on_log``, ``on_evaluation`` and ``on_epoch_end`` after each epoch,
      ``on_run_end``), and leaves the networks' weights and train mode and torch's
      global random state as it found them (the view is read-only; randomness belongs inside
      ``torch.random.fork_rng``);
    * ``modules()`` is a dict of ``nn.Module`` by name (no ``.`` in a name);
      ``sampling_generator()`` is ``None`` or one of ``modules()`` with G's architecture (its
      class and state_dict keys and shapes) giving images of G's shape;
    * ``log()`` is a dict of finite numbers; ``state_dict()`` survives JSON;
    * a run checkpointed after the first epoch (``modules()`` through safetensors, the state
      through JSON) and resumed into a fresh callback (``setup``, then the loaded state, then
      ``on_run_start``) ends exactly as the uninterrupted run: the same modules' tensors, state,
      log, sampling generator, stop requests and warnings.
    """
    expect(isinstance(callback, Callback), f"is a {type(callback).__name__}, not a ganfw.contracts.Callback")
    with tempfile.TemporaryDirectory() as tmp:
        whole, whole_view = copy.deepcopy(callback), _view(image_shape, Path(tmp) / "whole")
        _start(whole, whole_view, None)
        _run(whole, whole_view, range(_STEPS_PER_EPOCH))
        checkpoint = Path(tmp) / "checkpoint.safetensors"
        _save(whole, whole_view, checkpoint)
        stops_before, warnings_before = len(whole_view.stops), len(whole_view.warnings)
        _run(whole, whole_view, range(_STEPS_PER_EPOCH, _STEPS_PER_EPOCH * _EPOCHS))
        _call(whole, "on_run_end", whole_view)

        resumed, view = copy.deepcopy(callback), _view(image_shape, Path(tmp) / "resumed")
        _start(resumed, view, checkpoint)
        _run(resumed, view, range(_STEPS_PER_EPOCH, _STEPS_PER_EPOCH * _EPOCHS))
        _call(resumed, "on_run_end", view)
    expect(
        all(isinstance(reason, str) for reason in whole_view.stops),
        f"request_stop() got {whole_view.stops!r}, not strings",
    )
    expect(
        view.stops == whole_view.stops[stops_before:],
        f"a run resumed from a checkpoint after the first epoch requests stops {view.stops!r}, "
        f"not {whole_view.stops[stops_before:]!r}",
    )
    expect(
        all(isinstance(code, str) and isinstance(text, str) for code, text in whole_view.warnings),
        f"warn() got {whole_view.warnings!r}, not strings",
    )
    expect(
        view.warnings == whole_view.warnings[warnings_before:],
        f"a run resumed from a checkpoint after the first epoch warns {view.warnings!r}, "
        f"not {whole_view.warnings[warnings_before:]!r}",
    )
    _check_same_ending(whole, whole_view, resumed, view)


def _view(image_shape: ImageShape, run_dir: Path) -> FakeTrainerView:
    run_dir.mkdir()
    view = FakeTrainerView(
        ProbeGenerator(image_shape), ProbeDiscriminator(image_shape), run_dir, _STEPS_PER_EPOCH, _EPOCHS
    )
    view.generator.train(), view.discriminator.train()
    return view


def _call(callback: Callback, hook: str, view: FakeTrainerView, *args: Any) -> None:
    """``callback.<hook>(view, *args)``, checking what it must leave alone."""
    networks = (view.generator, view.discriminator)
    weights = [[t.clone() for t in net.state_dict().values()] for net in networks]
    rng = torch.get_rng_state()
    getattr(callback, hook)(view, *args)
    expect(
        torch.equal(torch.get_rng_state(), rng),
        f"{hook}() changed torch's global random state (draw randomness inside torch.random.fork_rng)",
    )
    expect(all(net.training for net in networks), f"{hook}() left a network in eval mode")
    for net, before in zip(networks, weights):
        after = list(net.state_dict().values())
        expect(
            all(torch.equal(a, b) for a, b in zip(after, before)),
            f"{hook}() changed the {type(net).__name__}'s weights (the view is read-only)",
        )


def _start(callback: Callback, view: FakeTrainerView, checkpoint: Path | None) -> None:
    """``setup``, the checkpoint's state when resuming (networks, modules, JSON state, counters),
    then ``on_run_start``; ``modules()`` and ``sampling_generator()`` checked after ``setup``."""
    _call(callback, "setup", view)
    modules = _modules(callback)
    _sampler_images(callback, view)
    if checkpoint is not None:
        saved = load_checkpoint(checkpoint)
        for name, module in _saved_modules(view, modules).items():
            module.load_state_dict(saved.module_state(name))
        callback.load_state_dict(saved.state["callback"])
        view.step, view.epoch, view.scores = saved.state["step"], saved.state["epoch"], saved.state["scores"]
    _call(callback, "on_run_start", view)


def _run(callback: Callback, view: FakeTrainerView, steps: range) -> None:
    """Each step: move the weights as an optimiser would, then the step's and epoch's hooks."""
    for step in steps:
        with torch.no_grad():
            for i, p in enumerate([*view.generator.parameters(), *view.discriminator.parameters()]):
                p.add_(0.01 * torch.sin(torch.arange(p.numel(), dtype=p.dtype) + step + i).view_as(p))
        view.step = step + 1
        report = step_report(step, 0.5, Decision(True, True))
        _call(callback, "on_step_end", view, report)
        check_log(f"callback, step {step}", callback.log())
        _log(callback, view, _log_line(report, view))
        if view.step % view.steps_per_epoch == 0:
            view.epoch += 1
            _log(callback, view, {"event": "epoch", "epoch": view.epoch, "step": view.step})
            with torch.no_grad():  # the epoch's grid (4, C, H, W)
                z = torch.randn(4, PROBE_LATENT_DIM, generator=torch.Generator().manual_seed(0))
                view.latest_samples = view.generator(z)
            view.scores = {"fid": 100.0 / view.epoch}
            _log(
                callback,
                view,
                {
                    "event": "eval",
                    "epoch": view.epoch,
                    "step": view.step,
                    **{f"eval/{k}": v for k, v in view.scores.items()},
                },
            )
            _call(callback, "on_evaluation", view, dict(view.scores))
            _call(callback, "on_epoch_end", view)


def _log(callback: Callback, view: FakeTrainerView, record: dict[str, Any]) -> None:
    """Append ``record`` to the run directory's ``metrics.jsonl``, then ``on_log``, as the loop does."""
    with open(Path(view.run_dir) / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    _call(callback, "on_log", view, record)


def _log_line(report: StepReport, view: FakeTrainerView) -> dict[str, Any]:
    """The ``metrics.jsonl`` line of a one-step log window (``output.log_every = 1``)."""
    values = {k: float(getattr(report, k)) for k in ("d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake")}
    return {
        "step": view.step,
        "epoch": view.epoch + 1,
        **values,
        "d_acc": (report.acc_real + report.acc_fake) / 2,
        "stepped_d": float(report.trained_d),
        "stepped_g": float(report.trained_g),
        "images_per_s": 1000.0,
        "lr_g": 2e-4,
        "lr_d": 2e-4,
        **report.terms,
    }


def _modules(callback: Callback) -> dict[str, nn.Module]:
    modules = callback.modules()
    expect(isinstance(modules, dict), f"modules() returned {type(modules).__name__}, not a dict")
    for name, module in modules.items():
        expect(isinstance(name, str) and name and "." not in name, f"modules() has a name {name!r} (empty or with '.')")
        expect(isinstance(module, nn.Module), f"modules()[{name!r}] is a {type(module).__name__}, not an nn.Module")
    return modules


def _saved_modules(view: FakeTrainerView, modules: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """The modules a checkpoint holds, by tensor prefix: the networks and the callback's."""
    return {
        "generator": view.generator,
        "discriminator": view.discriminator,
        **{f"callback.{name}": module for name, module in modules.items()},
    }


def _save(callback: Callback, view: FakeTrainerView, path: Path) -> None:
    """What the engine's checkpoint keeps: the networks, ``modules()`` and the JSON state."""
    state = {
        "callback": through_json("callback", callback.state_dict()),
        "step": view.step,
        "epoch": view.epoch,
        "scores": view.scores,
    }
    try:
        save_checkpoint(path, _saved_modules(view, _modules(callback)), {}, {}, state)
    except Exception as e:  # safetensors refuses some state (non-tensor values, shared storage, ...)
        raise ContractError(f"modules() cannot be saved as safetensors: {type(e).__name__}: {e}") from None


def _sampler_images(callback: Callback, view: FakeTrainerView) -> Tensor | None:
    """The images of ``sampling_generator()`` from fixed noise (eval mode), or ``None``."""
    sampler = callback.sampling_generator()
    if sampler is None:
        return None
    g = view.generator
    expect(
        isinstance(sampler, Generator) and type(sampler) is type(g),
        f"sampling_generator() is a {type(sampler).__name__}, not a {type(g).__name__} like the generator",
    )
    expect(
        any(module is sampler for module in callback.modules().values()),
        "sampling_generator() is not one of modules(), so checkpoints would not keep it (ganfw sample would use G)",
    )
    shapes = {k: tuple(v.shape) for k, v in sampler.state_dict().items()}
    expect(
        shapes == {k: tuple(v.shape) for k, v in g.state_dict().items()},
        "sampling_generator() has another architecture than the generator (state_dict keys or shapes differ)",
    )
    z = torch.randn(3, PROBE_LATENT_DIM, generator=torch.Generator().manual_seed(2))
    mode = sampler.training
    sampler.eval()
    with torch.no_grad():
        images = sampler(z)
    sampler.train(mode)
    check_tensor("sampling_generator()(z)", images, (3, *g.image_shape), dtype=torch.float32, low=-1.0, high=1.0)
    return images


def _check_same_ending(whole: Callback, whole_view: FakeTrainerView, resumed: Callback, view: FakeTrainerView) -> None:
    what = "a run resumed from a checkpoint after the first epoch ends with other"
    expect(resumed.state_dict() == whole.state_dict(), f"{what} state_dict()")
    expect(resumed.log() == whole.log(), f"{what} log()")
    mine, theirs = _modules(resumed), _modules(whole)
    expect(mine.keys() == theirs.keys(), f"{what} modules(): {sorted(mine)}, not {sorted(theirs)}")
    for name in mine:
        a, b = mine[name].state_dict(), theirs[name].state_dict()
        expect(
            a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), f"{what} tensors in modules()[{name!r}]"
        )
    images, expected = _sampler_images(resumed, view), _sampler_images(whole, whole_view)
    expect(
        (images is None and expected is None)
        or (images is not None and expected is not None and torch.equal(images, expected)),
        f"{what} images from sampling_generator()",
    )
