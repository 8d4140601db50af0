"""Plugin ``losses``: the classic adversarial objectives."""

from __future__ import annotations

from dataclasses import dataclass

from ganfw import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class NonSaturatingParams:
    label_smoothing: float = param(
        0.0, "one-sided label smoothing: D's target for real images is 1 - this", min=0.0, max=0.5
    )


@dataclass(frozen=True)
class WassersteinGPParams:
    gp_weight: float = param(10.0, "weight of the gradient penalty (lambda)", min=0.0)
    drift: float = param(0.0, "weight of the drift term mean(D(real)^2) that keeps logits near 0", min=0.0)


def _spec(name: str, summary: str, cls: str, params: type | None = None) -> ComponentSpec:
    return ComponentSpec(
        name=name, kind="loss", summary=summary, factory=f"ganfw_plugins.losses.objectives:{cls}", params=params
    )


@hookimpl
def ganfw_losses() -> list[ComponentSpec]:
    return [
        _spec("non-saturating", "BCE on logits; G maximises log D(G(z)) (Goodfellow et al. 2014)", "NonSaturating", NonSaturatingParams),
        _spec("minimax", "The original minimax game; G minimises log(1 - D(G(z)))", "Minimax"),
        _spec("hinge", "Hinge loss (Lim & Ye 2017; Miyato et al. 2018)", "Hinge"),
        _spec("least-squares", "Least-squares GAN, targets 0 and 1 (Mao et al. 2017)", "LeastSquares"),
        _spec("wasserstein-gp", "Wasserstein loss with gradient penalty (Gulrajani et al. 2017)", "WassersteinGP", WassersteinGPParams),
    ]
