"""Plugin ``lr_schedules``: how each network's learning rate moves over the run."""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class DecayParams:
    warmup: int = param(0, "steps over which the rate rises linearly from 0 to the recipe's lr", min=0)
    final: float = param(0.0, "the rate at the last step, as a fraction of the recipe's lr", min=0.0, max=1.0)


def _spec(name: str, summary: str, cls: str, params: type | None = None) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        kind="lr-schedule",
        summary=summary,
        factory=f"ganfw_plugins.lr_schedules.schedules:{cls}",
        params=params,
    )


@hookimpl
def ganfw_lr_schedules() -> list[ComponentSpec]:
    return [
        _spec("constant", "The recipe's learning rates throughout", "Constant"),
        _spec("linear-decay", "Optional linear warm-up, then a linear decay to final * lr", "LinearDecay", DecayParams),
        _spec("cosine", "Optional linear warm-up, then a cosine decay to final * lr", "Cosine", DecayParams),
    ]
