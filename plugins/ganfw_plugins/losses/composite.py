"""Losses built around another loss (composition through a component param)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from ganfw.plugin import Loss, LossValue, Penalty
from ganfw_plugins.losses import R1Params
from ganfw_plugins.losses.penalties import R1Penalty


class R1(Loss):
    """Any loss (``params.base``, built by the recipe loader's choice) plus the R1 penalty of
    Mescheder et al. 2018 on D, lazily every ``params.every`` D steps (Karras et al. 2020).

    Everything else - both players' losses, ``g_needs_real``, the statistics, the state and the
    logged values - is the base loss's, so R1 fits around a relativistic or a hinge loss alike.
    """

    def __init__(self, params: R1Params):
        if not hasattr(params.base, "build"):
            raise TypeError(f"params.base must be a component resolved by the recipe loader, got {params.base!r}")
        self.base: Loss = params.base.build()
        self.penalty = R1Penalty(params.gamma, params.every)
        taken = {p.name for p in self.base.penalties()}
        if self.penalty.name in taken:
            raise ValueError(f"the base loss already has a penalty named {self.penalty.name!r}")

    @property
    def g_needs_real(self) -> bool:  # type: ignore[override]  # the base's, whatever it is
        return self.base.g_needs_real

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> LossValue:
        return self.base.d_loss(real_logits, fake_logits)

    def g_loss(self, real_logits: Tensor | None, fake_logits: Tensor) -> LossValue:
        return self.base.g_loss(real_logits, fake_logits)

    def penalties(self) -> list[Penalty]:
        return [*self.base.penalties(), self.penalty]

    def statistics(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        return self.base.statistics(real_logits, fake_logits)

    def state_dict(self) -> dict[str, Any]:
        return self.base.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state)

    def log(self) -> dict[str, float]:
        return self.base.log()
