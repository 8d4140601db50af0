"""Checks on what a plugin module declares: its API version, its hooks, its specs and their
params, and that the package is installed under the ``ganfw`` entry-point group."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from ganfw.params import ParamError, as_dict, build, check_declaration, component_kind
from ganfw.plugins import Component, check_specs, disabled_from_env, load_registry
from ganfw.recipe import RecipeError, resolve_component_params
from ganfw.specs import KINDS, ComponentSpec
from ganfw.testing.contract import ContractError, expect
from ganfw.version import API_VERSION


def check_api_version(module: ModuleType) -> None:
    """The plugin module declares ``GANFW_API`` equal to this ganfw's plugin API version (the
    registry skips it otherwise)."""
    api = getattr(module, "GANFW_API", None)
    declared = f"declares GANFW_API = {api!r}" if api is not None else "declares no GANFW_API"
    expect(
        api == API_VERSION,
        f"{module.__name__} {declared}; this ganfw's plugin API is {API_VERSION}: write GANFW_API = {API_VERSION} "
        "in the module once it keeps the contracts (docs/plugins.md, 'Plugin API versions')",
    )


def plugin_specs(module: ModuleType) -> list[ComponentSpec]:
    """Every spec returned by the hooks of a plugin module, checked as the registry checks them:
    the module declares ``GANFW_API`` (:func:`check_api_version`), each hook is decorated with
    ``@hookimpl`` and returns a list of specs of its kind with distinct names, and no decorated
    function is a misspelt hook."""
    check_api_version(module)
    specs: list[ComponentSpec] = []
    for name in dir(module):
        if hasattr(getattr(module, name), "ganfw_impl") and name not in KINDS.values():
            close = difflib.get_close_matches(name, KINDS.values(), n=1)
            hint = f"; did you mean {close[0]}()?" if close else ""
            raise ContractError(f"{module.__name__}.{name}() is not a ganfw hook{hint}")
    for kind, hook_name in KINDS.items():
        hook = getattr(module, hook_name, None)
        if hook is None:
            continue
        expect(hasattr(hook, "ganfw_impl"), f"{module.__name__}.{hook_name}() lacks the @hookimpl decorator")
        result = hook()
        try:
            check_specs(result, kind, hook_name)
        except TypeError as e:
            raise ContractError(str(e)) from None
        specs.extend(result)
    expect(specs, f"{module.__name__} offers no components (hooks: {', '.join(KINDS.values())})")
    return specs


def check_installed(plugin: str, specs: Iterable[ComponentSpec] | None = None) -> list[Component]:
    """The plugin named ``plugin`` (its entry-point name) loads without problems and offers
    components; with ``specs``, exactly those. Returns its components as the registry has them."""
    expect(plugin not in disabled_from_env(), f"plugin {plugin!r} is disabled by GANFW_DISABLE_PLUGINS")
    registry = load_registry(strict=False)
    for problem in registry.problems:
        expect(problem.plugin != plugin, problem.line())
    found = [c for c in registry.components if c.plugin == plugin]
    installed = ", ".join(sorted({c.plugin for c in registry.components}))
    expect(
        found,
        f"no plugin {plugin!r} is installed (installed: {installed}); check the [project.entry-points.ganfw] "
        "line of pyproject.toml and install the package (pip install -e .)",
    )
    if specs is not None:
        want = sorted((s.kind, s.name) for s in specs)
        have = sorted((c.spec.kind, c.spec.name) for c in found)
        expect(have == want, f"plugin {plugin!r} is installed with {have}, expected {want} (reinstall it?)")
    return found


def check_params(spec: ComponentSpec) -> None:
    """The spec's params dataclass is well declared (:func:`ganfw.params.check_declaration`), a
    recipe that sets nothing gets exactly the defaults, and the defaults survive the resolved
    recipe that ``ganfw check`` prints."""
    if spec.params is None:
        return
    name = spec.params.__name__
    try:
        check_declaration(spec.params)
    except (TypeError, ValueError) as e:
        raise ContractError(f"params {name}: {e}") from None
    try:
        from_recipe = build(spec.params, {})
    except ParamError as e:  # a __post_init__ that refuses the declared defaults
        raise ContractError(f"params {name}: the defaults are refused: {e}") from None
    defaults = spec.default_params()
    expect(from_recipe == defaults, f"params {name}: an empty table does not give the defaults")
    expect(
        build(spec.params, as_dict(defaults)) == defaults,
        f"params {name}: the defaults change through a resolved recipe",
    )


def check_spec(spec: ComponentSpec) -> Any:
    """:func:`check_params`, then import the factory; return it (it must be callable)."""
    expect(isinstance(spec, ComponentSpec), f"{spec!r} is not a ComponentSpec")
    check_params(spec)
    try:
        factory = spec.load_factory()
    except Exception as e:  # ImportError, AttributeError, or the module itself failing
        raise ContractError(f"cannot import its factory {spec.factory!r}: {type(e).__name__}: {e}") from None
    expect(callable(factory), f"its factory {spec.factory!r} is not callable")
    return factory


def resolve_params(spec: ComponentSpec, params: Any = None) -> Any:
    """The params the factory gets from a recipe: ``params`` (``None``: the declared defaults; a
    table as in a recipe: validated, raising :class:`ganfw.params.ParamError`; or an instance),
    with each component param (:func:`ganfw.component_param`) resolved among the installed
    components into a :class:`ganfw.recipe.ComponentChoice`, as the recipe loader does."""
    if spec.params is None:
        return None
    if params is None or isinstance(params, Mapping):
        params = build(spec.params, params or {})
    if not any(component_kind(f) for f in dataclasses.fields(params)):
        return params
    try:
        return resolve_component_params(params, load_registry(), f"{spec.kind} {spec.name!r}")
    except RecipeError as e:
        raise ContractError(f"component param {e.key}: {e.message}") from None
