"""The external plugin package plugins/external/ganfw-spectral, as its users get it: installed on
its own (never part of the ganfw distribution), its own tests pass, and recipes/mnist_spectral.toml
checks and trains with it and is refused without it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from ganfw.plugins import load_registry
from tests.helpers.cli import RECIPES, REPO, run_cli
from tests.helpers.venv import Venv

PLUGIN = REPO / "plugins" / "external" / "ganfw-spectral"
RECIPE = RECIPES / "mnist_spectral.toml"
#: What a copy of a source tree leaves out: build leftovers of earlier installs.
LEFTOVERS = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", ".pytest_cache")


def test_installed_plugin_lists_passes_its_tests_checks_and_trains_the_recipe(
    throwaway_venv: Venv, tmp_path: Path, mnist_root: Path
):
    project = shutil.copytree(PLUGIN, tmp_path / "ganfw-spectral", ignore=LEFTOVERS)
    throwaway_venv.install_editable(project)

    listed = throwaway_venv.ganfw("list", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = {(r["kind"], r["name"], r["package"]) for r in listed.json if r["plugin"] == "spectral"}
    assert mine == {("discriminator", "sn-dcgan", "ganfw-spectral"), ("loss", "non-saturating-r1", "ganfw-spectral")}

    tests = throwaway_venv.pytest(project)
    assert tests.returncode == 0, tests.both
    assert " passed" in tests.stdout and "skipped" not in tests.stdout and "deselected" not in tests.stdout

    check = throwaway_venv.ganfw("check", str(RECIPE))
    assert check.returncode == 0, check.stderr
    resolved = tomllib.loads(check.stdout)  # its first line is a TOML comment
    assert resolved["discriminator"] == {"name": "sn-dcgan", "params": {
        "widths": [32, 64, 128], "top_width": 256, "slope": 0.1, "power_iterations": 1}}  # fmt: skip
    assert resolved["loss"] == {"name": "non-saturating-r1", "params": {"gamma": 10.0, "every": 1}}
    assert resolved["generator"]["name"] == "dcgan" and resolved["train"]["precision"] == "auto"  # inherited
    again = tmp_path / "resolved.toml"
    again.write_text(check.stdout, encoding="utf-8")
    assert tomllib.loads(throwaway_venv.ganfw("check", str(again)).stdout) == resolved

    # Two steps with the recipe's components, loss and bf16 precision, on narrower networks.
    tiny = [
        f"data.root={mnist_root}", "data.limit=64", "train.epochs=1", "train.batch_size=32", "train.device=cpu",
        "output.samples=4", "output.gif=false", "eval.every=0",
        "discriminator.params.widths=[8, 16, 32]", "discriminator.params.top_width=32", "generator.params.widths=[16, 8, 4]",
    ]  # fmt: skip
    run = throwaway_venv.ganfw(
        "run", str(RECIPE), *[a for s in tiny for a in ("--set", s)], "--out", str(tmp_path / "run"), "--quiet"
    )
    assert run.returncode == 0, run.both
    assert (tmp_path / "run" / "checkpoints" / "step_00000002.safetensors").is_file()


def test_without_the_plugin_the_recipe_is_refused_in_one_line():
    # Disabled as well as not installed, so that the test holds where someone installed the plugin.
    r = run_cli("check", str(RECIPE), env={"GANFW_DISABLE_PLUGINS": "spectral"})
    assert (r.returncode, r.stdout) == (2, "")
    builtins = ", ".join(load_registry(disabled={"spectral"}).names("discriminator"))
    assert "dcgan" in builtins
    assert r.stderr == (
        f"error: {RECIPE}: discriminator.name: unknown discriminator 'sn-dcgan'; available: {builtins}; the recipe "
        "mnist_spectral needs the plugin package ganfw-spectral: pip install plugins/external/ganfw-spectral, "
        "from a checkout of ganfw\n"
    )


def test_the_ganfw_wheel_leaves_the_external_plugin_out(tmp_path: Path):
    source = tmp_path / "ganfw"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    for name in ("src", "plugins", "recipes"):
        shutil.copytree(REPO / name, source / name, ignore=LEFTOVERS)
    assert (source / "plugins" / "external" / "ganfw-spectral" / "src" / "ganfw_spectral").is_dir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", "dist", "."],
        cwd=source, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    (wheel,) = (source / "dist").glob("ganfw-*.whl")
    files = zipfile.ZipFile(wheel).namelist()
    assert "ganfw/testing/__init__.py" in files and "ganfw_plugins/losses/objectives.py" in files
    assert "ganfw/recipes/mnist_fast.toml" in files
    # the recipe that uses the plugin is bundled (it says how to install the plugin); the plugin is not
    assert [f for f in files if "spectral" in f or "external" in f] == ["ganfw/recipes/mnist_spectral.toml"]
