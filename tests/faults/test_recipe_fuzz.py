"""Fault injection (issues 11 and 19), recipe fuzzing: random TOML documents (built from the real
section and key names, and from random ones), random ``--set`` overrides, and random ``--set``
overrides of every shipped recipe (of its own keys, and others), with hostile text among the
values (control characters, NUL bytes, line breaks). ``load_recipe`` only ever returns a valid
recipe or raises the one-line ``UserError``, never anything else.

The example counts come from the hypothesis profile (``ci``: derandomized; ``GANFW_FUZZ=explore``:
fresh draws, 2,000 examples each). Every example a fuzzer found is kept as an ``@example``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import tomli_w
from hypothesis import example, given
from hypothesis import strategies as st

from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.recipe import Recipe, load_recipe, load_tables
from tests.faults.lines import RAW_CONTROL
from tests.helpers.cli import RECIPES

SECTIONS = [
    "generator",
    "discriminator",
    "loss",
    "schedule",
    "data",
    "train",
    "optim",
    "output",
    "eval",
    "extends",
    "bogus",
]
KEYS = [
    "name",
    "params",
    "epochs",
    "batch_size",
    "lr",
    "betas",
    "seed",
    "limit",
    "root",
    "device",
    "precision",
    "every",
    "n",
    "metrics",
    "samples",
    "checkpoint_every",
    "latent_dim",
    "widths",
    "hidden",
    "generator",
    "discriminator",
    "extends",
    "drop_last",
    "zz",
]
NAMES = ["dcgan", "mlp", "alternating", "n-critic", "hinge", "mnist", "fid", "cpu", "fp32", "auto", "x:y", ""]
#: Text a hostile user or file sends: control characters, a NUL byte, line breaks, a bidi override.
HOSTILE = ["\x00", "\x1b[2J", "a\nb", "\r", "\u202e", "\x9b", "/dev/zero", "../" * 3, "\udcff"]

texts = st.one_of(st.text(max_size=12), st.sampled_from(HOSTILE))
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    texts,
    st.sampled_from(NAMES),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(SECTIONS), values, max_size=8)
paths = st.lists(st.one_of(st.sampled_from(SECTIONS + KEYS), st.text(max_size=6)), min_size=1, max_size=4).map(".".join)
overrides = st.lists(st.builds(lambda k, v: f"{k}={v}", paths, st.one_of(texts, st.sampled_from(NAMES))), max_size=3)

REGISTRY = load_registry()


def load_or_one_line(path, sets: list[str]) -> None:
    """``load_recipe`` returns a Recipe or raises a UserError of one line, with no raw control
    character (anything else fails)."""
    try:
        assert isinstance(load_recipe(path, REGISTRY, sets), Recipe)
    except UserError as e:
        assert str(e).strip() and not RAW_CONTROL.search(str(e)), repr(str(e))


@given(document=documents, sets=overrides)
@example(document={"generator": [], "extends": "\n"}, sets=[])  # found by this test: a line break in a path
@example(document={"extends": "\x00"}, sets=[])  # found by this test: Path.resolve() raised ValueError
def test_random_recipes_and_overrides_load_or_fail_in_one_line(tmp_path_factory, document, sets):
    path = tmp_path_factory.getbasetemp() / "fuzz.toml"
    path.write_bytes(tomli_w.dumps(document).encode("utf-8", "surrogateescape"))  # "\udcff": the byte 0xff
    load_or_one_line(path, sets)


@given(text=st.text(max_size=200))
def test_random_text_loads_or_fails_in_one_line(tmp_path_factory, text):
    path = tmp_path_factory.getbasetemp() / "fuzz-text.toml"
    path.write_text(text, encoding="utf-8")
    load_or_one_line(path, [])


known_keys = st.sampled_from(
    [
        "train.epochs",
        "train.batch_size",
        "train.seed",
        "train.precision",
        "train.device",
        "data.limit",
        "generator.params.latent_dim",
        "optim.generator.lr",
        "optim.generator.betas",
        "eval.metrics",
        "eval.n",
        "output.samples",
        "loss.name",
        "schedule.name",
        "schedule.params.n",
    ]
)
toml_values = st.one_of(
    st.text(max_size=10),
    st.sampled_from(NAMES),
    scalars.map(lambda v: tomli_w.dumps({"v": v})[4:].strip()),
    st.lists(st.integers(-3, 10**6), max_size=3).map(str),
)


@given(sets=st.lists(st.builds(lambda k, v: f"{k}={v}", known_keys, toml_values), min_size=1, max_size=3))
@example(sets=["loss.name=\n"])  # found by this test: a line break in the --set text, and in a string value
@example(sets=['train.epochs="\\n"'])
def test_random_overrides_of_a_shipped_recipe_load_or_fail_in_one_line(sets):
    load_or_one_line(RECIPES / "mnist_dcgan.toml", sets)


SHIPPED = sorted(RECIPES.glob("*.toml"))


@functools.cache
def keys_of(recipe: Path) -> list[str]:
    """Every dotted key of ``recipe`` (its ``extends`` chain merged), tables included."""

    def walk(table: dict, prefix: str) -> list[str]:
        found = []
        for key, value in table.items():
            found.append(prefix + key)
            if isinstance(value, dict):
                found += walk(value, f"{prefix}{key}.")
        return found

    return walk(load_tables(recipe).data, "")


@st.composite
def shipped_overrides(draw: st.DrawFn) -> tuple[Path, list[str]]:
    """A shipped recipe and ``--set`` texts: its own keys (or others) set to random values."""
    recipe = draw(st.sampled_from(SHIPPED))
    key = st.one_of(st.sampled_from(keys_of(recipe)), known_keys, paths)
    value = st.one_of(toml_values, texts.map(lambda t: tomli_w.dumps({"v": t})[4:].strip()))
    return recipe, draw(st.lists(st.builds(lambda k, v: f"{k}={v}", key, value), min_size=1, max_size=4))


def each_shipped_recipe(test):
    """``test`` with one ``@example`` per shipped recipe, so that each is drawn at least once."""
    for recipe in SHIPPED:
        test = example(case=(recipe, ["train.epochs=2"]))(test)
    return test


@given(case=shipped_overrides())
@each_shipped_recipe
def test_random_overrides_of_every_shipped_recipe_load_or_fail_in_one_line(case):
    recipe, sets = case
    load_or_one_line(recipe, sets)
