"""Persisting a run: what a checkpoint holds, writing one, and resuming from one bit for bit.

A checkpoint (see :mod:`ganfw.checkpoint`) holds G and D (``generator.*``, ``discriminator.*``),
each callback's modules under its part's key (``callbacks.ema.generator.*``), the optimisers,
every rank's random streams and the fixed sample noise and labels (``extra.*``,
:mod:`ganfw.training.streams`); its JSON state holds the counters, the state of every stateful
part by key (``"parts": {"loss": ..., "schedule": ..., "callbacks.ema": ..., "observers.health":
...}``), the steps of the current log window, the loss scalers, the recipe, the world size, and
``sampler``: the prefix of the generator that grids, evaluation and ``ganfw sample`` use.
Checkpoints of format 2 (callbacks by position) are read through
:mod:`ganfw.training.old_checkpoints`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganfw.checkpoint import (
    Checkpoint,
    CorruptCheckpoint,
    check_optimizer,
    checkpoint_name,
    list_checkpoints,
    load_module,
    load_training_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from ganfw.distributed import Ranks
from ganfw.errors import UserError
from ganfw.recipe import Recipe
from ganfw.rundir import RunDir
from ganfw.training import streams as rng
from ganfw.training.best import BestCheckpoint
from ganfw.training.old_checkpoints import upgrade
from ganfw.training.parts import Parts
from ganfw.training.records import Window
from ganfw.training.streams import Streams
from ganfw.training.update import Optimizers
from ganfw.training.view import Clock

#: Recipe entries a resumed run must share with its checkpoint (everything that shapes the
#: weights, the optimiser state or the order of the data).
RESUME_FIXED = [
    ("generator",), ("discriminator",), ("loss",), ("schedule",), ("lr_schedule",), ("augment",), ("callbacks",),
    ("data",), ("optim",), ("train", "batch_size"), ("train", "drop_last"), ("train", "seed"), ("output", "samples"),
]  # fmt: skip


class RunState:
    """Saves and restores everything the run needs to continue exactly: the parts, optimisers,
    streams, the clock and the open log window."""

    def __init__(self, recipe: Recipe, run: RunDir, ranks: Ranks, device: torch.device, parts: Parts,
                 opt: Optimizers, streams: Streams, precision: str):  # fmt: skip
        self.recipe, self.run, self.ranks, self.device = recipe, run, ranks, device
        self.parts, self.opt, self.streams, self.precision = parts, opt, streams, precision
        self.saved_step: int | None = None  # the step of the last checkpoint written or loaded
        self._saved_streams: list[rng.RankStates] = []  # every rank's, at saved_step
        # A run to a deadline keeps its best FID's checkpoint unless the recipe names another score.
        keep = recipe.output.keep_best or ("fid" if recipe.train.budget and "fid" in recipe.eval.metrics else "")
        self.best = BestCheckpoint(keep) if keep and recipe.eval.metrics else None

    def modules(self) -> dict[str, nn.Module]:
        """Every module a checkpoint holds, by prefix."""
        modules: dict[str, nn.Module] = {"generator": self.parts.G, "discriminator": self.parts.D}
        for part in self.parts.callbacks:
            modules.update({f"{part.key}.{name}": module for name, module in part.call("modules").items()})
        return modules

    def sampler_prefix(self) -> str:
        """The checkpoint prefix of :meth:`Parts.sampler`'s weights (one of the modules saved;
        ``"generator"`` when it is G, or not a module a callback saves)."""
        sampler = self.parts.sampler()
        return next((prefix for prefix, module in self.modules().items() if module is sampler), "generator")

    def save(self, clock: Clock, window: Window, force: bool = False, together: bool = True) -> Path:
        """Checkpoint the current step (rank 0 writes; every rank returns the path). ``force``
        rewrites a checkpoint of this step (state that changed after it, e.g. at evaluation).
        ``together``: every rank calls this now (their streams are gathered); a rank saving alone
        (after a failure) keeps the streams gathered at this step, or its own."""
        path = self.run.checkpoints / checkpoint_name(clock.step)
        if self.saved_step == clock.step and not force:
            return path
        if together and self.saved_step != clock.step:
            self._saved_streams = rng.gather(rng.capture(self.streams, self.device), self.ranks)
        elif self.saved_step != clock.step:
            self._saved_streams = [rng.capture(self.streams, self.device)]
        self.saved_step = clock.step
        if self.ranks.is_main:
            optimizers = {"generator": self.opt.g, "discriminator": self.opt.d}
            save_checkpoint(path, self.modules(), optimizers, self._extra(), self._state(clock, window))
            prune_checkpoints(self.run.checkpoints, self.recipe.output.keep_checkpoints)
        return path

    def _state(self, clock: Clock, window: Window) -> dict[str, Any]:
        dataset = self.parts.dataset.obj
        return {
            "step": clock.step,
            "elapsed_s": clock.elapsed,
            "steps_per_epoch": clock.steps_per_epoch,
            "world": self.ranks.world,
            "image_shape": list(self.parts.G.image_shape),
            "num_classes": dataset.num_classes,
            "class_names": list(dataset.class_names),
            "precision": self.precision,
            "sampler": self.sampler_prefix(),
            "parts": {part.key: part.call("state_dict") for part in self.parts.stateful()},
            "log_window": window.state_dict(),
            "best": None if self.best is None else self.best.state_dict(),
            "scalers": {"generator": self.opt.scaler_g.state_dict(), "discriminator": self.opt.scaler_d.state_dict()},
            "updates": dict(self.opt.updates),
            "recipe": self.recipe.to_toml(),
        }

    def _extra(self) -> dict[str, torch.Tensor]:
        extra = {"fixed_z": self.streams.fixed_z, **rng.as_tensors(self._saved_streams)}
        if self.streams.fixed_labels is not None:
            extra["fixed_labels"] = self.streams.fixed_labels
        return extra

    # ------------------------------------------------------------------ resume
    def resume(self, clock: Clock, window: Window, say: Callable[[str], None]) -> Path:
        """Continue from the run directory's newest intact checkpoint; a corrupt one is reported
        through ``say`` and the previous one used."""
        candidates = list_checkpoints(self.run.checkpoints)[::-1]
        if not candidates:
            raise UserError(f"{self.run.path}: no checkpoint to resume from in {self.run.checkpoints}")
        for i, path in enumerate(candidates):
            try:
                self._restore(path, clock, window, say)
            except CorruptCheckpoint as e:
                fallback = f"falling back to {candidates[i + 1]}" if i + 1 < len(candidates) else "no older checkpoint"
                say(f"warning: {e}; {fallback}")
                continue
            self._check_epochs_left(path, clock)
            self.saved_step = clock.step
            self._saved_streams = rng.gather(rng.capture(self.streams, self.device), self.ranks)
            return path
        raise UserError(
            f"{self.run.checkpoints}: no intact checkpoint to resume from (all {len(candidates)} are corrupt)"
        )

    def _check_epochs_left(self, path: Path, clock: Clock) -> None:
        """Refuse a ``train.epochs`` that ends before the checkpoint's step."""
        if clock.step > clock.total_steps:
            epochs, spe = self.recipe.train.epochs, clock.steps_per_epoch
            raise UserError(
                f"{self.recipe.path}: train.epochs = {epochs} ends at step {clock.total_steps}, but {path} is "
                f"at step {clock.step}; set train.epochs to {math.ceil(clock.step / spe)} or more to continue"
            )

    def _restore(self, path: Path, clock: Clock, window: Window, say: Callable[[str], None]) -> None:
        """Load every part of the training state from checkpoint ``path``, checked."""
        ckpt = upgrade(load_training_checkpoint(path), self.parts)
        check_resumable(self.recipe, ckpt.recipe or {}, path)
        step = _step_here(ckpt, clock.steps_per_epoch, self.ranks.world, path)
        for prefix, module in self.modules().items():
            load_module(module, ckpt, prefix, path)
        try:
            self._restore_parts(ckpt, path)
            if ckpt.state["step"] == step:
                window.load_state_dict(ckpt.state.get("log_window") or Window().state_dict())
            if self.best is not None and ckpt.state.get("best"):
                self.best.load_state_dict(ckpt.state["best"])
            self._restore_streams(ckpt, step, say)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as e:
            raise CorruptCheckpoint(
                f"{path}: corrupt checkpoint: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
            ) from None
        clock.step, clock.elapsed = step, ckpt.state["elapsed_s"]

    def _restore_parts(self, ckpt: Checkpoint, path: Path) -> None:
        parts, state = self.parts, ckpt.state
        self.opt.g.load_state_dict(check_optimizer(ckpt, "generator", list(parts.G.parameters()), path))
        self.opt.d.load_state_dict(check_optimizer(ckpt, "discriminator", list(parts.D.parameters()), path))
        self.opt.scaler_g.load_state_dict(state["scalers"]["generator"])
        self.opt.scaler_d.load_state_dict(state["scalers"]["discriminator"])
        self.opt.updates = {"d": int(state["updates"]["d"]), "g": int(state["updates"]["g"])}
        saved = state["parts"]
        for part in parts.stateful():
            if part.key in saved:
                part.call("load_state_dict", saved[part.key])
            elif not part.key.startswith("observers."):  # an observer switched on since starts afresh
                raise KeyError(f"no state for {part.key}")

    def _streams_missing(self, ckpt: Checkpoint) -> str:
        """Why the checkpoint does not hold the streams of every rank of this run ("" when it does)."""
        world = ckpt.state.get("world", 1)
        if world != self.ranks.world:
            return f"resuming on {self.ranks.world} process(es) a checkpoint of {world}"
        missing = [str(r) for r in range(world) if rng.of_rank(ckpt.tensors, r) is None]
        if not missing:
            return ""
        ranks = ", ".join(missing)
        return f"the checkpoint lacks the random streams of rank(s) {ranks} (a rank that lost its peers wrote it alone)"

    def _restore_streams(self, ckpt: Checkpoint, step: int, say: Callable[[str], None]) -> None:
        """Each rank's random streams as saved, or fresh ones where the checkpoint has none for
        this rank (another world size, or a checkpoint a rank wrote alone after a failure: see
        :meth:`save`); the fixed sample noise (S, Z) and labels (S,)."""
        states = rng.of_rank(ckpt.tensors, self.ranks.rank)
        if states is not None and ckpt.state.get("world", 1) == self.ranks.world:
            rng.restore(states, self.streams, self.device)
        else:
            rng.reseed(self.recipe.train.seed, self.ranks, step, self.streams)
        missing = self._streams_missing(ckpt)
        if missing and self.ranks.is_main:
            say(f"{missing}: the random streams start afresh, so the run differs from an uninterrupted one from here")
        fixed_z = ckpt.tensors["extra.fixed_z"]
        if fixed_z.shape != self.streams.fixed_z.shape:
            raise ValueError(
                f"extra.fixed_z has shape {tuple(fixed_z.shape)}, expected {tuple(self.streams.fixed_z.shape)}"
            )
        self.streams.fixed_z = fixed_z.to(self.device)
        if self.streams.fixed_labels is not None:
            self.streams.fixed_labels = ckpt.tensors["extra.fixed_labels"].to(self.device)


def _step_here(ckpt: Checkpoint, steps_per_epoch: int, world: int, path: Path) -> int:
    """The checkpoint's step in this run's steps: the same, or scaled by images seen when the
    world size changed (each step then takes ``world`` batches instead of the saved number)."""
    saved_world, saved_spe, step = ckpt.state.get("world", 1), ckpt.state["steps_per_epoch"], ckpt.state["step"]
    if saved_world == world:
        if saved_spe != steps_per_epoch:
            raise UserError(
                f"{path}: the checkpoint has {saved_spe} steps per epoch, this recipe {steps_per_epoch} "
                "(did data.limit change?)"
            )
        return step
    return step * steps_per_epoch // saved_spe


def check_resumable(recipe: Recipe, saved: dict[str, Any], path: Path) -> None:
    """Refuse a recipe that differs from the checkpoint's in anything in :data:`RESUME_FIXED`
    (components compared by name, however the recipe qualifies it: ``ema`` or ``plugin:ema``)."""
    current = recipe.resolved()
    for key in RESUME_FIXED:
        a, b = _dig(saved, key), _dig(current, key)
        if _unqualified(a) != _unqualified(b):
            raise UserError(
                f"{path}: cannot resume with a different {'.'.join(key)} (checkpoint: {a!r}, recipe: {b!r})"
            )


def _unqualified(value: Any) -> Any:
    """``value`` with every component ``name`` stripped of its ``plugin:`` qualifier."""
    if isinstance(value, dict):
        return {
            k: v.rpartition(":")[2] if k == "name" and isinstance(v, str) else _unqualified(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_unqualified(v) for v in value]
    return value


def _dig(table: dict, key: tuple[str, ...]) -> Any:
    for part in key:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    return table
