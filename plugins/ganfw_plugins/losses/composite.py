"""R1 around any loss (composition through a component param)."""

from __future__ import annotations

from ganfw_plugins.losses import R1Params
from ganfw_plugins.losses.added import WithPenalty
from ganfw_plugins.losses.penalties import R1Penalty


class R1(WithPenalty):
    """Any loss (``params.base``, built by the recipe loader's choice) plus the R1 penalty of
    Mescheder et al. 2018 on D, lazily every ``params.every`` D steps (Karras et al. 2020).

    Everything else - both players' losses, ``g_needs_real``, the statistics, the state and the
    logged values - is the base loss's, so R1 fits around a relativistic or a hinge loss alike.
    """

    def __init__(self, params: R1Params):
        super().__init__(params.base, R1Penalty(params.gamma, params.every))
