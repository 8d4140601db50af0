"""``ganfw new-plugin``: the package it writes installs, lists, trains and passes its own tests;
bad input is refused in one line with nothing written."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import ganfw
from ganfw.checkpoint import load_checkpoint
from ganfw.scaffold import EXAMPLES, PluginNames, create_plugin, render
from tests.helpers.cli import cli
from tests.helpers.venv import Venv

ALL_KINDS = list(EXAMPLES)
KINDS_WITH_EXAMPLES = "generator, discriminator, loss, schedule, dataset, metric, augmentation, callback, lr-schedule"

RECIPE = """
[generator]
name = "walkthrough"

[discriminator]
name = "walkthrough"

[loss]
name = "walkthrough"

[schedule]
name = "walkthrough"

[lr_schedule]
name = "walkthrough"
params = { warmup = 1.0 }

[data]
name = "walkthrough"
limit = 64

[augment]
name = "walkthrough"

[[callbacks]]
name = "walkthrough"

[train]
epochs = 2
batch_size = 32
device = "cpu"

[output]
samples = 4
gif = false

[eval]
every = 0
"""


def test_scaffold_installs_lists_trains_and_passes_its_own_tests(throwaway_venv: Venv, tmp_path: Path):
    project = tmp_path / "ganfw-walkthrough"
    kinds = [arg for kind in ALL_KINDS for arg in ("--kind", kind)]
    made = throwaway_venv.ganfw("new-plugin", "walkthrough", *kinds, cwd=tmp_path)
    assert made.returncode == 0 and made.stderr == "", made.both
    assert made.stdout.splitlines() == [
        f"created {project}",
        "next steps:",
        f"  cd {project}",
        '  pip install -e ".[dev]"',
        "  ganfw list --plugin walkthrough",
        "  pytest",
    ]

    throwaway_venv.install_editable(project)
    listed = throwaway_venv.ganfw("list", "--json")
    assert listed.returncode == 0 and listed.stderr == "", listed.stderr
    mine = [(r["kind"], r["name"], r["package"], r["version"]) for r in listed.json if r["plugin"] == "walkthrough"]
    assert mine == [(kind, "walkthrough", "ganfw-walkthrough", "0.1.0") for kind in ALL_KINDS]
    # Listing imports the plugin's hooks module, which keeps torch out.
    probe = throwaway_venv.run(
        "-c", "import sys; from ganfw.plugins import load_registry; "
        "print(sorted({c.plugin for c in load_registry().components}), 'torch' in sys.modules)"
    )  # fmt: skip
    assert probe.stdout.strip().endswith("False") and "'walkthrough'" in probe.stdout, probe.both

    tests = throwaway_venv.pytest(project)
    assert tests.returncode == 0, tests.both
    assert f"{len(ALL_KINDS) + 1} passed" in tests.stdout

    (tmp_path / "recipe.toml").write_text(RECIPE, encoding="utf-8")
    assert throwaway_venv.ganfw("check", "recipe.toml", cwd=tmp_path).returncode == 0
    run = throwaway_venv.ganfw("run", "recipe.toml", "--out", "run", "--quiet", cwd=tmp_path)
    assert run.returncode == 0, run.both
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    g_updates = [r["g_updates"] for r in records if "g_updates" in r]  # the scaffold schedule's log()
    assert g_updates and g_updates[-1] == 2.0  # 64 images, batch 32, 2 epochs: G on steps 1 and 3
    assert any("d/real" in r for r in records)  # the scaffold loss's named terms
    lr_g = [r["lr_g"] for r in records if "lr_g" in r]  # the scaffold lr-schedule warms up over the 4 steps
    assert len(lr_g) >= 2 and 0 < lr_g[0] < lr_g[-1], lr_g
    checkpoint = load_checkpoint(tmp_path / "run" / "checkpoints" / "step_00000004.safetensors")
    assert checkpoint.state["sampler"] == "callbacks.walkthrough.generator"  # the scaffold callback's EMA


@pytest.mark.parametrize("kinds", [[kind] for kind in ALL_KINDS] + [ALL_KINDS], ids=lambda k: "+".join(k))
def test_rendered_modules_compile_and_import_exactly_what_they_use(kinds):
    names = PluginNames.of("my-gan_2")
    assert names == PluginNames("my-gan_2", "ganfw_my_gan_2", "ganfw-my-gan-2", "MyGan2")
    files = render(names, kinds)
    src = "src/ganfw_my_gan_2"
    assert set(files) == {
        "pyproject.toml", "README.md", ".gitignore",
        f"{src}/__init__.py", f"{src}/components.py", "tests/test_ganfw_my_gan_2.py",
    }  # fmt: skip
    for path, text in files.items():
        if path.endswith(".py"):
            tree = ast.parse(text, path)
            assert _unused_imports(tree) == set(), path
    hooks_imports = {
        node.module.split(".")[0]
        for node in ast.walk(ast.parse(files[f"{src}/__init__.py"]))
        if isinstance(node, ast.ImportFrom)
    }
    assert hooks_imports == {"__future__", "dataclasses", "ganfw"}  # no torch where ganfw list looks
    assert "from ganfw.plugin import" in files[f"{src}/__init__.py"]  # the plugin surface, and nothing else
    assert '[project.entry-points.ganfw]\nmy-gan_2 = "ganfw_my_gan_2"\n' in files["pyproject.toml"]
    headers = {
        "generator": "[generator]",
        "discriminator": "[discriminator]",
        "loss": "[loss]",
        "schedule": "[schedule]",
        "dataset": "[data]",
        "augmentation": "[augment]",
        "callback": "[[callbacks]]",
        "lr-schedule": "[lr_schedule]",
    }
    tables = {kind: f'{header}\nname = "my-gan_2"' for kind, header in headers.items()}
    tables["metric"] = '[eval]\nmetrics = ["my-gan_2"]'  # a metric is named by the evaluation, not a section
    for kind in kinds:
        assert tables[kind] + "\n" in files["README.md"]
    plugin_module = files[f"{src}/__init__.py"]
    assert "\nGANFW_API = 2\n" in plugin_module and "ganfw list --plugin my-gan_2" in files["README.md"]


def _unused_imports(tree: ast.Module) -> set[str]:
    imported = {
        (alias.asname or alias.name).split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", None) != "__future__"
        for alias in node.names
    }
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return imported - used


def test_default_kind_is_one_loss_and_an_empty_directory_is_filled(tmp_path: Path):
    target = tmp_path / "here"
    target.mkdir()
    assert create_plugin("solo", directory=target) == target
    components = (target / "src/ganfw_solo/components.py").read_text()
    assert "class SoloLoss(Loss):" in components and components.count("\nclass ") == 1
    written = {str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()}
    assert written == set(render(PluginNames.of("solo"), ["loss"]))
    assert [p.name for p in tmp_path.iterdir()] == ["here"]  # no staging folder left behind


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["My Plugin"],
            "plugin name 'My Plugin' is not lower-case words joined by '-' or '_' (e.g. spectral, my_losses)",
        ),
        (["ok", "--kind", "losses"], f"--kind: 'losses' is not one of {KINDS_WITH_EXAMPLES}"),
        (["ok", "--kind", "loss", "--kind", "metrics"], f"--kind: 'metrics' is not one of {KINDS_WITH_EXAMPLES}"),
        (["losses"], "plugin name 'losses' is already taken by the installed ganfw {version}; choose another"),
        (["ok", "--dir", "full"], "{tmp}/full already exists and is not empty; choose another --dir"),
        (["ok", "--dir", "file.txt"], "{tmp}/file.txt already exists and is not a directory; choose another --dir"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "file.txt").write_text("mine")
    before = sorted(tmp_path.rglob("*"))
    code, out, err = cli(capsys, "new-plugin", *args)
    assert (code, out) == (2, "")
    assert err == "error: " + message.format(tmp=tmp_path, version=ganfw.__version__) + "\n"
    assert sorted(tmp_path.rglob("*")) == before
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
