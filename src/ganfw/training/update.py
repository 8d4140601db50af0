"""The GAN update of one step: forward passes, losses, penalties, backward, optimiser steps.

Shapes: real and fake images (B, C, H, W); labels (B,) int64 or ``None``; z (B, Z); logits (B,).
The networks carry their precision (see :func:`ganfw.training.wrapping.wrap_networks`): this
module computes in whatever they return and takes the losses in float32. The order of calls is
documented in docs/plugins.md ("Inside a step").
"""

from __future__ import annotations

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
from ganfw.training.parts import Part
from ganfw.training.phase import StepPhase
from ganfw.training.wrapping import Networks


@dataclass(frozen=True)
class UpdateSettings:
    """What the update needs of the recipe: each network's base learning rate and whether D
    sees real and generated images in one pass."""

    lr_g: float
    lr_d: float
    fused_d_pass: bool = False


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


class GANUpdate:
    """Computes and applies one step's update, as a :class:`Decision` says; tells ``phase`` when
    an optimiser first steps."""

    def __init__(self, settings: UpdateSettings, nets: Networks, opt: Optimizers, players: Players, phase: StepPhase):
        self.settings, self.nets, self.opt, self.players, self.phase = settings, nets, opt, players, phase
        self.loss = players.loss.obj

    def set_learning_rates(self, factors: tuple[float, float]) -> None:
        """Each network's rate: the recipe's ``lr`` times its factor (G's, D's)."""
        for opt, lr, factor in zip((self.opt.g, self.opt.d), (self.settings.lr_g, self.settings.lr_d), factors):
            for group in opt.param_groups:
                group["lr"] = lr * factor

    def __call__(self, batch: Batch, z: Tensor, fake_labels: Tensor | None, decision: Decision) -> StepOutputs:
        update = self._joint if decision.joint else self._sequential
        return update(batch, z, fake_labels, decision)

    # ------------------------------------------------------------ the two update orders
    def _joint(self, batch: Batch, z: Tensor, fake_labels: Tensor | None, decision: Decision) -> StepOutputs:
        """Both losses from one forward pass; both networks step on gradients taken at the same
        state (G's gradient flows through the not-yet-updated D)."""
        d_net = self.nets.d_train if decision.train_d else self.nets.d_frozen
        with torch.set_grad_enabled(decision.train_g):
            fake = self._generate(z, fake_labels)
        real_logits, fake_logits = self._discriminate(d_net, batch, fake, fake_labels)
        inputs = self._inputs(d_net, batch, fake.detach(), fake_labels, z)
        d_loss, terms = self._objective("d", real_logits, fake_logits, inputs, decision.train_d)
        real_g = real_logits.detach() if self.loss.g_needs_real else None
        g_inputs = self._inputs(d_net, batch, fake, fake_labels, z)
        g_loss, g_terms = self._objective("g", real_g, fake_logits, g_inputs, decision.train_g)
        if decision.train_d:
            self._backward(d_loss, self.nets.D, self.opt.d, self.opt.scaler_d, retain_graph=decision.train_g)
        if decision.train_g:
            self._backward(g_loss, self.nets.G, self.opt.g, self.opt.scaler_g)
        if decision.train_d:
            self._optimizer_step(self.opt.d, self.opt.scaler_d)
        if decision.train_g:
            self._optimizer_step(self.opt.g, self.opt.scaler_g)
        return StepOutputs(real_logits, fake_logits, d_loss, g_loss, {**terms, **g_terms})

    def _sequential(self, batch: Batch, z: Tensor, fake_labels: Tensor | None, decision: Decision) -> StepOutputs:
        """D steps on a detached fake batch, then G steps against the updated D."""
        with torch.set_grad_enabled(decision.train_g):
            fake = self._generate(z, fake_labels)
        with torch.set_grad_enabled(decision.train_d):
            real_logits, fake_logits = self._discriminate(self.nets.d_train, batch, fake.detach(), fake_labels)
            inputs = self._inputs(self.nets.d_train, batch, fake.detach(), fake_labels, z)
            d_loss, terms = self._objective("d", real_logits, fake_logits, inputs, decision.train_d)
        if decision.train_d:
            self._backward(d_loss, self.nets.D, self.opt.d, self.opt.scaler_d)
            self._optimizer_step(self.opt.d, self.opt.scaler_d)
        if decision.train_g:
            g_loss, g_terms = self._g_turn(batch, fake, fake_labels, z)
        else:
            real_g = real_logits.detach() if self.loss.g_needs_real else None
            g_loss, g_terms = self._objective("g", real_g, fake_logits.detach(), inputs, False)
        return StepOutputs(real_logits, fake_logits, d_loss, g_loss, {**terms, **g_terms})

    def _g_turn(
        self, batch: Batch, fake: Tensor, fake_labels: Tensor | None, z: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """G's loss against the (updated) D, its backward and step."""
        d_net = self.nets.d_frozen
        with self.players.discriminator.blame("forward"):
            fake_logits = self._d_call(d_net, fake, fake_labels)
            real_logits = None
            if self.loss.g_needs_real:
                with torch.no_grad():
                    real_logits = self._d_call(d_net, batch.images, batch.labels)
        inputs = self._inputs(d_net, batch, fake, fake_labels, z)
        g_loss, terms = self._objective("g", real_logits, fake_logits, inputs, True)
        self._backward(g_loss, self.nets.G, self.opt.g, self.opt.scaler_g)
        self._optimizer_step(self.opt.g, self.opt.scaler_g)
        return g_loss, terms

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
        if training:
            self.opt.updates[player] = count + 1
        return total, terms

    # ------------------------------------------------------------ gradients
    @staticmethod
    def _backward(
        loss: Tensor,
        net: nn.Module,
        opt: torch.optim.Optimizer,
        scaler: torch.amp.GradScaler,
        retain_graph: bool = False,
    ) -> None:
        """Gradients of ``loss`` for ``net``'s parameters only (the other network's are untouched)."""
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward(inputs=list(net.parameters()), retain_graph=retain_graph)

    def _optimizer_step(self, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        self.phase.updating()  # until the step completes, the state is no step's
        scaler.step(opt)
        scaler.update()


def _sum_terms(value: LossValue, player: str) -> tuple[Tensor, dict[str, Tensor]]:
    """A loss's value as (total, named terms ``<player>/<name>``); a bare scalar has no terms."""
    if isinstance(value, Mapping):
        terms = {f"{player}/{k}": v.float() for k, v in value.items()}
        return torch.stack(list(terms.values())).sum(), terms
    return value.float(), {}
