"""Persisting a run: what a checkpoint holds, writing one, and resuming from one bit for bit.

A checkpoint (see :mod:`ganfw.checkpoint`) holds G and D (``generator.*``, ``discriminator.*``),
each callback's modules (``callbacks.<i>.<name>.<module>.*``), the optimisers, the random streams
and the fixed sample noise and labels (``extra.*``); its JSON state holds the counters, the
state of the loss, schedule, augmentation and callbacks, the loss scalers, the recipe, and
``sampler``: the prefix of the generator that grids, evaluation and ``ganfw sample`` use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

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
from ganfw.training.blame import blame
from ganfw.training.components import Components
from ganfw.training.update import Optimizers

#: Recipe entries a resumed run must share with its checkpoint (everything that shapes the
#: weights, the optimiser state or the order of the data).
RESUME_FIXED = [
    ("generator",),
    ("discriminator",),
    ("loss",),
    ("schedule",),
    ("lr_schedule",),
    ("augment",),
    ("callbacks",),
    ("data",),
    ("optim",),
    ("train", "batch_size"),
    ("train", "drop_last"),
    ("train", "seed"),
    ("output", "samples"),
]


@dataclass
class Streams:
    """The run's random streams: ``noise`` draws z and fake labels; ``fixed_z`` (S, Z) and
    ``fixed_labels`` (S,) (or ``None``) are the grid's samples."""

    noise: torch.Generator
    fixed_z: Tensor
    fixed_labels: Tensor | None


@dataclass
class Progress:
    """Where the run is: ``step`` steps done; ``elapsed`` seconds of training over resumes."""

    step: int = 0
    elapsed: float = 0.0


def open_streams(recipe: Recipe, ranks: Ranks, device: torch.device, parts: Components) -> Streams:
    """Per-rank noise; the grid's fixed noise (S, Z) and labels (S,): column ``c`` of the square
    grid shows class ``c mod K``."""
    seed, rank = recipe.train.seed, ranks.rank
    if ranks.distributed:  # different dropout masks and noise on each rank
        torch.manual_seed(seed + rank)
    noise = torch.Generator(device).manual_seed(seed + 1 + 1000 * rank)
    fixed = torch.Generator(device).manual_seed(seed + 2)
    samples = recipe.output.samples
    with blame(recipe.generator, "sample_latent"):
        fixed_z = parts.G.sample_latent(samples, device=device, generator=fixed)
    labels = None
    if parts.conditional:
        labels = (torch.arange(samples, device=device) % math.isqrt(samples)) % parts.dataset.num_classes
    return Streams(noise, fixed_z, labels)


class RunState:
    """Saves and restores everything the run needs to continue exactly."""

    def __init__(
        self,
        recipe: Recipe,
        run: RunDir,
        ranks: Ranks,
        device: torch.device,
        parts: Components,
        opt: Optimizers,
        streams: Streams,
        precision: str,
        steps_per_epoch: int,
    ):
        self.recipe, self.run, self.ranks, self.device = recipe, run, ranks, device
        self.parts, self.opt, self.streams = parts, opt, streams
        self.precision, self.steps_per_epoch = precision, steps_per_epoch
        self.saved_step: int | None = None  # the step of the last checkpoint written or loaded

    def _modules(self) -> dict[str, nn.Module]:
        modules: dict[str, nn.Module] = {"generator": self.parts.G, "discriminator": self.parts.D}
        for i, (choice, callback) in enumerate(zip(self.recipe.callbacks, self.parts.callbacks)):
            for name, module in callback.modules().items():
                modules[f"callbacks.{i}.{choice.ref}.{name}"] = module
        return modules

    def sampler_prefix(self) -> str:
        """The checkpoint prefix of :meth:`Components.sampler`'s weights (one of the modules saved;
        ``"generator"`` when it is G, or not a module a callback saves)."""
        sampler = self.parts.sampler()
        return next((prefix for prefix, module in self._modules().items() if module is sampler), "generator")

    def save(self, progress: Progress, force: bool = False) -> Path:
        """Checkpoint the current step (rank 0 writes; every rank returns the path). ``force``
        rewrites a checkpoint of this step (state that changed after it, e.g. at evaluation)."""
        path = self.run.checkpoints / checkpoint_name(progress.step)
        if (self.saved_step == progress.step and not force) or not self.ranks.is_main:
            return path
        self.saved_step = progress.step
        parts = self.parts
        state = {
            "step": progress.step,
            "elapsed_s": progress.elapsed,
            "steps_per_epoch": self.steps_per_epoch,
            "image_shape": list(parts.G.image_shape),
            "num_classes": parts.dataset.num_classes,
            "class_names": list(parts.dataset.class_names),
            "precision": self.precision,
            "sampler": self.sampler_prefix(),
            "schedule": parts.schedule.state_dict(),
            "loss": parts.loss.state_dict(),
            "augment": parts.augment.state_dict() if parts.augment else {},
            "callbacks": [c.state_dict() for c in parts.callbacks],
            "observers": {c.ref: o.state_dict() for c, o in zip(self.recipe.observers, parts.observers)},
            "scalers": {"generator": self.opt.scaler_g.state_dict(), "discriminator": self.opt.scaler_d.state_dict()},
            "updates": dict(self.opt.updates),
            "recipe": self.recipe.to_toml(),
        }
        save_checkpoint(
            path, self._modules(), {"generator": self.opt.g, "discriminator": self.opt.d}, self._extra(), state
        )
        prune_checkpoints(self.run.checkpoints, self.recipe.output.keep_checkpoints)
        return path

    def _extra(self) -> dict[str, Tensor]:
        extra = {
            "rng_cpu": torch.get_rng_state(),
            "rng_noise": self.streams.noise.get_state(),
            "fixed_z": self.streams.fixed_z,
        }
        if self.streams.fixed_labels is not None:
            extra["fixed_labels"] = self.streams.fixed_labels
        if self.device.type == "cuda":
            extra["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        return extra

    def resume(self, progress: Progress, warn: Any) -> Path:
        """Continue from the run directory's newest intact checkpoint; a corrupt one is reported
        through ``warn`` and the previous one used."""
        candidates = list_checkpoints(self.run.checkpoints)[::-1]
        if not candidates:
            raise UserError(f"{self.run.path}: no checkpoint to resume from in {self.run.checkpoints}")
        for i, path in enumerate(candidates):
            try:
                self._restore(path, progress)
            except CorruptCheckpoint as e:
                fallback = f"falling back to {candidates[i + 1]}" if i + 1 < len(candidates) else "no older checkpoint"
                warn(f"warning: {e}; {fallback}")
                continue
            self._check_epochs_left(path, progress.step)
            self.saved_step = progress.step
            return path
        raise UserError(
            f"{self.run.checkpoints}: no intact checkpoint to resume from (all {len(candidates)} are corrupt)"
        )

    def _check_epochs_left(self, path: Path, step: int) -> None:
        """Refuse a ``train.epochs`` that ends before the checkpoint's step."""
        epochs, spe = self.recipe.train.epochs, self.steps_per_epoch
        if step > epochs * spe:
            raise UserError(
                f"{self.recipe.path}: train.epochs = {epochs} ends at step {epochs * spe}, but {path} is "
                f"at step {step}; set train.epochs to {math.ceil(step / spe)} or more to continue"
            )

    def _restore(self, path: Path, progress: Progress) -> None:
        """Load every part of the training state from checkpoint ``path``, checked."""
        ckpt = load_training_checkpoint(path)
        check_resumable(self.recipe, ckpt.recipe, path)
        if ckpt.state["steps_per_epoch"] != self.steps_per_epoch:
            raise UserError(
                f"{path}: the checkpoint has {ckpt.state['steps_per_epoch']} steps per epoch, "
                f"this recipe {self.steps_per_epoch} (did data.limit change?)"
            )
        for prefix, module in self._modules().items():
            load_module(module, ckpt, prefix, path)
        try:
            self._restore_components(ckpt, path)
            self._restore_rng(ckpt)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as e:
            raise CorruptCheckpoint(
                f"{path}: corrupt checkpoint: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
            ) from None
        progress.step, progress.elapsed = ckpt.state["step"], ckpt.state["elapsed_s"]

    def _restore_components(self, ckpt: Checkpoint, path: Path) -> None:
        parts, state = self.parts, ckpt.state
        self.opt.g.load_state_dict(check_optimizer(ckpt, "generator", list(parts.G.parameters()), path))
        self.opt.d.load_state_dict(check_optimizer(ckpt, "discriminator", list(parts.D.parameters()), path))
        self.opt.scaler_g.load_state_dict(state["scalers"]["generator"])
        self.opt.scaler_d.load_state_dict(state["scalers"]["discriminator"])
        self.opt.updates = {"d": int(state["updates"]["d"]), "g": int(state["updates"]["g"])}
        parts.schedule.load_state_dict(state["schedule"])
        parts.loss.load_state_dict(state["loss"])
        if parts.augment is not None:
            parts.augment.load_state_dict(state["augment"])
        if len(state["callbacks"]) != len(parts.callbacks):
            raise ValueError(f"{len(state['callbacks'])} callback states for {len(parts.callbacks)} callbacks")
        for callback, saved in zip(parts.callbacks, state["callbacks"]):
            callback.load_state_dict(saved)
        saved_observers = state.get("observers", {})  # an observer switched on since starts afresh
        for choice, observer in zip(self.recipe.observers, parts.observers):
            if choice.ref in saved_observers:
                observer.load_state_dict(saved_observers[choice.ref])

    def _restore_rng(self, ckpt: Checkpoint) -> None:
        """The random streams as saved (one process), or reseeded per rank (torchrun: the file
        holds rank 0's streams only); the fixed sample noise (S, Z) and labels (S,)."""
        streams = self.streams
        if self.ranks.distributed:
            seed = (self.recipe.train.seed, self.ranks.rank, ckpt.state["step"]).__hash__() & 0x7FFF_FFFF
            torch.manual_seed(seed)
            streams.noise.manual_seed(seed + 1)
        else:
            torch.set_rng_state(ckpt.tensors["extra.rng_cpu"])
            streams.noise.set_state(ckpt.tensors["extra.rng_noise"])
            if "extra.rng_cuda" in ckpt.tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(ckpt.tensors["extra.rng_cuda"], self.device)
        fixed_z = ckpt.tensors["extra.fixed_z"]
        if fixed_z.shape != streams.fixed_z.shape:
            raise ValueError(f"extra.fixed_z has shape {tuple(fixed_z.shape)}, expected {tuple(streams.fixed_z.shape)}")
        streams.fixed_z = fixed_z.to(self.device)
        if streams.fixed_labels is not None:
            streams.fixed_labels = ckpt.tensors["extra.fixed_labels"].to(self.device)


def check_resumable(recipe: Recipe, saved: dict[str, Any], path: Path) -> None:
    """Refuse a recipe that differs from the checkpoint's in anything in :data:`RESUME_FIXED`."""
    current = recipe.resolved()
    for key in RESUME_FIXED:
        a, b = _dig(saved, key), _dig(current, key)
        if a != b:
            raise UserError(
                f"{path}: cannot resume with a different {'.'.join(key)} (checkpoint: {a!r}, recipe: {b!r})"
            )


def _dig(table: dict, key: tuple[str, ...]) -> Any:
    for part in key:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    return table
