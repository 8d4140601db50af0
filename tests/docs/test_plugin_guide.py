"""docs/plugins.md keeps up with the code: every hook is documented with its signature and an
example, the guide's examples, pasted into a plugin, keep the contract, and what it says about
a step, StepReport and the API version matches the contracts."""

from __future__ import annotations

import importlib
import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from ganfw import API_VERSION, hookspecs
from ganfw.contracts import StepReport, TrainerView
from ganfw.specs import KINDS
from ganfw.testing import check_component, plugin_specs
from tests.helpers.cli import REPO

GUIDE = REPO / "docs" / "plugins.md"
HOOKS = [name for name, f in vars(hookspecs).items() if hasattr(f, "ganfw_spec")]
#: ```python blocks whose first line is ``# my_plugin/<module>.py`` belong to that module.
_FILE_HEADER = re.compile(r"^# (my_plugin/\w+\.py)\b")


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.S | re.M)


def test_the_hookspecs_are_found():
    assert sorted(HOOKS) == sorted(KINDS.values())


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature_and_an_example(hook):
    text = GUIDE.read_text(encoding="utf-8")
    assert f"### `{hook}()`" in text, f"docs/plugins.md has no section for {hook}()"
    assert f"```python\ndef {hook}() -> list[ComponentSpec]: ...\n```" in text, f"no signature of {hook}()"
    assert f"@hookimpl\ndef {hook}() -> list[ComponentSpec]:\n    return [" in text, f"no example of {hook}()"


def test_the_guide_covers_installing_naming_and_disabling():
    text = GUIDE.read_text(encoding="utf-8")
    for term in (
        "[project.entry-points.ganfw]", "ganfw new-plugin", 'pip install -e ".[dev]"', "ganfw.param",
        "plugin:name", "ganfw.testing", "check_component", "GANFW_DISABLE_PLUGINS", "--disable-plugin",
        "GANFW_STRICT_PLUGINS", "twine upload", "ganfw list --plugin", "component_param", "conditional=True",
        f"GANFW_API = {API_VERSION}", "## Plugin API versions", "## Inside a step", "### StepReport",
        "sample_latent(n, *, device=None, generator=None)", "g_needs_real = True", "every * penalty(inputs)",
    ):  # fmt: skip
        assert term in text, term


def test_the_guide_names_every_field_of_step_report_and_trainer_view():
    text = GUIDE.read_text(encoding="utf-8")
    report = text[text.index("### StepReport") :]
    for name in StepReport.__dataclass_fields__:
        assert f"`{name}`" in report, name
    for name in [*TrainerView.__annotations__, "request_stop"]:
        assert f"`{name}`" in text or f"`{name}(" in text or f"`view.{name}(" in text, name


def test_every_python_example_compiles():
    blocks = python_blocks()
    assert len(blocks) > 25
    for block in blocks:
        compile(block, str(GUIDE), "exec")


def test_the_examples_pasted_into_a_plugin_keep_the_contract(tmp_path: Path, monkeypatch):
    modules: dict[str, list[str]] = defaultdict(list)
    for block in python_blocks():
        header = _FILE_HEADER.match(block)
        if header:
            modules[header.group(1)].append(block)
    assert set(modules) == {"my_plugin/plugin.py", "my_plugin/components.py"}
    (tmp_path / "my_plugin").mkdir()
    (tmp_path / "my_plugin" / "__init__.py").touch()
    for path, blocks in modules.items():
        (tmp_path / path).write_text("\n\n".join(blocks), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        specs = plugin_specs(importlib.import_module("my_plugin.plugin"))
        assert {s.kind for s in specs} == set(KINDS)
        assert {s.kind for s in specs if s.conditional} == {"generator", "discriminator"}
        for spec in specs:
            check_component(spec)  # metrics: the spec checks only
    finally:
        for name in [m for m in sys.modules if m == "my_plugin" or m.startswith("my_plugin.")]:
            del sys.modules[name]


def test_the_readme_plugin_example_keeps_the_contract(tmp_path: Path, monkeypatch):
    """The README's two-file example plugin, pasted into a package, passes the contract checks."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n# (my_package/\w+\.py)[^\n]*\n(.*?)^```", readme, re.S | re.M)
    assert [path for path, _ in blocks] == ["my_package/plugin.py", "my_package/losses.py"]
    (tmp_path / "my_package").mkdir()
    (tmp_path / "my_package" / "__init__.py").touch()
    for path, source in blocks:
        (tmp_path / path).write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        plugin = importlib.import_module("my_package.plugin")
        (spec,) = plugin_specs(plugin)
        check_component(spec)
    finally:
        for name in [n for n in sys.modules if n == "my_package" or n.startswith("my_package.")]:
            del sys.modules[name]
