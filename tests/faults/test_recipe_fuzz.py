"""Fault injection (issue 11), recipe fuzzing: random TOML documents (built from the real section
and key names, and from random ones) and random ``--set`` overrides. ``load_recipe`` only ever
returns a valid recipe or raises the one-line ``UserError``, never anything else."""

from __future__ import annotations

import tomli_w
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.recipe import Recipe, load_recipe
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

scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(NAMES),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(SECTIONS), values, max_size=8)
paths = st.lists(st.one_of(st.sampled_from(SECTIONS + KEYS), st.text(max_size=6)), min_size=1, max_size=4).map(".".join)
overrides = st.lists(
    st.builds(lambda k, v: f"{k}={v}", paths, st.one_of(st.text(max_size=12), st.sampled_from(NAMES))), max_size=3
)

REGISTRY = load_registry()
FUZZ = settings(max_examples=200, deadline=None)


def load_or_one_line(path, sets: list[str]) -> None:
    """``load_recipe`` returns a Recipe or raises a UserError of one line (anything else fails)."""
    try:
        assert isinstance(load_recipe(path, REGISTRY, sets), Recipe)
    except UserError as e:
        assert "\n" not in str(e) and str(e).strip(), repr(str(e))


@FUZZ
@given(document=documents, sets=overrides)
@example(document={"generator": [], "extends": "\n"}, sets=[])  # found by this test: a line break in a path
def test_random_recipes_and_overrides_load_or_fail_in_one_line(tmp_path_factory, document, sets):
    path = tmp_path_factory.getbasetemp() / "fuzz.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    load_or_one_line(path, sets)


@FUZZ
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


@FUZZ
@given(sets=st.lists(st.builds(lambda k, v: f"{k}={v}", known_keys, toml_values), min_size=1, max_size=3))
@example(sets=["loss.name=\n"])  # found by this test: a line break in the --set text, and in a string value
@example(sets=['train.epochs="\\n"'])
def test_random_overrides_of_a_shipped_recipe_load_or_fail_in_one_line(sets):
    load_or_one_line(RECIPES / "mnist_dcgan.toml", sets)
