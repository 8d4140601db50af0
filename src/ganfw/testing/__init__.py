"""Contract checks for plugin authors: call them from pytest.

Every component of every plugin, the built-in ones included, is held to the same checks::

    import my_plugin  # declares GANFW_API = 2
    import pytest
    from ganfw.testing import check_component, check_installed, plugin_specs

    SPECS = plugin_specs(my_plugin)

    @pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}:{s.name}")
    def test_contract(spec):
        check_component(spec)  # or check_component(spec, (3, 32, 32), params={"width": 8})

    def test_installed():
        check_installed("myplugin", SPECS)

:func:`plugin_specs` checks the module (its ``GANFW_API`` and hooks) as the registry does;
:func:`check_component` builds the component as the engine does, with its params (default: the
declared defaults), and runs the checks of its kind; the per-kind checks (:func:`check_generator`, ...) take a
component you built yourself. A broken promise raises :class:`ContractError` (an
``AssertionError``) naming the component and the promise. Every check of a module or loss also
runs on CUDA when it is available.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ganfw.contracts import ImageShape, as_image_shape
from ganfw.paths import resolve_data_root
from ganfw.plugins import Component
from ganfw.specs import ComponentSpec
from ganfw.testing.augmentations import check_augmentation
from ganfw.testing.callbacks import check_callback
from ganfw.testing.contract import ContractError, about
from ganfw.testing.data import check_dataset
from ganfw.testing.losses import check_loss
from ganfw.testing.lr_schedules import check_lr_schedule
from ganfw.testing.networks import (
    check_device_moves,
    check_discriminator,
    check_generator,
    check_sample_latent,
    check_state_round_trip,
)
from ganfw.testing.penalties import check_penalties, check_penalty
from ganfw.testing.plugin import (
    check_api_version,
    check_installed,
    check_params,
    check_spec,
    plugin_specs,
    resolve_params,
)
from ganfw.testing.schedules import check_schedule

__all__ = [
    "ContractError",
    "check_api_version",
    "check_augmentation",
    "check_callback",
    "check_component",
    "check_dataset",
    "check_device_moves",
    "check_discriminator",
    "check_generator",
    "check_installed",
    "check_loss",
    "check_lr_schedule",
    "check_params",
    "check_penalties",
    "check_penalty",
    "check_sample_latent",
    "check_schedule",
    "check_spec",
    "check_state_round_trip",
    "plugin_specs",
    "resolve_params",
]


@dataclass(frozen=True)
class _Context:
    image_shape: ImageShape
    num_classes: int
    data_root: str
    data_limit: int


def _network(factory: Any, params: Any, c: _Context, conditional: bool) -> Any:
    """A generator or discriminator built as the engine builds it."""
    if conditional:
        return factory(params, image_shape=c.image_shape, num_classes=c.num_classes)
    return factory(params, image_shape=c.image_shape)


#: kind -> (factory, params, context, conditional) -> None: build the component as the engine
#: does and check it. Metrics have none: they get the spec checks only, as building one may need
#: reference data.
_CHECKS: dict[str, Callable[[Any, Any, _Context, bool], None]] = {
    "generator": lambda f, p, c, k: check_generator(
        _network(f, p, c, k), c.image_shape, num_classes=c.num_classes if k else 0
    ),
    "discriminator": lambda f, p, c, k: check_discriminator(
        _network(f, p, c, k), c.image_shape, num_classes=c.num_classes if k else 0
    ),
    "loss": lambda f, p, c, k: check_loss(f(p), c.image_shape),
    "schedule": lambda f, p, c, k: check_schedule(f(p)),
    "dataset": lambda f, p, c, k: check_dataset(f(p, root=c.data_root, limit=c.data_limit), c.data_limit),
    "augmentation": lambda f, p, c, k: check_augmentation(f(p), c.image_shape),
    "callback": lambda f, p, c, k: check_callback(f(p), c.image_shape),
    "lr-schedule": lambda f, p, c, k: check_lr_schedule(f(p)),
}


def check_component(
    component: ComponentSpec | Component,
    image_shape: ImageShape = (1, 28, 28),
    *,
    params: Any = None,
    num_classes: int = 10,
    data_root: str | None = None,
    data_limit: int = 64,
) -> None:
    """Check a spec (or a registry component): :func:`check_spec`, then build it as the engine
    does and run the checks of its kind (metrics: :func:`check_spec` only).

    Args:
        component: what a hook returned (or ``registry.resolve(kind, name)``).
        image_shape: (C, H, W) the generator, discriminator, loss's penalties, augmentation or
            callback is tried on.
        params: an instance of ``spec.params``, or a table of values as in a recipe
            (``{"width": 8}``); default: the declared defaults. Component params are resolved
            among the installed components, as a recipe's (:func:`resolve_params`).
        num_classes: ``K``, what a ``conditional=True`` generator or discriminator is built with.
        data_root, data_limit: what a dataset is built with (``factory(params, root=, limit=)``);
            the root is resolved as for a run (default: ``GANFW_DATA``, else the user cache).
    """
    spec = component.spec if isinstance(component, Component) else component
    with about(f"{getattr(spec, 'kind', '?')} {getattr(spec, 'name', spec)!r}"):
        factory = check_spec(spec)
        params = resolve_params(spec, params)
        if spec.kind in _CHECKS:
            root = str(resolve_data_root(data_root)[0])
            context = _Context(as_image_shape(image_shape), num_classes, root, data_limit)
            _CHECKS[spec.kind](factory, params, context, spec.conditional)
