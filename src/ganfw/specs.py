"""What a plugin hands the core: one :class:`ComponentSpec` per component.

This module must not import torch: ``ganfw list`` reads specs without building anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ganfw.params import check_declaration

#: The component kinds, in the order ``ganfw list`` shows them, each with its hook name.
KINDS: dict[str, str] = {
    "generator": "ganfw_generators",
    "discriminator": "ganfw_discriminators",
    "loss": "ganfw_losses",
    "schedule": "ganfw_schedules",
    "dataset": "ganfw_datasets",
    "metric": "ganfw_metrics",
    "augmentation": "ganfw_augmentations",
    "callback": "ganfw_callbacks",
    "lr-schedule": "ganfw_lr_schedules",
}

#: Kinds whose components may be class-conditional (``conditional=True``).
CONDITIONAL_KINDS = ("generator", "discriminator")

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_IDENT = r"[A-Za-z_]\w*"
_FACTORY = re.compile(rf"^{_IDENT}(?:\.{_IDENT})*:{_IDENT}(?:\.{_IDENT})*$", re.ASCII)


class SpecError(ValueError):
    """A plugin returned a spec that does not follow the rules below."""


def is_valid_name(name: object) -> bool:
    """Whether ``name`` may name a component (or a plugin made by ``ganfw new-plugin``): lower-case
    letters and digits, words joined by single ``-`` or ``_``, starting with a letter."""
    return isinstance(name, str) and _NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class ComponentSpec:
    """A component offered by a plugin.

    Attributes:
        name: lower-case, words joined by ``-`` or ``_`` (``"non-saturating"``); never contains
            ``:``, which separates the plugin in a qualified name (``"myplugin:dcgan"``).
        kind: one of :data:`KINDS` (``"generator"``, ``"loss"``, ...); must match the hook that
            returned the spec.
        summary: one line for ``ganfw list``.
        factory: ``"package.module:attribute"``; imported only when the component is built, so
            that listing components never imports torch. It is called with an instance of
            ``params`` (generators and discriminators also get ``image_shape=(C, H, W)``).
        params: a dataclass whose fields (each with a default) are the component's recipe
            parameters; declare them with :func:`ganfw.params.param` (and another component
            with :func:`ganfw.params.component_param`). ``None``: no parameters.
        conditional: a generator or discriminator that takes class labels: its factory also
            gets ``num_classes=K`` and the recipe's dataset must be labelled.

    Example::

        ComponentSpec(
            name="dcgan",
            kind="generator",
            summary="DCGAN generator: dense projection then transposed convolutions",
            factory="my_plugin.models:Generator",
            params=GeneratorParams,
        )
    """

    name: str
    kind: str
    summary: str
    factory: str
    params: type | None = None
    conditional: bool = False

    def __post_init__(self) -> None:
        if not is_valid_name(self.name):
            raise SpecError(f"component name {self.name!r} is not lower-case words joined by '-' or '_'")
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise SpecError(f"{self.name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if not isinstance(self.summary, str) or not self.summary.strip() or len(self.summary.splitlines()) != 1:
            raise SpecError(f"{self.name}: summary must be one non-empty line")
        if not isinstance(self.factory, str) or not _FACTORY.fullmatch(self.factory):
            raise SpecError(f"{self.name}: factory {self.factory!r} is not of the form 'package.module:attribute'")
        if self.conditional is not False and (self.conditional is not True or self.kind not in CONDITIONAL_KINDS):
            raise SpecError(f"{self.name}: conditional=True is for a generator or discriminator only")
        if self.params is not None:
            try:
                check_declaration(self.params)
            except (TypeError, ValueError) as e:
                raise SpecError(f"{self.name}: {e}") from None

    def load_factory(self) -> Any:
        """Import and return the factory (this is where torch gets imported)."""
        import importlib

        module_name, _, attr = self.factory.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj

    def default_params(self) -> Any:
        """An instance of ``params`` with every default (``None`` when there are no params)."""
        return self.params() if self.params is not None else None
