"""The GAN update of one step: forward passes, losses, penalties, backward, optimiser steps.

Shapes: real and fake images (B, C, H, W); labels (B,) int64 or ``None``; z (B, Z); logits (B,).
The networks carry their precision (see :func:`ganfw.training.wrapping.wrap_networks`): this
module computes in whatever they return and takes the losses in float32. The order of calls is
documented in docs/plugins.md ("Inside a step").
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from ganfw.contracts import (
    Augmentation,
    Batch,
    Decision,
    Discriminator,
    Generator,
    Loss,
    LossValue,
    Penalty,
    PenaltyInputs,
)
from ganfw.distributed import average_gradients
from ganfw.training.parts import Part
from ganfw.training.phase import StepPhase
from ganfw.training.wrapping import Networks


@dataclass(frozen=True)
class UpdateSettings:
    """What the update needs of the recipe: each network's base learning rate, whether D sees
    real and generated images in one pass, and in how many micro-batches a step's gradients are
    accumulated (``train.accumulate``)."""

    lr_g: float
    lr_d: float
    fused_d_pass: bool = False
    accumulate: int = 1


@dataclass
class Optimizers:
    """Each network's optimiser and loss scaler, and how many updates each network has had
    (``updates["d"]``, ``updates["g"]``: the count lazy penalties are due by)."""

    g: torch.optim.Optimizer
    d: torch.optim.Optimizer
    scaler_g: torch.amp.GradScaler
    scaler_d: torch.amp.GradScaler
    updates: dict[str, int] = field(default_factory=lambda: {"d": 0, "g": 0})


@dataclass
class StepOutputs:
    """What one update computed: D's logits on its pass (B,), each player's total loss (scalar)
    and every named term (``d/<name>``, ``g/<name>``, ``penalty/<name>``)."""

    real_logits: Tensor
    fake_logits: Tensor
    d_loss: Tensor
    g_loss: Tensor
    terms: dict[str, Tensor]


@dataclass(frozen=True)
class Players:
    """The parts the update calls into: G and D (for attribution; the modules called are the
    :class:`Networks`), the loss and its penalties, the augmentation."""

    generator: Part[Generator]
    discriminator: Part[Discriminator]
    loss: Part[Loss]
    penalties: list[Penalty]
    augment: Part[Augmentation] | None


@dataclass(frozen=True)
class Micro:
    """One micro-batch of a step (the whole batch when nothing accumulates): real images and
    labels, noise (b, Z), the labels G draws for (b,), and its share ``weight`` = b / B of the batch."""

    batch: Batch
    z: Tensor
    fake_labels: Tensor | None
    weight: float


def micro_batches(batch: Batch, z: Tensor, fake_labels: Tensor | None, parts: int) -> list[Micro]:
    """The step's batch in ``parts`` micro-batches of (nearly) equal size, in order."""
    if parts == 1:
        return [Micro(batch, z, fake_labels, 1.0)]
    n = len(batch.images)
    pieces = [torch.tensor_split(t, parts) if t is not None else [None] * parts
              for t in (batch.images, batch.labels, z, fake_labels)]  # fmt: skip
    return [Micro(Batch(images, labels), zz, fl, len(images) / n) for images, labels, zz, fl in zip(*pieces)
            if len(images)]  # fmt: skip


@dataclass
class _Pass:
    """What one micro-batch's D pass and losses gave (logits (b,), losses, terms), weighted."""

    real_logits: Tensor
    fake_logits: Tensor
    d_loss: Tensor
    g_loss: Tensor | None = None
    terms: dict[str, Tensor] = field(default_factory=dict)


class GANUpdate:
    """Computes and applies one step's update, as a :class:`Decision` says; tells ``phase`` when
    an optimiser first steps. With ``settings.accumulate = K`` each network's gradient is summed
    over K micro-batches (each loss weighted by its share of the batch; under torchrun averaged
    over ranks once) before its optimiser steps once."""

    def __init__(self, settings: UpdateSettings, nets: Networks, opt: Optimizers, players: Players, phase: StepPhase):
        self.settings, self.nets, self.opt, self.players, self.phase = settings, nets, opt, players, phase
        self.loss = players.loss.obj

    def set_learning_rates(self, factors: tuple[float, float]) -> None:
        """Each network's rate: the recipe's ``lr`` times its factor (G's, D's)."""
        for opt, lr, factor in zip((self.opt.g, self.opt.d), (self.settings.lr_g, self.settings.lr_d), factors):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def __call__(self, batch: Batch, z: Tensor, fake_labels: Tensor | None, decision: Decision) -> StepOutputs:
        micros = micro_batches(batch, z, fake_labels, self.settings.accumulate)
        update = self._joint if decision.joint else self._sequential
        if len(micros) == 1 or not self.nets.ddp:
            return update(micros, decision)
        # Accumulating under torchrun: DDP's hooks stay silent (their all-reduce pairs each forward
        # with its backward, which the two update orders interleave); each network's summed
        # gradient is averaged over ranks once, before its optimiser steps.
        with contextlib.ExitStack() as stack:
            for ddp in self.nets.ddp.values():
                stack.enter_context(ddp.no_sync())  # type: ignore[operator]
            return update(micros, decision)

    # ------------------------------------------------------------ the two update orders
    def _joint(self, micros: list[Micro], decision: Decision) -> StepOutputs:
        """Both losses from one forward pass; both networks step on gradients taken at the same
        state (G's gradient flows through the not-yet-updated D)."""
        d_net = self.nets.d_train if decision.train_d else self.nets.d_frozen
        self._zero(decision)
        passes = []
        for m in micros:
            with torch.set_grad_enabled(decision.train_g):
                fake = self._generate(m.z, m.fake_labels)
            real_logits, fake_logits = self._discriminate(d_net, m.batch, fake, m.fake_labels)
            inputs = self._inputs(d_net, m.batch, fake.detach(), m.fake_labels, m.z)
            d_loss, terms = self._objective("d", real_logits, fake_logits, inputs, decision.train_d)
            real_g = real_logits.detach() if self.loss.g_needs_real else None
            g_inputs = self._inputs(d_net, m.batch, fake, m.fake_labels, m.z)
            g_loss, g_terms = self._objective("g", real_g, fake_logits, g_inputs, decision.train_g)
            if decision.train_d:
                self._backward(d_loss, m.weight, "d", retain_graph=decision.train_g)
            if decision.train_g:
                self._backward(g_loss, m.weight, "g")
            passes.append(_Pass(real_logits, fake_logits, d_loss, g_loss, {**terms, **g_terms}))
        self._step(decision.train_d, decision.train_g)
        return _combined(passes, micros)

    def _sequential(self, micros: list[Micro], decision: Decision) -> StepOutputs:
        """D steps on detached generated images, then G steps against the updated D."""
        self._zero(decision)
        passes, fakes = [], []
        for m in micros:
            with torch.set_grad_enabled(decision.train_g):
                fake = self._generate(m.z, m.fake_labels)
            fakes.append(fake)
            with torch.set_grad_enabled(decision.train_d):
                real_logits, fake_logits = self._discriminate(self.nets.d_train, m.batch, fake.detach(), m.fake_labels)
                inputs = self._inputs(self.nets.d_train, m.batch, fake.detach(), m.fake_labels, m.z)
                d_loss, terms = self._objective("d", real_logits, fake_logits, inputs, decision.train_d)
            if decision.train_d:
                self._backward(d_loss, m.weight, "d")
            passes.append(_Pass(real_logits, fake_logits, d_loss, terms=terms))
        self._step(decision.train_d, False)
        for m, fake, p in zip(micros, fakes, passes):
            if decision.train_g:
                p.g_loss, g_terms = self._g_turn(m, fake)
                self._backward(p.g_loss, m.weight, "g")
            else:
                real_g = p.real_logits.detach() if self.loss.g_needs_real else None
                inputs = self._inputs(self.nets.d_train, m.batch, fake.detach(), m.fake_labels, m.z)
                p.g_loss, g_terms = self._objective("g", real_g, p.fake_logits.detach(), inputs, False)
            p.terms.update(g_terms)
        self._step(False, decision.train_g)
        return _combined(passes, micros)

    def _g_turn(self, m: Micro, fake: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """G's loss on one micro-batch against the (updated) D."""
        d_net = self.nets.d_frozen
        with self.players.discriminator.blame("forward"):
            fake_logits = self._d_call(d_net, fake, m.fake_labels)
            real_logits = None
            if self.loss.g_needs_real:
                with torch.no_grad():
                    real_logits = self._d_call(d_net, m.batch.images, m.batch.labels)
        inputs = self._inputs(d_net, m.batch, fake, m.fake_labels, m.z)
        return self._objective("g", real_logits, fake_logits, inputs, True)

    # ------------------------------------------------------------ calls into components
    def _generate(self, z: Tensor, labels: Tensor | None) -> Tensor:
        with self.players.generator.blame("forward"):
            return self.nets.g_train(z, labels) if self.nets.G.num_classes else self.nets.g_train(z)

    def _d_call(self, d_net: nn.Module, images: Tensor, labels: Tensor | None) -> Tensor:
        """D as every call in the step sees it: the augmentation first, labels when conditional."""
        if self.players.augment is not None:
            images = self.players.augment.call("__call__", images)
        return d_net(images, labels) if self.nets.D.num_classes else d_net(images)

    def _discriminate(
        self, d_net: nn.Module, batch: Batch, fake: Tensor, fake_labels: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """Logits on real (B,) and generated (B,) images: two D passes, or one over both."""
        with self.players.discriminator.blame("forward"):
            if not self.settings.fused_d_pass:
                return self._d_call(d_net, batch.images, batch.labels), self._d_call(d_net, fake, fake_labels)
            labels = None if batch.labels is None else torch.cat([batch.labels, fake_labels])  # type: ignore[list-item]
            logits = self._d_call(d_net, torch.cat([batch.images, fake]), labels)
            return logits[: len(batch.images)], logits[len(batch.images) :]

    def _inputs(
        self, d_net: nn.Module, batch: Batch, fake: Tensor, fake_labels: Tensor | None, z: Tensor
    ) -> PenaltyInputs:
        def discriminator(images: Tensor, labels: Tensor | None = None) -> Tensor:
            return self._d_call(d_net, images, labels)

        return PenaltyInputs(
            discriminator=discriminator,
            generator=self._generate,
            real=batch.images,
            fake=fake,
            real_labels=batch.labels,
            fake_labels=fake_labels,
            z=z,
            generator_module=self.nets.G,
            num_classes=self.nets.D.num_classes,
        )

    def _objective(
        self, player: str, real_logits: Tensor | None, fake_logits: Tensor, inputs: PenaltyInputs, training: bool
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """One player's loss (its terms summed) plus, when it trains, its penalties due on this
        update of its network (every ``every``-th, counted from 0), each scaled by its interval;
        every term by name."""
        real = None if real_logits is None else real_logits.float()
        if player == "d":
            value = self.players.loss.call("d_loss", real, fake_logits.float())
        else:
            value = self.players.loss.call("g_loss", real, fake_logits.float())
        total, terms = _sum_terms(value, player)
        count = self.opt.updates[player]
        for penalty in self.players.penalties if training else ():
            if penalty.player == player and count % penalty.every == 0:
                with self.players.loss.blame(f"penalty {penalty.name!r}"):
                    term = penalty(inputs).float()
                terms[f"penalty/{penalty.name}"] = term
                total = total + penalty.every * term
        return total, terms

    # ------------------------------------------------------------ gradients
    def _zero(self, decision: Decision) -> None:
        """Clear the gradients of the networks that train on this step."""
        for trains, opt in ((decision.train_d, self.opt.d), (decision.train_g, self.opt.g)):
            if trains:
                opt.zero_grad(set_to_none=True)

    def _backward(self, loss: Tensor, weight: float, player: str, retain_graph: bool = False) -> None:
        """Add the gradient of one micro-batch's ``loss`` (times its ``weight``) to ``player``'s
        parameters only (the other network's are untouched)."""
        net, scaler = (self.nets.D, self.opt.scaler_d) if player == "d" else (self.nets.G, self.opt.scaler_g)
        scaled = loss if weight == 1.0 else loss * weight
        scaler.scale(scaled).backward(inputs=list(net.parameters()), retain_graph=retain_graph)

    def _step(self, train_d: bool, train_g: bool) -> None:
        """Step the optimisers of the networks that trained, D first; count their updates."""
        for trains, player, opt, scaler in ((train_d, "d", self.opt.d, self.opt.scaler_d),
                                            (train_g, "g", self.opt.g, self.opt.scaler_g)):  # fmt: skip
            if trains:
                if self.settings.accumulate > 1 and self.nets.ddp:
                    average_gradients(self.nets.D if player == "d" else self.nets.G)
                self.phase.updating()  # until the step completes, the state is no step's
                scaler.step(opt)
                scaler.update()
                self.opt.updates[player] += 1


def _combined(passes: list[_Pass], micros: list[Micro]) -> StepOutputs:
    """One step's outputs from its micro-batches: logits concatenated, losses and terms averaged
    by each micro-batch's share (the passes themselves when there is one)."""
    if len(passes) == 1:
        p = passes[0]
        return StepOutputs(p.real_logits, p.fake_logits, p.d_loss, p.g_loss, p.terms)  # type: ignore[arg-type]
    weights = [m.weight for m in micros]

    def mean(values: list[Tensor]) -> Tensor:
        return torch.stack([w * v.detach() for w, v in zip(weights, values)]).sum()

    terms = {key: mean([p.terms[key] for p in passes]) for key in passes[0].terms}
    return StepOutputs(
        torch.cat([p.real_logits.detach() for p in passes]),
        torch.cat([p.fake_logits.detach() for p in passes]),
        mean([p.d_loss for p in passes]),
        mean([p.g_loss for p in passes]),  # type: ignore[misc]
        terms,
    )


def _sum_terms(value: LossValue, player: str) -> tuple[Tensor, dict[str, Tensor]]:
    """A loss's value as (total, named terms ``<player>/<name>``); a bare scalar has no terms."""
    if isinstance(value, Mapping):
        terms = {f"{player}/{k}": v.float() for k, v in value.items()}
        return torch.stack(list(terms.values())).sum(), terms
    return value.float(), {}
