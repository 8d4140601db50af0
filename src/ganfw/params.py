"""Declared parameters: one dataclass feeds recipe validation, ``ganfw list --params`` and docs.

A component (or a recipe section) declares its parameters as a dataclass whose fields use
:func:`param`::

    @dataclass(frozen=True)
    class DCGANGeneratorParams:
        latent_dim: int = param(100, "length of the noise vector z", min=1)
        slope: float = param(0.3, "LeakyReLU negative slope", min=0.0)
        norm: Literal["batch", "none"] = param("batch", "normalisation after each layer")

Supported field types: ``int``, ``float`` (an integer is accepted), ``bool``, ``str``,
``Literal[...]`` (a fixed set of values), ``list[T]`` of those, ``T | None``, and
:class:`ComponentRef` (another component, declared with :func:`component_param`).
This module must not import torch.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


class ParamError(ValueError):
    """A value that does not fit its declared parameter.

    Attributes:
        key: the dotted path of the offending value below the dataclass (``"hidden"``,
            ``"betas"``), empty when the error is about the whole table.
        message: what is wrong, without the key.
    """

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message


def param(
    default: Any,
    doc: str,
    *,
    min: float | None = None,
    max: float | None = None,
    min_exclusive: bool = False,
    length: int | None = None,
) -> Any:
    """Declare a parameter with its default, a one-line doc, an optional numeric range (applied
    to each item of a list) and, for lists, an optional exact length.

    Lists get their default copied for every instance.
    """
    metadata = {"doc": doc, "min": min, "max": max, "min_exclusive": min_exclusive, "length": length}
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


class ComponentRef:
    """The declared type of a parameter that names another component (composition: a penalty
    around any loss, an augmentation around any discriminator). In a recipe its value is the
    component's name or a table ``{name = "...", params = {...}}``; the recipe loader resolves
    and validates it like a section of its own and the factory receives a
    :class:`ganfw.recipe.ComponentChoice`, to build with ``.build(...)``. Declare it with
    :func:`component_param`."""


def component_param(kind: str, default: str, doc: str) -> Any:
    """Declare a parameter holding a component of ``kind`` (``"loss"``), by default the one
    named ``default``; its declared type must be :class:`ComponentRef`."""
    return dataclasses.field(default=default, metadata={"doc": doc, "component": kind})


def component_kind(f: dataclasses.Field) -> str | None:
    """The component kind a field holds (declared with :func:`component_param`), else ``None``."""
    return f.metadata.get("component")


@dataclass(frozen=True)
class ParamInfo:
    """One declared parameter as shown to users (``ganfw list --params``)."""

    name: str
    type: str
    default: Any
    doc: str


def _default(f: dataclasses.Field[Any]) -> Any:
    """A declared param's default (from its factory for a list)."""
    if f.default is dataclasses.MISSING:
        factory: Callable[[], Any] = f.default_factory  # type: ignore[assignment]
        return factory()
    return f.default


def describe(cls: type | None) -> list[ParamInfo]:
    """The declared parameters of a params dataclass, in declaration order."""
    if cls is None:
        return []
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = _default(f)
        doc = f.metadata.get("doc", "")
        bounds = _bounds_text(f.metadata)
        kind = component_kind(f)
        shown = f"{kind} component" if kind else type_name(hints[f.name])
        out.append(ParamInfo(f.name, shown, default, doc + bounds))
    return out


def _bounds_text(meta: typing.Mapping[str, Any]) -> str:
    lo, hi = meta.get("min"), meta.get("max")
    if lo is None and hi is None:
        return ""
    lo_op = ">" if meta.get("min_exclusive") else ">="
    parts = ([f"{lo_op} {lo}"] if lo is not None else []) + ([f"<= {hi}"] if hi is not None else [])
    return f" ({' and '.join(parts)})"


def type_name(tp: Any) -> str:
    """A short human name for a declared type: ``int``, ``list[float]``, ``"a" | "b"``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a).replace("'", '"') for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (item,) = typing.get_args(tp)
        return f"list[{type_name(item)}]"
    if tp is type(None):
        return "none"
    return getattr(tp, "__name__", str(tp))


def build(cls: type, values: typing.Mapping[str, Any]) -> Any:
    """Validate ``values`` (a TOML table) against ``cls`` and return an instance.

    Missing keys take their defaults. Raises :class:`ParamError` naming the first bad key:
    unknown keys (with a "did you mean"), wrong types, values out of range.
    """
    if not isinstance(values, typing.Mapping):
        raise ParamError("", f"expected a table, got {_show(values)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key in values:
        if key not in fields:
            raise ParamError(key, unknown_key_message(key, fields))
    kwargs = {}
    for key, value in values.items():
        f = fields[key]
        kwargs[key] = check_value(key, value, hints[key])
        _check_range(key, kwargs[key], f.metadata)
    try:
        return cls(**kwargs)
    except ParamError:
        raise
    except ValueError as e:  # a __post_init__ that checks values against each other
        raise ParamError("", str(e)) from None


def check_declaration(cls: type) -> None:
    """Check a params dataclass itself: every field has a default, a supported type and a
    default that fits its type and range.

    Raises :class:`TypeError` (or :class:`ParamError` for a bad default) naming the field, so
    that a plugin with a broken declaration is refused when it loads, not when a recipe sets
    the parameter.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError("params must be a dataclass type")
    try:
        hints = typing.get_type_hints(cls)
    except Exception as e:  # an annotation that does not resolve (NameError, ...)
        raise TypeError(f"cannot resolve the declared types: {type(e).__name__}: {e}") from None
    for f in dataclasses.fields(cls):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise TypeError(f"parameter {f.name!r} has no default")
        _check_supported(f.name, hints[f.name])
        default = _default(f)
        if default is None and _allows_none(hints[f.name]):
            continue
        try:
            value = check_value(f.name, default, hints[f.name])
            _check_range(f.name, value, f.metadata)
        except ParamError as e:
            raise ParamError(f.name, f"bad default: {e.message}") from None


def _allows_none(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _check_supported(key: str, tp: Any) -> None:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            if option is not type(None):
                _check_supported(key, option)
        return
    if origin is Literal:
        if not all(isinstance(a, (str, int, float, bool)) for a in typing.get_args(tp)):
            raise TypeError(f"parameter {key!r}: Literal values must be strings or numbers")
        return
    if origin is list or tp is list:
        args = typing.get_args(tp)
        if len(args) != 1:
            raise TypeError(f"parameter {key!r}: declare the item type, as in list[int]")
        _check_supported(key, args[0])
        return
    if tp not in (int, float, bool, str, ComponentRef):
        raise TypeError(f"parameter {key!r} has an unsupported declared type {type_name(tp)}")


def unknown_key_message(key: str, known: typing.Iterable[str]) -> str:
    """``unknown key 'lr'; did you mean 'lr_d'?`` (or the list of valid keys)."""
    known = sorted(known)
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; valid keys: {', '.join(known) if known else '(none)'}"


def check_value(key: str, value: Any, tp: Any) -> Any:
    """Check one value against a declared type; return it (ints become floats where declared)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(tp):
            if option is type(None):
                continue
            try:
                return check_value(key, value, option)
            except ParamError as e:
                errors.append(e)
        if len(errors) == 1:  # ``T | None``: TOML has no null, so T's own message says it best
            raise errors[0]
        raise ParamError(key, f"expected {type_name(tp)}, got {_show(value)}")
    if origin is Literal:
        # ``1.0 == 1`` and ``True == 1``: the type must match as well as the value.
        if not any(type(value) is type(c) and value == c for c in typing.get_args(tp)):
            raise ParamError(key, f"expected one of {type_name(tp)}, got {_show(value)}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ParamError(key, f"expected {type_name(tp)}, got {_show(value)}")
        return [check_value(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(key, f"expected a number, got {_show(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ParamError(key, "expected a finite number, got an integer too large for a float") from None
        if not math.isfinite(number):  # TOML has nan and inf; no parameter means them
            raise ParamError(key, f"expected a finite number, got {value!r}")
        return number
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(key, f"expected an integer, got {_show(value)}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamError(key, f"expected true or false, got {_show(value)}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ParamError(key, f"expected a string, got {_show(value)}")
        return value
    if tp is ComponentRef:  # resolved by the recipe loader; here only its shape is checked
        if isinstance(value, str) or (isinstance(value, dict) and isinstance(value.get("name"), str)):
            return value
        if hasattr(value, "to_table"):  # already resolved
            return value
        raise ParamError(key, f"expected a component name or a table with name and params, got {_show(value)}")
    raise TypeError(f"parameter {key!r} has an unsupported declared type {tp!r}")


def _check_range(key: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    lo, hi, length = meta.get("min"), meta.get("max"), meta.get("length")
    if length is not None and len(value) != length:
        raise ParamError(key, f"expected {length} items, got {len(value)}")
    items = [(f"{key}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list) else [(key, value)]
    for item_key, v in items:
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            continue
        too_low = lo is not None and (v < lo or (meta.get("min_exclusive") and v == lo))
        if too_low or (hi is not None and v > hi):
            raise ParamError(item_key, f"{v!r} is out of range (must be {_bounds_text(meta)[2:-1]})")


def _show(value: Any) -> str:
    """A value as it would appear in TOML, with its type for clarity."""
    if isinstance(value, str):  # quoted and escaped as in TOML/JSON: a line break stays "\n"
        return f"the string {json.dumps(value, ensure_ascii=False)}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return f"{type(value).__name__} {value!r}"


def as_dict(instance: Any) -> dict[str, Any]:
    """A params instance as a plain table (``None`` values left out, as TOML has no null; a
    resolved component as its ``{name, params}`` table)."""
    out = {}
    for f in dataclasses.fields(instance):
        value = getattr(instance, f.name)
        if hasattr(value, "to_table"):
            value = value.to_table()
        elif isinstance(value, list):
            value = list(value)
        if value is not None:
            out[f.name] = value
    return out
