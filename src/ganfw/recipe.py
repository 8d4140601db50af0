"""Where a recipe is parsed: TOML files, ``extends``, ``--set`` overrides and validation.

Loading happens in three stages, each able to fail with a :class:`RecipeError` that names the
file and the dotted key (and the ``--set`` that supplied the value):

1. :func:`load_tables` reads the file and the chain of files it ``extends`` and deep-merges them
   (tables merged, everything else - arrays included - replaced by the extending file; a table
   whose ``name`` the extending file changes, such as ``[generator]``, leaves the base's
   ``params`` behind: they were the other component's);
2. :func:`apply_overrides` applies ``--set a.b.c=value`` (value parsed as TOML, else a string);
3. :func:`validate` checks every key against the schema in :mod:`ganfw.config` and the
   components' declared params, and returns a :class:`Recipe`.

This module must not import torch.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from ganfw import config
from ganfw.bundled import missing_recipe_message, resolve_extends
from ganfw.errors import UserError
from ganfw.params import ParamError, as_dict, build, component_kind, unknown_key_message
from ganfw.paths import read_user_file, refused, resolved, shown, user_path
from ganfw.plugins import Component, LookupProblem, Registry

Key = tuple[str, ...]

_SET_KEY = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_INDEX = re.compile(r"(\[\d+\])+$")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class RecipeError(UserError):
    """A recipe problem, rendered as one line: ``FILE: KEY (from --set ...): MESSAGE``."""

    def __init__(self, source: str, key: str, message: str, override: str | None = None):
        self.source, self.key, self.message, self.override = source, key, message, override
        where = source + (f": {key}" if key else "")
        if override:
            where += f" (from --set {override})"
        super().__init__(f"{where}: {message}")


@dataclass
class Tables:
    """A merged recipe table, with where each value came from.

    ``origin`` maps a key path to the file that set it, ``overrides`` to the ``--set`` text.
    """

    root: Path
    data: dict[str, Any]
    origin: dict[Key, str]
    overrides: dict[Key, str]

    def source_of(self, key: Key) -> tuple[str, str | None]:
        """The file (and ``--set`` text, if any) that supplied ``key`` or its closest parent."""
        for n in range(len(key), 0, -1):
            if key[:n] in self.overrides:
                return self.origin.get(key[:n], str(self.root)), self.overrides[key[:n]]
        for n in range(len(key), 0, -1):
            if key[:n] in self.origin:
                return self.origin[key[:n]], None
        return str(self.root), None

    def error(self, key: Key, message: str) -> RecipeError:
        # ``betas[1]`` (an item of a list) came from wherever the list came from.
        source, override = self.source_of(tuple(_INDEX.sub("", part) for part in key))
        return RecipeError(source, ".".join(key), message, override)


def _read_toml(path: Path, referrer: str | None) -> dict[str, Any]:
    """The TOML tables of the recipe file ``path`` (``referrer``: the recipe that ``extends`` it),
    read as :func:`ganfw.paths.read_user_file` reads (a regular file or a pipe with a writer, of
    a recipe's size)."""
    try:
        text = read_user_file(path).decode("utf-8")
    except FileNotFoundError:
        if referrer:  # the mistake is in the extending file's ``extends``
            raise RecipeError(
                referrer, "extends", missing_recipe_message(f"the base recipe {shown(path)} does not exist")
            ) from None
        raise RecipeError(shown(path), "", "recipe file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        reason = f"not UTF-8 text ({e.reason} at byte {e.start})" if isinstance(e, UnicodeDecodeError) else refused(e)
        if referrer:
            raise RecipeError(referrer, "extends", f"cannot read the base recipe: {reason}") from None
        raise RecipeError(
            shown(path), "", f"cannot read the recipe: {reason.removeprefix(shown(path) + ': ')}"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(shown(path), "", f"invalid TOML: {e}") from None


def _merge(base: dict, top: dict, origin: dict[Key, str], source: str, prefix: Key = ()) -> None:
    for key, value in top.items():
        path = prefix + (key,)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            origin[path] = source
            if _renamed(base[key], value):
                _drop(base[key], "params", origin, path)
            _merge(base[key], value, origin, source, path)
        else:
            base[key] = _copy(value)
            _forget(origin, path)
            _mark(value, origin, source, path)


def _renamed(base: dict, top: dict) -> bool:
    """Whether the extending table ``top`` names another component than ``base`` does: then the
    base's ``params`` (those of the component no longer used) do not follow."""
    return "name" in top and "name" in base and top["name"] != base["name"]


def _drop(table: dict, key: str, origin: dict[Key, str], prefix: Key) -> None:
    """Remove ``table[key]`` and what ``origin`` records of it."""
    table.pop(key, None)
    _forget(origin, prefix + (key,))


def _forget(origin: dict[Key, str], path: Key) -> None:
    for stale in [k for k in origin if k[: len(path)] == path]:
        del origin[stale]


def _mark(value: Any, origin: dict[Key, str], source: str, path: Key) -> None:
    origin[path] = source
    if isinstance(value, dict):
        for k, v in value.items():
            _mark(v, origin, source, path + (k,))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def load_tables(path: str | Path) -> Tables:
    """Read ``path`` and every file it ``extends`` (a file relative to the extending one, else a
    bundled recipe's name: :func:`ganfw.bundled.resolve_extends`), merged."""
    root = user_path(path, "recipe")
    chain: list[tuple[Path, dict[str, Any]]] = []
    current, referrer = root, None
    seen: list[Path] = []
    while True:
        real = resolved(current)
        if real in seen:
            cycle = " -> ".join(str(p) for p in [*seen, real])
            raise RecipeError(str(chain[-1][0]), "extends", f"extends forms a cycle: {cycle}")
        seen.append(real)
        table = _read_toml(current, referrer)
        chain.append((current, table))
        parent = table.get("extends")
        if parent is None:
            break
        if not isinstance(parent, str):
            raise RecipeError(str(current), "extends", "expected a file name (a string)")
        referrer = str(current)
        current = resolve_extends(current, parent)

    merged: dict[str, Any] = {}
    origin: dict[Key, str] = {}
    for file, table in reversed(chain):
        _merge(merged, {k: v for k, v in table.items() if k != "extends"}, origin, str(file))
    return Tables(root, merged, origin, {})


def parse_override(text: str) -> tuple[Key, Any]:
    """``"train.epochs=5"`` -> ``(("train", "epochs"), 5)``; a value that is not TOML is a string."""
    if "\n" in text or "\r" in text:
        raise RecipeError("--set", "", f"{text!r} holds a line break; a --set gives one key=value on one line")
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not _SET_KEY.fullmatch(key):
        raise RecipeError("--set", "", f"{text!r} is not of the form dotted.key=value")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return tuple(key.split(".")), value


def apply_overrides(tables: Tables, overrides: list[str]) -> None:
    """Apply each ``--set dotted.key=value`` in order, creating tables as needed."""
    for text in overrides:
        key, value = parse_override(text)
        node = tables.data
        for i, part in enumerate(key[:-1]):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                where = ".".join(key[: i + 1])
                raise RecipeError(str(tables.root), where, f"is not a table, so {'.'.join(key)} cannot be set", text)
            node = child
        node[key[-1]] = value
        _mark(value, tables.origin, str(tables.root), key)
        for k in [k for k in tables.overrides if k[: len(key)] == key]:
            del tables.overrides[k]
        tables.overrides[key] = text


class ComponentError(UserError):
    """A component picked by a recipe could not be built; ``__cause__`` holds the original error
    (``ganfw -v`` prints its traceback)."""


def _one_line(e: BaseException) -> str:
    return " ".join(f"{type(e).__name__}: {e}".split())


@dataclass(frozen=True)
class ComponentChoice:
    """A component picked by a recipe section, with its validated params."""

    section: str
    ref: str
    component: Component
    params: Any

    @property
    def who(self) -> str:
        """``[generator] generator 'dcgan' (plugin dcgan, package ganfw 0.1.0)``, for messages."""
        c = self.component
        return f"[{self.section}] {c.spec.kind} {self.ref!r} (plugin {c.plugin}, package {c.package} {c.version})"

    def to_table(self) -> dict[str, Any]:
        """``{"name": ..., "params": {...}}`` as a recipe would write it."""
        table: dict[str, Any] = {"name": self.ref}
        if self.params is not None:
            table["params"] = as_dict(self.params)
        return table

    @property
    def conditional(self) -> bool:
        """The component takes class labels (its spec says ``conditional=True``)."""
        return self.component.spec.conditional

    def build(self, **context: Any) -> Any:
        """Import the factory and call it: ``factory(params, **context)``.

        Raises :class:`ComponentError` naming the component, its plugin and package when the
        factory does not import or raises (a :class:`UserError` from the factory passes as is).
        """
        c, who = self.component, self.who
        try:
            factory = c.spec.load_factory()
        except Exception as e:  # third-party code: any error must end as one line
            raise ComponentError(f"{who}: cannot import its factory {c.spec.factory!r}: {_one_line(e)}") from e
        try:
            return factory(self.params, **context)
        except UserError:
            raise
        except Exception as e:
            raise ComponentError(f"{who} failed to build: {_one_line(e)}") from e


@dataclass(frozen=True)
class Recipe:
    """A validated recipe: components resolved, every setting filled in with its default."""

    path: Path
    generator: ComponentChoice
    discriminator: ComponentChoice
    loss: ComponentChoice
    schedule: ComponentChoice
    lr_schedule: ComponentChoice
    data: ComponentChoice
    augment: ComponentChoice | None
    callbacks: tuple[ComponentChoice, ...]
    observers: tuple[ComponentChoice, ...]
    data_root: str | None
    data_limit: int | None
    data_stream: str
    optim: dict[str, config.OptimizerConfig]
    train: config.TrainConfig
    output: config.OutputConfig
    eval: config.EvalConfig

    def resolved(self) -> dict[str, Any]:
        """The full recipe as a table: ``ganfw check`` prints it, runs save it as recipe.toml."""
        out: dict[str, Any] = {}
        for section in config.COMPONENT_SECTIONS:
            table = getattr(self, section).to_table()
            if section == "data":
                table.update({k: v for k, v in (("root", self.data_root), ("limit", self.data_limit)) if v is not None})
                table["stream"] = self.data_stream
            out[section] = table
        if self.augment is not None:
            out["augment"] = self.augment.to_table()
        if self.callbacks:
            out["callbacks"] = [c.to_table() for c in self.callbacks]
        out["optim"] = {net: as_dict(o) for net, o in self.optim.items()}
        for section in config.SETTINGS:
            out[section] = as_dict(getattr(self, section))
        return out

    def to_toml(self) -> str:
        return tomli_w.dumps(self.resolved())


def _settings(tables: Tables, key: Key, schema: type) -> Any:
    value = _get(tables.data, key)
    try:
        return build(schema, {} if value is None else value)
    except ParamError as e:
        raise tables.error(key + tuple(e.key.split(".")) if e.key else key, e.message) from None


def _get(data: dict, key: Key) -> Any:
    node: Any = data
    for part in key:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _component(tables: Tables, registry: Registry, section: str) -> ComponentChoice:
    kind, default = config.COMPONENT_SECTIONS[section]
    table = tables.data.get(section, {} if default else None)
    if table is None:
        raise tables.error((section,), f"missing section [{section}] (a {kind} is required)")
    extra = set(config.DATA_KEYS) if section == "data" else set()
    return _choice(tables, registry, (section,), kind, table, default, extra)


def _choice(
    tables: Tables,
    registry: Registry,
    key: Key,
    kind: str,
    table: Any,
    default: str | None = None,
    extra: AbstractSet[str] = frozenset(),
) -> ComponentChoice:
    """Resolve the component table at ``key`` (``{name, params}``, or just a name where a param
    holds a component) and validate its params, nested components included."""
    if isinstance(table, str) and len(key) > 1:
        table = {"name": table}
    if not isinstance(table, dict):
        raise tables.error(key, "expected a table")
    allowed = {"name", "params"} | extra
    for k in table:
        if k not in allowed:
            raise tables.error(key + (k,), unknown_key_message(k, allowed))
    ref = table.get("name", default)
    if ref is None:
        raise tables.error(key + ("name",), f"missing: the name of the {kind} to use")
    if not isinstance(ref, str):
        raise tables.error(key + ("name",), f"expected the name of a {kind} (a string)")
    try:
        component = registry.resolve(kind, ref)
    except LookupProblem as e:
        raise tables.error(key + ("name",), str(e)) from None
    values = table.get("params", {})
    section = ".".join(key)
    spec = component.spec
    if spec.params is None:
        if values != {}:  # also refuses ``params = 0``, which is no table at all
            raise tables.error(key + ("params",), f"{kind} {ref!r} takes no params")
        return ComponentChoice(section, ref, component, None)
    try:
        params = build(spec.params, values)
    except ParamError as e:
        raise tables.error(key + ("params",) + (tuple(e.key.split(".")) if e.key else ()), e.message) from None
    return ComponentChoice(section, ref, component, _resolve_nested(tables, registry, key, params))


def _resolve_nested(tables: Tables, registry: Registry, key: Key, params: Any) -> Any:
    """``params`` with each component param that is still a name or table resolved."""
    nested = {
        f.name: _choice(tables, registry, key + ("params", f.name), sub, getattr(params, f.name))
        for f in dataclasses.fields(params)
        if (sub := component_kind(f)) and not isinstance(getattr(params, f.name), ComponentChoice)
    }
    return dataclasses.replace(params, **nested) if nested else params


def resolve_component_params(params: Any, registry: Registry, where: str) -> Any:
    """An instance of a component's params with each component param (:func:`ganfw.params.component_param`)
    resolved among ``registry``'s components as a recipe would; a :class:`RecipeError` names
    ``where`` and the key."""
    return _resolve_nested(Tables(Path(where), {}, {}, {}), registry, (), params)


def _optional_components(tables: Tables, registry: Registry) -> dict[str, Any]:
    """``augment`` (or ``None``) and the ``callbacks`` tuple."""
    out: dict[str, Any] = {}
    for section, kind in config.OPTIONAL_SECTIONS.items():
        table = tables.data.get(section)
        out[section] = None if table is None else _choice(tables, registry, (section,), kind, table)
    for section, kind in config.COMPONENT_LISTS.items():
        items = tables.data.get(section, [])
        if not isinstance(items, list):
            raise tables.error((section,), f"expected an array of tables ([[{section}]])")
        out[section] = tuple(_choice(tables, registry, (f"{section}[{i}]",), kind, t) for i, t in enumerate(items))
    return out


def validate(tables: Tables, registry: Registry) -> Recipe:
    """Check every key of a merged recipe; return the :class:`Recipe`."""
    _refuse_nul_bytes(tables, tables.data, ())
    known = {*config.COMPONENT_SECTIONS, *config.OPTIONAL_SECTIONS, *config.COMPONENT_LISTS, *config.SETTINGS, "optim"}
    for key in tables.data:
        if key not in known:
            raise tables.error((key,), unknown_key_message(key, known))
    components: dict[str, Any] = {s: _component(tables, registry, s) for s in config.COMPONENT_SECTIONS}
    components.update(_optional_components(tables, registry))

    data = tables.data.get("data", {})
    root, limit, stream = data.get("root"), data.get("limit"), data.get("stream", "auto")
    if root is not None and not isinstance(root, str):
        raise tables.error(("data", "root"), "expected a directory (a string)")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise tables.error(("data", "limit"), f"expected a positive integer, got {limit!r}")
    if stream not in ("auto", "always", "never"):
        raise tables.error(("data", "stream"), f'expected "auto", "always" or "never", got {stream!r}')

    optim_table = tables.data.get("optim", {})
    if not isinstance(optim_table, dict):
        raise tables.error(("optim",), "expected a table with [optim.generator] and [optim.discriminator]")
    for key in optim_table:
        if key not in config.OPTIMIZERS:
            raise tables.error(("optim", key), unknown_key_message(key, config.OPTIMIZERS))
    optim = {net: _settings(tables, ("optim", net), config.OptimizerConfig) for net in config.OPTIMIZERS}
    settings = {s: _settings(tables, (s,), schema) for s, schema in config.SETTINGS.items()}

    device = settings["train"].device
    if not _DEVICE.fullmatch(device):
        raise tables.error(("train", "device"), f"{device!r} is not auto, cpu, mps, cuda or cuda:N")
    try:
        config.budget_seconds(settings["train"].budget)
    except ValueError as e:
        raise tables.error(("train", "budget"), str(e)) from None
    samples = settings["output"].samples
    if math.isqrt(samples) ** 2 != samples:
        raise tables.error(("output", "samples"), f"{samples} is not a square number (16 draws a 4x4 grid)")
    for i, name in enumerate(settings["eval"].metrics):
        try:
            registry.resolve("metric", name)
        except LookupProblem as e:
            raise tables.error(("eval", "metrics"), f"item {i}: {e}") from None

    observers = _observers(tables, registry, settings["output"], components["callbacks"])
    return Recipe(
        tables.root,
        **components,
        observers=observers,
        data_root=root,
        data_limit=limit,
        data_stream=stream,
        optim=optim,
        **settings,
    )


def _refuse_nul_bytes(tables: Tables, value: Any, key: Key) -> None:
    """Refuse a string holding a NUL byte anywhere in the recipe (TOML writes one as ``"\\u0000"``):
    a recipe's strings name files and components, and no file or name can hold one."""
    if isinstance(value, str) and "\0" in value:
        raise tables.error(key, f"{value!r} holds a NUL byte (\\x00), which no path or name can")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_nul_bytes(tables, v, key + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_nul_bytes(tables, v, key[:-1] + (f"{key[-1]}[{i}]",))


def _observers(
    tables: Tables, registry: Registry, output: config.OutputConfig, callbacks: tuple[ComponentChoice, ...]
) -> tuple[ComponentChoice, ...]:
    """The callbacks that ``[output]`` switches on (``health = true``...) and ``[[callbacks]]``
    does not already list. One on by default whose plugin is disabled or absent is left out;
    one the recipe switches on must exist."""
    listed = {c.component.spec.name for c in callbacks}
    written = tables.data.get("output", {})
    wanted = [name for name in config.OBSERVERS if getattr(output, name) and name not in listed]
    return tuple(
        _choice(tables, registry, ("output", name), "callback", {"name": name})
        for name in wanted
        if name in written or name in registry.names("callback")
    )


def load_recipe(path: str | Path, registry: Registry, overrides: list[str] | None = None) -> Recipe:
    """Read, merge, override and validate a recipe file."""
    try:
        tables = load_tables(path)
        apply_overrides(tables, overrides or [])
        return validate(tables, registry)
    except RecursionError:
        raise UserError(
            f"{path}: the recipe is nested too deeply (tables or arrays inside each other thousands of levels down)"
        ) from None
