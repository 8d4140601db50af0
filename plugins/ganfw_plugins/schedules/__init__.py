"""Plugin ``schedules``: balancing strategies that decide which network learns on each step."""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class NCriticParams:
    n: int = param(5, "discriminator steps per generator step", min=1)


@dataclass(frozen=True)
class AdaptiveParams:
    high: float = param(0.85, "D is winning above this running accuracy: its updates are skipped", min=0.0, max=1.0)
    low: float = param(0.6, "G is winning below this running accuracy: its updates are skipped", min=0.0, max=1.0)
    hysteresis: float = param(0.05, "a skipped network resumes once accuracy is this far back inside", min=0.0, max=0.5)
    momentum: float = param(0.9, "running accuracy = momentum * old + (1 - momentum) * this step", min=0.0, max=0.999)
    warmup: int = param(50, "steps during which both networks always update", min=0)


def _spec(name: str, summary: str, cls: str, params: type | None = None) -> ComponentSpec:
    return ComponentSpec(
        name=name, kind="schedule", summary=summary, factory=f"ganfw_plugins.schedules.strategies:{cls}", params=params
    )


@hookimpl
def ganfw_schedules() -> list[ComponentSpec]:
    return [
        _spec("simultaneous", "Both networks step on gradients from one forward pass (the course's)", "Simultaneous"),
        _spec("alternating", "D steps, then G steps against the updated D", "Alternating"),
        _spec("n-critic", "D steps every step, G every n-th step", "NCritic", NCriticParams),
        _spec(
            "adaptive", "Skip the update of whichever network is winning, with hysteresis", "Adaptive", AdaptiveParams
        ),
    ]
