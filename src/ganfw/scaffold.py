"""``ganfw new-plugin NAME [--kind KIND ...] [--dir DIR]``: write a ready-to-install plugin package.

DIR (default ``./ganfw-NAME``) gets::

    pyproject.toml                  with the entry point  NAME = "ganfw_NAME"
    README.md, .gitignore
    src/ganfw_NAME/__init__.py      the hooks and params (no torch)
    src/ganfw_NAME/components.py    one example component per kind, each named NAME
    tests/test_ganfw_NAME.py        the contract tests of ganfw.testing

Everything is checked before anything is written, and the files go to a temporary folder that is
then renamed to DIR, so a refused or failed scaffold leaves nothing behind.
This module must not import torch.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from string import Template

from ganfw.config import COMPONENT_LISTS, COMPONENT_SECTIONS, OPTIONAL_SECTIONS
from ganfw.errors import UserError
from ganfw.plugins import GROUP
from ganfw.scaffold_templates import (
    COMPONENTS_MODULE,
    EXAMPLES,
    GITIGNORE,
    HOOK,
    IMPORTS,
    NEXT_STEPS,
    PLUGIN_MODULE,
    PYPROJECT,
    README,
    TEST_MODULE,
)
from ganfw.specs import KINDS, is_valid_name
from ganfw.version import __version__

#: What ``--kind`` defaults to.
DEFAULT_KINDS = ("loss",)

_LINE = 100


class ScaffoldError(UserError):
    """``ganfw new-plugin`` refused: a bad name or kind, a taken name, a non-empty directory."""


@dataclass(frozen=True)
class PluginNames:
    """The names of a new plugin, all derived from one.

    Attributes:
        plugin: the entry-point name, also the name of each example component (``"my-gan"``).
        package: the import package (``"ganfw_my_gan"``).
        distribution: the name on PyPI (``"ganfw-my-gan"``).
        prefix: the CamelCase prefix of its class names (``"MyGan"``).
    """

    plugin: str
    package: str
    distribution: str
    prefix: str

    @classmethod
    def of(cls, name: str) -> PluginNames:
        if not is_valid_name(name):
            raise ScaffoldError(
                f"plugin name {name!r} is not lower-case words joined by '-' or '_' (e.g. spectral, my_losses)"
            )
        words = re.split(r"[-_]", name)
        return cls(name, "ganfw_" + "_".join(words), "ganfw-" + "-".join(words), "".join(w.capitalize() for w in words))


def create_plugin(name: str, kinds: Sequence[str] = DEFAULT_KINDS, directory: Path | None = None) -> Path:
    """Write the package for plugin ``name`` with one example component per kind; return its
    directory. Raises :class:`ScaffoldError` (nothing written) for a bad or taken name, a kind
    without an example, or a directory that exists and is not empty."""
    names = PluginNames.of(name)
    kinds = _check_kinds(kinds)
    _check_name_is_free(names.plugin)
    target = (directory or Path(names.distribution)).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        what = "is not empty" if target.is_dir() else "is not a directory"
        raise ScaffoldError(f"{target} already exists and {what}; choose another --dir")
    _write_tree(target, render(names, kinds))
    return target


def render(names: PluginNames, kinds: Sequence[str]) -> dict[str, str]:
    """The package's files: relative path -> text."""
    fill = _filler(names)
    examples = [(kind, EXAMPLES[kind], names.prefix + _camel(kind)) for kind in kinds]
    hooks = [
        fill(HOOK, hook=KINDS[kind], kind=kind, summary=example.summary, cls=cls) for kind, example, cls in examples
    ]
    plugin_body = [fill(example.params) for _, example, _ in examples] + hooks
    needs = {need for _, example, _ in examples for need in example.needs}
    offers = ", ".join(f"{kind} '{names.plugin}'" for kind in kinds)
    recipe = "\n\n".join(_recipe_table(kind, names.plugin) for kind in kinds)
    src = f"src/{names.package}"
    return {
        "pyproject.toml": fill(PYPROJECT, offers=offers, ganfw_version=_major_minor(__version__)),
        "README.md": fill(README, offers=offers, recipe=recipe),
        ".gitignore": GITIGNORE,
        f"{src}/__init__.py": fill(PLUGIN_MODULE, body=_top_level(plugin_body)),
        f"{src}/components.py": fill(
            COMPONENTS_MODULE,
            imports=_imports(needs, names.package, [f"{cls}Params" for _, _, cls in examples]),
            classes=_top_level(fill(example.component) for _, example, _ in examples),
        ),
        f"tests/test_{names.package}.py": fill(TEST_MODULE),
    }


def _camel(kind: str) -> str:
    """``"lr-schedule"`` -> ``"LrSchedule"``: a kind as it ends a class name."""
    return "".join(word.capitalize() for word in kind.split("-"))


def _recipe_table(kind: str, name: str) -> str:
    """How a recipe uses the component ``name`` of ``kind``: its table (``[loss]``,
    ``[[callbacks]]``) naming it, or for a metric the ``[eval]`` list."""
    if kind == "metric":
        return f'[eval]\nmetrics = ["{name}"]'
    headers = {kind: f"[{section}]" for section, (kind, _) in COMPONENT_SECTIONS.items()}
    headers.update({kind: f"[{section}]" for section, kind in OPTIONAL_SECTIONS.items()})
    headers.update({kind: f"[[{section}]]" for section, kind in COMPONENT_LISTS.items()})
    return f'{headers[kind]}\nname = "{name}"'


def _filler(names: PluginNames) -> Callable[..., str]:
    """``fill(template, **more)``: the template with the plugin's names (and ``more``) put in."""

    def fill(text: str, **extra: str) -> str:
        return Template(text).substitute(
            name=names.plugin, pkg=names.package, dist=names.distribution, Cls=names.prefix, **extra
        )

    return fill


def _check_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds in ``ganfw list`` order, each once; every one must have an example."""
    for kind in kinds:
        if kind not in EXAMPLES:
            raise ScaffoldError(f"--kind: {kind!r} is not one of {', '.join(EXAMPLES)}")
    return [kind for kind in KINDS if kind in kinds] or list(DEFAULT_KINDS)


def _check_name_is_free(plugin: str) -> None:
    for ep in entry_points(group=GROUP):
        if ep.name == plugin:
            dist = getattr(ep, "dist", None)
            owner = f"{dist.metadata['Name']} {dist.version}" if dist is not None else ep.value
            raise ScaffoldError(f"plugin name {plugin!r} is already taken by the installed {owner}; choose another")


def _major_minor(version: str) -> str:
    """``"0.1.0"`` -> ``"0.1"``: the oldest ganfw a new plugin accepts (``"0"`` when unknown)."""
    match = re.match(r"\d+(\.\d+)?", version)
    return match.group() if match else "0"


def _top_level(blocks: Iterable[str]) -> str:
    """Source blocks separated as top-level definitions are: two blank lines before each."""
    return "".join("\n\n\n" + block.strip() for block in blocks) + "\n"


def _from_import(module: str, names: Sequence[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= _LINE:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")"


def _imports(needs: set[str], package: str, params_classes: list[str]) -> str:
    """The import block of the components module: stdlib, torch, ganfw.plugin, the plugin."""
    groups: dict[str, dict[str, list[str]]] = {}
    for name, (group, statement) in IMPORTS.items():
        if name in needs:
            head, sep, item = statement.partition(" import ")
            statements = groups.setdefault(group, {})
            statements.setdefault(head, []).extend([item] if sep else [])
    blocks = [
        "\n".join(_from_import(head[len("from ") :], items) if items else head for head, items in g.items())
        for g in groups.values()
    ]
    blocks.append(_from_import("ganfw.plugin", sorted(needs - IMPORTS.keys())))
    blocks.append(_from_import(package, params_classes))
    return "\n\n".join(blocks)


def _write_tree(target: Path, files: dict[str, str]) -> None:
    """Write ``files`` into a temporary sibling of ``target`` and rename it to ``target`` (an empty
    directory there is replaced)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    except OSError as e:
        raise ScaffoldError(f"cannot create {target}: {e.strerror or e}") from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private
        for relative, text in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if target.exists():
            target.rmdir()
        staging.rename(target)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise ScaffoldError(f"cannot create {target}: {e.strerror or e}") from None


def next_steps(directory: Path, name: str) -> str:
    """What ``ganfw new-plugin`` prints: where the package is and how to go on."""
    return NEXT_STEPS.format(directory=directory, name=name)
