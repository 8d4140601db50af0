"""A loss built around another one with more penalties (composition through a component param):
the base of ``r1``, ``r1-r2``, ``class-ce``, ``mismatch`` and ``path-length``."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ganfw.plugin import ComponentRef, Loss, LossValue, Penalty, PenaltyInputs


class WithPenalty(Loss):
    """Any loss (``base``, a component param resolved by the recipe loader) plus ``penalties``.

    Everything else - both players' losses, ``g_needs_real``, the statistics, the state and the
    logged values - is the base loss's, so the penalty fits around a relativistic or a hinge loss
    alike. Subclasses that keep state of their own extend ``state_dict``/``load_state_dict``/``log``.
    """

    def __init__(self, base: ComponentRef, *penalties: Penalty):
        if not hasattr(base, "build"):
            raise TypeError(f"params.base must be a component resolved by the recipe loader, got {base!r}")
        self.base: Loss = base.build()
        taken = {p.name for p in self.base.penalties()}
        for penalty in penalties:
            if penalty.name in taken:
                raise ValueError(f"the base loss already has a penalty named {penalty.name!r}")
        self.added = list(penalties)

    @property
    def g_needs_real(self) -> bool:  # type: ignore[override]  # the base's, whatever it is
        return self.base.g_needs_real

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> LossValue:
        return self.base.d_loss(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> LossValue:
        return self.base.g_loss(real_logits, fake_logits)

    def penalties(self) -> list[Penalty]:
        return [*self.base.penalties(), *self.added]

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return self.base.statistics(real_logits, fake_logits)

    def state_dict(self) -> dict[str, Any]:
        return self.base.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state)

    def log(self) -> dict[str, float]:
        return self.base.log()


def step_labels(loss: str, labels: Tensor | None, inputs: PenaltyInputs) -> Tensor:
    """``labels`` (N,) of a penalty that reads them; a ``ValueError`` naming ``loss`` when the step
    has none or its G and D are not class-conditional (``inputs.num_classes`` < 2)."""
    if labels is None or inputs.num_classes < 2:
        raise ValueError(
            f"the {loss} loss needs a class-conditional generator and discriminator on a labelled "
            f"dataset (got {inputs.num_classes} classes{', no labels' if labels is None else ''})"
        )
    return labels
