"""The composition root of a training run: from a validated recipe to a :class:`Trainer` holding
everything it loops over - device, precision, seed, the parts, the wrapped networks, optimisers,
random streams, checkpoint state and what callbacks see. Nothing here runs a step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch

from ganfw.config import budget_seconds
from ganfw.contracts import Discriminator, Generator, ImageShape
from ganfw.device import resolve_device
from ganfw.distributed import Ranks, join, rank_device, ranks_from_env
from ganfw.networks import build_network, check_networks
from ganfw.plugins import Registry, load_registry
from ganfw.precision import Precision, resolve_precision
from ganfw.preflight import check_evaluation, check_penalties, describe_data, steps_per_epoch
from ganfw.progress import Reporter
from ganfw.recipe import Recipe
from ganfw.rundir import RunDir
from ganfw.training.data import data_source
from ganfw.training.loop import LoopSettings, Trainer
from ganfw.training.outputs import EpochOutputs, Evaluator
from ganfw.training.parts import Part, Parts, keyed
from ganfw.training.phase import StepPhase
from ganfw.training.state import RunState
from ganfw.training.streams import open_streams
from ganfw.training.update import GANUpdate, Optimizers, Players, UpdateSettings
from ganfw.training.view import Clock, Requests, RunFacts
from ganfw.training.wrapping import adam, wrap_networks


def assemble(recipe: Recipe, run: RunDir, reporter: Reporter, ranks: Ranks | None = None,
             registry: Registry | None = None) -> Trainer:  # fmt: skip
    """Build everything ``recipe`` trains, on this process's device, joined to the other ranks
    under torchrun; the same initial weights on every rank (seeded before building)."""
    registry = registry or load_registry()  # metric components for [eval]
    ranks = ranks or ranks_from_env()
    train = recipe.train
    device = rank_device(resolve_device(train.device), ranks)
    join(ranks, device, train.dist_timeout)
    choice = resolve_precision(train.precision, device)
    precision = Precision(choice.name, device)
    torch.manual_seed(train.seed)
    parts = build_parts(recipe, ranks, device)
    nets = wrap_networks(parts.G, parts.D, train, ranks, device, precision)
    opt = Optimizers(adam(parts.G, recipe.optim["generator"], device), adam(parts.D, recipe.optim["discriminator"], device),
                     precision.scaler(), precision.scaler())  # fmt: skip
    phase = StepPhase()
    settings = UpdateSettings(
        recipe.optim["generator"].lr, recipe.optim["discriminator"].lr, train.fused_d_pass, train.accumulate
    )
    players = Players(parts.generator, parts.discriminator, parts.loss, parts.penalties, parts.augment)
    streams = open_streams(train.seed, recipe.output.samples, ranks, device, parts)
    spe = steps_per_epoch(recipe, len(parts.data), ranks.world, (parts.G, parts.D))
    check_penalties(recipe, parts.penalties, bool(parts.D.num_classes))
    check_evaluation(recipe, registry, parts.dataset.obj, parts.conditional)
    if ranks.is_main:
        reporter.message(describe_data(parts.dataset.obj, len(parts.data), recipe.data.ref))  # read once
    clock = Clock(spe, train.epochs * spe)
    facts = RunFacts(parts.G, parts.D, device, precision.name, parts.dataset.obj, recipe.data, str(recipe.path),
                     run.path if ranks.is_main else None, ranks.is_main, recipe.resolved())  # fmt: skip
    return Trainer(
        parts=parts,
        update=GANUpdate(settings, nets, opt, players, phase),
        streams=streams,
        state=RunState(recipe, run, ranks, device, parts, opt, streams, precision.name),
        clock=clock,
        phase=phase,
        requests=Requests(),
        facts=facts,
        settings=LoopSettings(
            recipe.output.log_every,
            recipe.output.checkpoint_every,
            recipe.eval.every,
            bool(recipe.eval.metrics),
            train.epochs,
            budget_seconds(train.budget),
            train.budget,
        ),  # fmt: skip
        reporter=reporter,
        ranks=ranks,
        run=run,
        precision=choice,
        outputs=_outputs_factory(recipe, run, device, reporter),
        evaluator=_evaluator(recipe, registry, parts, run, ranks),
    )


def build_parts(recipe: Recipe, ranks: Ranks, device: torch.device) -> Parts:
    """Build the dataset (with the resolved data root) and its data source, G and D (conditional
    ones with the dataset's number of classes, held to their contracts), the loss and its
    penalties, the schedules, the augmentation, the callbacks and the observers."""
    from ganfw.paths import resolve_data_root

    fmt = torch.channels_last if recipe.train.channels_last else torch.contiguous_format
    root, _ = resolve_data_root(recipe.data_root)
    dataset = Part("data", recipe.data, recipe.data.build(root=str(root), limit=recipe.data_limit))
    data = data_source(recipe, dataset.obj, ranks, device, fmt)
    shape: ImageShape = tuple(dataset.obj.image_shape)
    G = cast(Generator, build_network(recipe.generator, dataset.obj, shape).to(device).to(memory_format=fmt))
    D = cast(Discriminator, build_network(recipe.discriminator, dataset.obj, shape).to(device).to(memory_format=fmt))
    check_networks((recipe.generator, recipe.discriminator), G, D, shape, device)
    loss = Part("loss", recipe.loss, recipe.loss.build())
    penalties = list(loss.call("penalties"))
    schedule = Part("schedule", recipe.schedule, recipe.schedule.build())
    lr_schedule = Part("lr_schedule", recipe.lr_schedule, recipe.lr_schedule.build())
    augment = None if recipe.augment is None else Part("augment", recipe.augment, recipe.augment.build())
    return Parts(
        dataset=dataset,
        data=data,
        generator=Part("generator", recipe.generator, G),
        discriminator=Part("discriminator", recipe.discriminator, D),
        loss=loss,
        penalties=penalties,
        schedule=schedule,
        lr_schedule=lr_schedule,
        augment=augment,
        callbacks=keyed("callbacks", recipe.callbacks, [c.build() for c in recipe.callbacks]),
        observers=keyed("observers", recipe.observers, [c.build() for c in recipe.observers]),
    )


def _outputs_factory(recipe: Recipe, run: RunDir, device: torch.device,
                     reporter: Reporter) -> Callable[[Callable[[dict[str, Any]], None]], EpochOutputs]:  # fmt: skip
    """What makes rank 0's epoch outputs once the loop opens its log (``write`` records to it)."""

    def make(write: Callable[[dict[str, Any]], None]) -> EpochOutputs:
        return EpochOutputs(recipe, run, write, device, reporter.message)

    return make


def _evaluator(recipe: Recipe, registry: Registry, parts: Parts, run: RunDir, ranks: Ranks) -> Evaluator | None:
    """The run's ``[eval]``, on every rank; ``None`` when it never evaluates."""
    if not (recipe.eval.every and recipe.eval.metrics):
        return None
    from ganfw.evaluation.datasets import of_run

    data = of_run(parts.dataset.obj, recipe.data, str(recipe.path))
    return Evaluator(recipe.eval, recipe.train.seed, registry, data, run, ranks)
