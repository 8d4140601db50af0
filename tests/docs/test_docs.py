"""The docs keep up with the code: every recipe setting is documented in docs/recipes.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganfw import config
from ganfw.params import describe

DOCS = Path(__file__).resolve().parents[2] / "docs"

SECTIONS = [(name, schema) for name, schema in config.SETTINGS.items()] + [
    (f"optim.{net}", config.OptimizerConfig) for net in config.OPTIMIZERS
]


@pytest.mark.parametrize("section, schema", SECTIONS, ids=[s for s, _ in SECTIONS])
def test_every_setting_is_in_the_recipe_reference(section, schema):
    text = (DOCS / "recipes.md").read_text()
    for p in describe(schema):
        key = f"{section}.{p.name}" if not section.startswith("optim.") else f"optim.<net>.{p.name}"
        assert f"`{key}`" in text, f"docs/recipes.md does not document {key}"
