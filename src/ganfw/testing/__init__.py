"""Contract checks for plugin authors: call them from pytest.

Every component of every plugin, the built-in ones included, is held to the same checks::

    import my_plugin
    import pytest
    from ganfw.testing import check_component, check_installed, plugin_specs

    SPECS = plugin_specs(my_plugin)

    @pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}:{s.name}")
    def test_contract(spec):
        check_component(spec)  # or check_component(spec, (3, 32, 32), params={"width": 8})

    def test_installed():
        check_installed("myplugin", SPECS)

:func:`check_component` builds the component with its params (default: the declared defaults)
and runs the checks of its kind; the per-kind checks (:func:`check_generator`, ...) take a
component you built yourself. A broken promise raises :class:`ContractError` (an
``AssertionError``) naming the component and the promise. Every check of a module or loss also
runs on CUDA when it is available.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ganfw.contracts import ImageShape
from ganfw.params import build
from ganfw.plugins import Component
from ganfw.specs import ComponentSpec
from ganfw.testing.contract import ContractError, about
from ganfw.testing.data import check_dataset
from ganfw.testing.losses import check_loss
from ganfw.testing.networks import check_device_moves, check_discriminator, check_generator, check_state_round_trip
from ganfw.testing.plugin import check_installed, check_params, check_spec, plugin_specs
from ganfw.testing.schedules import check_schedule

__all__ = [
    "ContractError",
    "check_component",
    "check_dataset",
    "check_device_moves",
    "check_discriminator",
    "check_generator",
    "check_installed",
    "check_loss",
    "check_params",
    "check_schedule",
    "check_spec",
    "check_state_round_trip",
    "plugin_specs",
]


@dataclass(frozen=True)
class _Context:
    image_shape: ImageShape
    data_root: str | None
    data_limit: int


#: kind -> (factory, params, context) -> None: build the component as the engine does and check it.
#: Metrics have none: they get the spec checks only, as building one may need reference data.
_CHECKS: dict[str, Callable[[Any, Any, _Context], None]] = {
    "generator": lambda f, p, c: check_generator(f(p, image_shape=c.image_shape), c.image_shape),
    "discriminator": lambda f, p, c: check_discriminator(f(p, image_shape=c.image_shape), c.image_shape),
    "loss": lambda f, p, c: check_loss(f(p), c.image_shape),
    "schedule": lambda f, p, c: check_schedule(f(p)),
    "dataset": lambda f, p, c: check_dataset(f(p, root=c.data_root, limit=c.data_limit), c.data_limit),
}


def check_component(
    component: ComponentSpec | Component,
    image_shape: ImageShape = (1, 28, 28),
    *,
    params: Any = None,
    data_root: str | None = None,
    data_limit: int = 64,
) -> None:
    """Check a spec (or a registry component): :func:`check_spec`, then build it and run the
    checks of its kind (metrics: :func:`check_spec` only).

    Args:
        component: what a hook returned (or ``registry.resolve(kind, name)``).
        image_shape: (C, H, W) the generator, discriminator or regulariser is tried on.
        params: an instance of ``spec.params``, or a table of values as in a recipe
            (``{"width": 8}``); default: the declared defaults.
        data_root, data_limit: what a dataset is built with (``factory(params, root=, limit=)``).
    """
    spec = component.spec if isinstance(component, Component) else component
    with about(f"{getattr(spec, 'kind', '?')} {getattr(spec, 'name', spec)!r}"):
        factory = check_spec(spec)
        if params is None:
            params = spec.default_params()
        elif isinstance(params, Mapping):
            params = build(spec.params, params)
        if spec.kind in _CHECKS:
            _CHECKS[spec.kind](factory, params, _Context(tuple(image_shape), data_root, data_limit))
