"""The hooks a ganfw plugin can implement, one per component kind.

A plugin is a module registered under the ``ganfw`` entry-point group::

    # pyproject.toml of your package
    [project.entry-points.ganfw]
    myplugin = "my_package.plugin"

    # my_package/plugin.py
    from ganfw import ComponentSpec, hookimpl

    GANFW_API = 2  # the contract version this plugin is written for

    @hookimpl
    def ganfw_losses():
        return [ComponentSpec(name="relativistic", kind="loss",
                              summary="Relativistic average non-saturating loss",
                              factory="my_package.losses:Relativistic")]

Each component hook takes no arguments and returns a list of :class:`ganfw.ComponentSpec`
of its kind. Keep torch out of the plugin module itself: it is imported for ``ganfw list``;
the ``factory`` module is imported only when a component is built.
This module must not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ganfw.specs import ComponentSpec

hookspec = pluggy.HookspecMarker("ganfw")
#: Marks a plugin module's hook implementations: ``@hookimpl def ganfw_losses(): ...``.
hookimpl = pluggy.HookimplMarker("ganfw")


@hookspec
def ganfw_generators() -> list[ComponentSpec]:
    """Generators: ``forward(z: (N, latent_dim), labels: (N,) | None) -> images (N, C, H, W)``
    in [-1, 1].

    The factory is called as ``factory(params, image_shape=(C, H, W))`` (a ``conditional=True``
    spec: also ``num_classes=K``) and returns a :class:`ganfw.contracts.Generator`.
    """


@hookspec
def ganfw_discriminators() -> list[ComponentSpec]:
    """Discriminators: ``forward(images: (N, C, H, W), labels: (N,) | None) -> logits (N,)``.

    The factory is called as ``factory(params, image_shape=(C, H, W))`` (a ``conditional=True``
    spec: also ``num_classes=K``) and returns a :class:`ganfw.contracts.Discriminator`.
    """


@hookspec
def ganfw_losses() -> list[ComponentSpec]:
    """Adversarial losses; the factory is called as ``factory(params)`` and returns a
    :class:`ganfw.contracts.Loss`."""


@hookspec
def ganfw_schedules() -> list[ComponentSpec]:
    """Balancing strategies; the factory is called as ``factory(params)`` and returns a
    :class:`ganfw.contracts.Schedule`."""


@hookspec
def ganfw_datasets() -> list[ComponentSpec]:
    """Datasets; the factory is called as ``factory(params, root=..., limit=...)`` and returns
    a :class:`ganfw.contracts.Dataset`. ``root`` is the resolved data directory (the recipe's
    ``data.root``, else ``GANFW_DATA``, else the user cache), never ``None``."""


@hookspec
def ganfw_metrics() -> list[ComponentSpec]:
    """Sample-quality metrics; the factory is called as ``factory(params)`` and returns a
    :class:`ganfw.contracts.Metric`."""


@hookspec
def ganfw_augmentations() -> list[ComponentSpec]:
    """Differentiable augmentations of every image D sees (``[augment]``); the factory is called
    as ``factory(params)`` and returns a :class:`ganfw.contracts.Augmentation`."""


@hookspec
def ganfw_callbacks() -> list[ComponentSpec]:
    """Callbacks run at step, epoch and run boundaries (``[[callbacks]]``); the factory is called
    as ``factory(params)`` and returns a :class:`ganfw.contracts.Callback`."""


@hookspec
def ganfw_lr_schedules() -> list[ComponentSpec]:
    """Learning-rate schedules (``[lr_schedule]``); the factory is called as ``factory(params)``
    and returns a :class:`ganfw.contracts.LRSchedule`."""
