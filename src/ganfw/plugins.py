"""Where components are looked up: plugins load from the ``ganfw`` entry-point group.

Built-in plugins (``plugins/`` in the source tree) and third-party packages take the same path.
A plugin that fails to import, whose hook raises, or that returns malformed specs is skipped with
a :class:`PluginProblem`; everything else keeps working. So is a plugin that implements a hook
ganfw does not define (a typo), and the second of two distributions that register the same
plugin name (a built-in plugin always keeps its name). ``GANFW_STRICT_PLUGINS=1`` re-raises
instead (:class:`PluginError` where there is no exception to re-raise).
``GANFW_DISABLE_PLUGINS=a,b`` (or ``ganfw --disable-plugin a``) skips named plugins.
This module must not import torch.
"""

from __future__ import annotations

import difflib
import os
import re
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points

import pluggy

from ganfw import hookspecs
from ganfw.specs import KINDS, ComponentSpec
from ganfw.version import API_VERSION

GROUP = "ganfw"


#: The distribution whose entry points are the built-in plugins; it wins a plugin-name tie.
BUILTIN_DISTRIBUTION = "ganfw"


@dataclass(frozen=True)
class Component:
    """A spec together with who supplied it."""

    spec: ComponentSpec
    plugin: str
    package: str
    version: str

    @property
    def qualified_name(self) -> str:
        """``plugin:name``, unique even when two plugins offer the same name."""
        return f"{self.plugin}:{self.spec.name}"


@dataclass(frozen=True)
class PluginProblem:
    """Why a plugin (or one of its hooks) was skipped."""

    plugin: str
    package: str
    message: str
    traceback: str = ""

    def line(self) -> str:
        return f"plugin {self.plugin!r} (package {self.package}) skipped: {self.message}"


class PluginError(RuntimeError):
    """Raised in strict mode for a plugin problem that has no exception of its own."""


class LookupProblem(LookupError):
    """A recipe names a component that does not exist or is ambiguous."""


@dataclass
class Registry:
    """Every component from every loaded plugin, and the problems met while loading."""

    components: list[Component] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)
    plugin_manager: pluggy.PluginManager | None = None

    def of_kind(self, kind: str) -> list[Component]:
        return [c for c in self.components if c.spec.kind == kind]

    def clashes(self) -> dict[tuple[str, str], list[Component]]:
        """``(kind, name) -> providers`` for every name offered by more than one plugin."""
        by_name: dict[tuple[str, str], list[Component]] = defaultdict(list)
        for c in self.components:
            by_name[(c.spec.kind, c.spec.name)].append(c)
        return {k: v for k, v in by_name.items() if len(v) > 1}

    def names(self, kind: str) -> list[str]:
        """The names a recipe may use for ``kind`` (qualified where a name clashes)."""
        clashing = {name for (k, name) in self.clashes() if k == kind}
        return sorted(c.qualified_name if c.spec.name in clashing else c.spec.name for c in self.of_kind(kind))

    def resolve(self, kind: str, ref: str) -> Component:
        """Find the component ``ref`` (``name`` or ``plugin:name``) of ``kind``.

        Raises :class:`LookupProblem` naming what exists, or the providers of an ambiguous name.
        """
        plugin, _, name = ref.rpartition(":")
        found = [c for c in self.of_kind(kind) if c.spec.name == name and (not plugin or c.plugin == plugin)]
        if len(found) == 1:
            return found[0]
        if not found:
            available = ", ".join(self.names(kind)) or "(none installed)"
            raise LookupProblem(f"unknown {kind} {ref!r}; available: {available}")
        providers = ", ".join(f"{c.plugin} ({c.package})" for c in found)
        choices = " or ".join(repr(c.qualified_name) for c in found)
        raise LookupProblem(f"{kind} {ref!r} is offered by several plugins: {providers}; write {choices}")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def disabled_from_env() -> set[str]:
    """Plugin names listed in ``GANFW_DISABLE_PLUGINS`` (comma-separated)."""
    raw = os.environ.get("GANFW_DISABLE_PLUGINS", "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _package_of(ep: EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", "?"
    return dist.metadata.get("Name") or "unknown", dist.metadata.get("Version") or "?"


def _one_line(text: str) -> str:
    """Problems are shown as one line each: fold the lines of a multi-line message."""
    return re.sub(r"\s*\n\s*", " ", text.strip())


def load_registry(
    disabled: set[str] | frozenset[str] = frozenset(),
    strict: bool | None = None,
) -> Registry:
    """Import every plugin of the ``ganfw`` entry-point group and collect its specs.

    Args:
        disabled: plugin (entry-point) names to skip, added to ``GANFW_DISABLE_PLUGINS``.
        strict: re-raise plugin errors; default from ``GANFW_STRICT_PLUGINS``.
    """
    strict = _env_flag("GANFW_STRICT_PLUGINS") if strict is None else strict
    disabled = set(disabled) | disabled_from_env()
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    loader = _Loader(strict, Registry(plugin_manager=pm), pm)
    # Same plugin name from two distributions: the built-in one wins, otherwise the first on
    # sys.path; the other one is reported, never silently dropped.
    eps = sorted(entry_points(group=GROUP), key=lambda e: (e.name, _package_of(e)[0] != BUILTIN_DISTRIBUTION))
    for ep in eps:
        if ep.name not in disabled:
            loader.register(ep)
    loader.collect()
    return loader.registry


@dataclass
class _Loader:
    """One load of the entry-point group: each plugin imported, checked and registered with
    ``pm``; each problem recorded in ``registry`` (or raised, when ``strict``)."""

    strict: bool
    registry: Registry
    pm: pluggy.PluginManager
    packages: dict[str, tuple[str, str]] = field(default_factory=dict)

    def problem(self, plugin: str, message: str, exc: BaseException | None = None,
                package: tuple[str, str] | None = None) -> None:  # fmt: skip
        if self.strict:
            if exc is not None:
                raise exc
            raise PluginError(f"plugin {plugin!r}: {message}")
        package_text = "{} {}".format(*(package or self.packages.get(plugin, ("unknown", "?"))))
        tb = "".join(traceback.format_exception(exc)) if exc is not None else ""
        self.registry.problems.append(PluginProblem(plugin, package_text, _one_line(message), tb))

    def register(self, ep: EntryPoint) -> None:
        """Import the plugin module ``ep`` names, check its API version and hooks, register it."""
        if ep.name in self.packages:
            first = "{} {}".format(*self.packages[ep.name])
            self.problem(ep.name, f"the plugin name is already taken by {first}", package=_package_of(ep))
            return
        self.packages[ep.name] = _package_of(ep)
        try:
            module = ep.load()
        except (Exception, SystemExit) as exc:  # any error in third-party code must not break the CLI
            self.problem(ep.name, f"failed to import {ep.value!r}: {_describe(exc)}", exc)
            return
        api = getattr(module, "GANFW_API", None)
        if api != API_VERSION:
            wrote = f"declares GANFW_API = {api!r}" if api is not None else "declares no GANFW_API (written for API 1)"
            message = f"{wrote}; this ganfw's plugin API is {API_VERSION} (docs/plugins.md, 'Plugin API versions')"
            self.problem(ep.name, message)
            return
        try:
            self.pm.register(module, name=ep.name)
        except Exception as exc:  # a hook with the wrong signature, a module registered twice
            self.problem(ep.name, f"cannot register {ep.value!r}: {_describe(exc)}", exc)
            return
        unknown = sorted(hc.name for hc in self.pm.get_hookcallers(module) or [] if not hc.has_spec())
        if unknown:
            self.pm.unregister(name=ep.name)
            close = difflib.get_close_matches(unknown[0], KINDS.values(), n=1)
            hint = f"; did you mean {close[0]}()?" if close else f"; hooks: {', '.join(KINDS.values())}"
            self.problem(ep.name, f"{unknown[0]}() is not a ganfw hook{hint}")

    def collect(self) -> None:
        """Call every registered hook; add the specs it returns (checked) to the registry."""
        for kind, hook_name in KINDS.items():
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                try:
                    specs = impl.function()
                    check_specs(specs, kind, hook_name)
                except (Exception, SystemExit) as exc:
                    self.problem(impl.plugin_name, f"hook {hook_name}() failed: {_describe(exc)}", exc)
                    continue
                name, version = self.packages[impl.plugin_name]
                self.registry.components.extend(Component(spec, impl.plugin_name, name, version) for spec in specs)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def check_specs(specs: object, kind: str, hook_name: str) -> None:
    """Raise :class:`TypeError` unless ``specs`` (what hook ``hook_name`` returned) is a list (or
    tuple) of :class:`ComponentSpec` of ``kind`` with distinct names."""
    if not isinstance(specs, (list, tuple)):
        raise TypeError(f"{hook_name}() must return a list of ComponentSpec, got {type(specs).__name__}")
    seen = set()
    for spec in specs:
        if not isinstance(spec, ComponentSpec):
            raise TypeError(f"{hook_name}() returned {spec!r}, which is not a ComponentSpec")
        if spec.kind != kind:
            raise TypeError(f"{hook_name}() returned {spec.name!r} of kind {spec.kind!r}, not {kind!r}")
        if spec.name in seen:
            raise TypeError(f"{hook_name}() returned {spec.name!r} twice")
        seen.add(spec.name)
