"""The plugin author's surface: every name a ganfw plugin may use, in one place.

A plugin's hook module (imported by ``ganfw list``) needs only the torch-free names::

    from ganfw.plugin import ComponentSpec, hookimpl, param

and its factory modules take the contracts and helpers from here as well::

    from ganfw.plugin import Generator, ImageShape

The built-in plugins import nothing else from ganfw (a test holds them to it), and
docs/plugins.md documents exactly these names. Importing this module does not import torch: the
names that need it (the contracts, the sampling and image helpers) are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ganfw.errors import UserError, printable
from ganfw.hookspecs import hookimpl
from ganfw.params import ComponentRef, component_param, param
from ganfw.paths import resolve_data_root, user_cache_dir
from ganfw.specs import ComponentSpec
from ganfw.version import API_VERSION

if TYPE_CHECKING:
    from ganfw.artifacts import PAD_VALUE, to_uint8
    from ganfw.blame import one_line
    from ganfw.checkpoint import latest_checkpoint
    from ganfw.contracts import (
        Augmentation,
        Batch,
        Callback,
        Dataset,
        Decision,
        Discriminator,
        DiscriminatorFn,
        Embedding,
        Generator,
        ImageShape,
        Loss,
        LossValue,
        LRSchedule,
        Metric,
        MetricResult,
        Penalty,
        PenaltyInputs,
        Schedule,
        Split,
        Stateful,
        StepReport,
        TrainerView,
        as_image_shape,
    )
    from ganfw.evaluation.bootstrap import FrechetTo
    from ganfw.report import write_report
    from ganfw.sampling import noise

#: Names loaded on first use, by the module that defines them (these import torch).
_CONTRACTS = (
    "Augmentation",
    "Batch",
    "Callback",
    "Dataset",
    "Decision",
    "Discriminator",
    "DiscriminatorFn",
    "Embedding",
    "Generator",
    "ImageShape",
    "LRSchedule",
    "Loss",
    "LossValue",
    "Metric",
    "MetricResult",
    "Penalty",
    "PenaltyInputs",
    "Schedule",
    "Split",
    "Stateful",
    "StepReport",
    "TrainerView",
    "as_image_shape",
)
_LAZY = {
    **dict.fromkeys(_CONTRACTS, "ganfw.contracts"),
    "PAD_VALUE": "ganfw.artifacts",
    "to_uint8": "ganfw.artifacts",
    "noise": "ganfw.sampling",
    "latest_checkpoint": "ganfw.checkpoint",
    "FrechetTo": "ganfw.evaluation.bootstrap",
    "one_line": "ganfw.blame",
    "write_report": "ganfw.report",
}

__all__ = [
    "API_VERSION",
    "ComponentRef",
    "ComponentSpec",
    "UserError",
    "printable",
    "component_param",
    "hookimpl",
    "param",
    "resolve_data_root",
    "user_cache_dir",
    # the contracts (ganfw.contracts)
    "Augmentation",
    "Batch",
    "Callback",
    "Dataset",
    "Decision",
    "Discriminator",
    "DiscriminatorFn",
    "Embedding",
    "Generator",
    "ImageShape",
    "LRSchedule",
    "Loss",
    "LossValue",
    "Metric",
    "MetricResult",
    "Penalty",
    "PenaltyInputs",
    "Schedule",
    "Split",
    "Stateful",
    "StepReport",
    "TrainerView",
    "as_image_shape",
    # helpers the built-in plugins use
    "FrechetTo",
    "PAD_VALUE",
    "latest_checkpoint",
    "noise",
    "one_line",
    "to_uint8",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """A name of :data:`_LAZY`, imported from its module when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ganfw.plugin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
