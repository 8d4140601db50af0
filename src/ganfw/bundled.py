"""The recipes shipped with ganfw: listed, resolved by name, copied out to edit.

The top-level ``recipes/`` folder of the checkout is installed as the package ``ganfw.recipes``
(``pyproject.toml`` maps it), so ``pip install ganfw`` users get the same files as a clone, found
here with :mod:`importlib.resources`. A bundled recipe is named by its file name without
``.toml``: ``ganfw run mnist_fast``, ``ganfw cp mnist_fast my.toml``, ``extends = "mnist_dcgan"``.

A recipe that uses components from a plugin package not installed with ganfw says so in its
leading comment, on a line of its own: ``# requires: ganfw-spectral (how to install it)``.
``ganfw recipes`` shows it, and a recipe whose components cannot be found names the package
(:func:`missing_requirement`).

This module must not import torch.
"""

from __future__ import annotations

import errno
import importlib.metadata
import importlib.resources
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ganfw.atomic import write_text
from ganfw.errors import UserError
from ganfw.paths import shown, user_path

SUFFIX = ".toml"
#: A full stop that ends a sentence: before a capital or the end (not in "2.5", "speed.md", "et al. 2018").
_SENTENCE_END = re.compile(r"\.(?=\s+[A-Z]|$)")
#: How much of a recipe file the search for its ``# requires:`` line reads (the leading comment).
LEADING_BYTES = 64 * 1024
#: The leading comment's line naming a plugin package the recipe needs: ``# requires: NAME (HOW)``.
_REQUIRES = re.compile(r"#\s*requires:\s*(?P<package>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\((?P<how>.*)\))?\s*$")


@dataclass(frozen=True)
class Requirement:
    """A plugin package a recipe needs that ganfw does not install: its distribution name
    (``ganfw-spectral``) and how to get it (``pip install ...``; may be "")."""

    package: str
    how: str

    @property
    def installed(self) -> bool:
        """Whether a distribution of that name is installed in this environment."""
        try:
            importlib.metadata.distribution(self.package)
        except importlib.metadata.PackageNotFoundError:
            return False
        return True

    def needed_by(self, recipe: str) -> str:
        """``the recipe NAME needs the plugin package P: HOW``."""
        return f"the recipe {recipe} needs the plugin package {self.package}" + (f": {self.how}" if self.how else "")


@dataclass(frozen=True)
class BundledRecipe:
    """One shipped recipe: ``name`` (file name without ``.toml``), its installed ``path``,
    ``summary``, the first sentence of the file's leading comment ("" when it has none), and
    the plugin package it ``requires`` beyond ganfw (``None``: none)."""

    name: str
    path: Path
    summary: str
    requires: Requirement | None = None


def recipes_dir() -> Path:
    """The folder the shipped recipes are installed in (pip installs packages as plain files)."""
    return Path(str(importlib.resources.files("ganfw.recipes")))


def _leading_comment(text: str) -> list[str]:
    """The lines of the comment block that opens ``text``, stripped."""
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        lines.append(stripped)
    return lines


def requirement(text: str) -> Requirement | None:
    """The plugin package the recipe ``text`` declares it needs (``# requires: ...`` in its
    leading comment), if any."""
    for line in _leading_comment(text):
        if found := _REQUIRES.fullmatch(line):
            return Requirement(found["package"], (found["how"] or "").strip())
    return None


def _summary(text: str) -> str:
    """The first sentence of the comment block that opens ``text`` (its lines joined, without
    their ``#``; a ``# requires:`` line left out), "" when there is none."""
    words: list[str] = []
    for stripped in _leading_comment(text):
        if words and not stripped.lstrip("#").strip():
            break
        if not _REQUIRES.fullmatch(stripped):
            words += stripped.lstrip("#").split()
    comment = " ".join(words)
    end = _SENTENCE_END.search(comment)
    return comment[: end.end()] if end else comment


def bundled_recipes() -> list[BundledRecipe]:
    """Every shipped recipe, sorted by name."""
    recipes = []
    for path in sorted(recipes_dir().glob(f"*{SUFFIX}")):
        text = path.read_text(encoding="utf-8")
        recipes.append(BundledRecipe(path.stem, path, _summary(text), requirement(text)))
    return recipes


def missing_requirement(path: Path) -> str | None:
    """When the recipe file at ``path`` needs a plugin package that is not installed: "the
    recipe NAME needs the plugin package P: HOW", to end the error its unknown components
    raise; else ``None``."""
    try:
        if not path.is_file():  # a FIFO, a device: never waited on here
            return None
        with open(path, "rb") as f:
            needs = requirement(f.read(LEADING_BYTES).decode("utf-8", errors="replace"))
    except OSError:
        return None
    return None if needs is None or needs.installed else needs.needed_by(path.stem)


def find_bundled(name: str) -> BundledRecipe | None:
    """The shipped recipe called ``name`` (``mnist_fast`` or ``mnist_fast.toml``), if any."""
    wanted = name.removesuffix(SUFFIX)
    return next((recipe for recipe in bundled_recipes() if recipe.name == wanted), None)


def _listing() -> str:
    return "bundled: " + ", ".join(recipe.name for recipe in bundled_recipes())


def missing_recipe_message(what: str) -> str:
    """``what`` (e.g. "recipe file not found"), then that no bundled recipe has that name either,
    and the names that exist: the end of a one-line "no such recipe" error."""
    return f"{what}, and no bundled recipe has that name ({_listing()})"


def recipe_argument(text: str) -> Path:
    """The recipe file a ``ganfw run|check RECIPE`` argument means: an existing file wins, then
    a bundled recipe of that name (with or without ``.toml``), else ``Path(text)`` (whose loading
    then reports the file as not found)."""
    path = user_path(text, "RECIPE")
    if _is_file(path):
        return path
    recipe = find_bundled(text)
    return recipe.path if recipe else path


def _is_file(path: Path) -> bool:
    """Whether ``path`` names a file; ``False`` also when the OS refuses to look (a name too
    long, a forbidden folder): reading the file then says why."""
    try:
        return path.is_file()
    except OSError:
        return False


def recipe_file(text: str) -> Path:
    """:func:`recipe_argument`, refusing (one line, listing the bundled recipes) a name that is
    neither a file nor a bundled recipe."""
    path = recipe_argument(text)
    try:
        path.stat()
    except FileNotFoundError:
        raise UserError(f"{shown(text)}: {missing_recipe_message('recipe file not found')}") from None
    except OSError:
        pass  # reading it says why (a name too long, a forbidden folder)
    return path


def resolve_extends(referrer: Path, value: str) -> Path:
    """The file that ``extends = value`` in the recipe ``referrer`` names.

    A file relative to ``referrer`` wins when it exists; else a bundled recipe's name
    (``"mnist_dcgan"`` or ``"mnist_dcgan.toml"``); else the relative path, so that loading reports
    the missing base recipe under the name the user wrote.
    """
    local = referrer.parent / user_path(value, f"{shown(referrer)}: extends")
    if _is_file(local):
        return local
    recipe = find_bundled(value)
    return recipe.path if recipe else local


def copy_recipe(name: str, dest: Path | None, force: bool) -> Path:
    """Copy the bundled recipe ``name`` to ``dest`` and return the file written.

    ``dest`` defaults to ``./NAME.toml``; a directory gets ``NAME.toml`` inside. An existing file
    is only replaced with ``force``, atomically (a temporary file beside it, renamed over it): a
    write that fails (a full disk, a file size limit) leaves the old file as it was. The copy's
    ``extends`` (a bundled name) still resolves wherever it is put.
    """
    recipe = find_bundled(name)
    if recipe is None:
        raise UserError(f"{name}: no bundled recipe has that name ({_listing()})")
    target = Path(recipe.name + SUFFIX) if dest is None else user_path(dest, "FILE")
    try:
        if target.is_dir():
            target = target / (recipe.name + SUFFIX)
        if target.exists() and not force:
            raise UserError(f"{shown(target)} already exists; pass --force to overwrite it")
        if not target.parent.is_dir():  # a folder is not created for a copy
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT))
        write_text(target, recipe.path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{shown(target)}: cannot write the recipe: {e.strerror or e}") from None
    return target
