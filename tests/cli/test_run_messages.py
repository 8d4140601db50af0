"""What ``ganfw run`` says (issue 22): the data it trains on before training, the command that
continues a run stopped by Ctrl-C or a scheduler, one line before a long silent preparation, the
plugin package a recipe needs; and ``--help`` showing flags as flags."""

from __future__ import annotations

import json
import os
import shlex
import signal

import pytest
import typer.main

from ganfw import engine
from ganfw.bundled import Requirement, missing_requirement, requirement
from ganfw.cli import app
from ganfw.rundir import locks_released
from tests.helpers.cli import WIDE, cli, loss_plugin_source, run_cli
from tests.helpers.recipes import tiny_recipe


def test_run_says_the_data_before_training(tmp_path, mnist_root, capsys):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root)
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")
    assert code == 0, err
    lines = err.splitlines()
    assert lines[0] == f"run directory: {tmp_path / 'run'}"
    assert lines[1].endswith(
        "] data: mnist: 64 training images of 1x28x28, 10 classes (0, 1, 2, 3, 4, 5, ...), "
        "10,000 held out for evaluation (99% of 10,064)"
    )


def test_a_stopped_run_says_how_to_continue_it_and_that_command_does(tmp_path, mnist_root, capsys, monkeypatch):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 2})
    out = tmp_path / "my run"  # a path the shell must quote
    original = engine.Trainer._train_step

    def stop_after_step_1(self, real):
        report = original(self, real)
        if self.step == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # as a job scheduler would
        return report

    monkeypatch.setattr(engine.Trainer, "_train_step", stop_after_step_1)
    with locks_released():
        code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet", "--set", "train.epochs=3")
    assert code == 130
    command = f"ganfw run {shlex.quote(str(out / 'recipe.toml'))} --out {shlex.quote(str(out))} --resume"
    assert err.splitlines()[-1] == f"to continue: {command}"

    monkeypatch.setattr(engine.Trainer, "_train_step", original)
    code, _, err = cli(capsys, *shlex.split(command)[1:], "--quiet")
    assert code == 0, err
    assert "resuming from" in err and "(step 1)" in err and err.splitlines()[-1] == f"done: {out}"
    assert sorted(p.name for p in (out / "checkpoints").iterdir())[-1] == "step_00000006.safetensors"  # --set kept


def test_a_cold_reference_cache_is_announced_once(tmp_path, mnist_root, capsys, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, eval={"every": 1, "n": 100, "metrics": ["fid"]})
    announced = f"embedding the held-out split of mnist once, in judge features (cached in {tmp_path / 'cache'}"
    for run, times in (("cold", 1), ("warm", 0)):
        code, _, err = cli(capsys, "run", str(recipe), "--out", str(tmp_path / run), "--quiet")
        assert code == 0, err
        assert err.count(announced) == times, err
    assert err.splitlines()[0].startswith("run directory: ")


# --- a recipe that needs a plugin package ----------------------------------------------------------


def test_the_requirement_line_of_a_recipe_is_read_from_its_leading_comment():
    text = "# A recipe.\n#\n# requires: ganfw-spectral (pip install plugins/external/ganfw-spectral)\nextends = 'x'\n"
    assert requirement(text) == Requirement("ganfw-spectral", "pip install plugins/external/ganfw-spectral")
    assert requirement("# requires: ganfw-x\n") == Requirement("ganfw-x", "")
    assert requirement("extends = 'x'\n# requires: ganfw-x\n") is None  # not in the leading comment
    assert requirement("# This requires: care.\n") is None


def test_a_recipe_needing_a_missing_plugin_package_names_it(tmp_path, capsys, clean_plugin_env):
    recipe = tmp_path / "spectral_try.toml"
    recipe.write_text(
        "# Needs another discriminator.\n# requires: ganfw-nowhere (pip install ganfw-nowhere)\n"
        'extends = "mnist_dcgan"\n\n[discriminator]\nname = "sn-nowhere"\n'
    )
    assert missing_requirement(recipe) == (
        "the recipe spectral_try needs the plugin package ganfw-nowhere: pip install ganfw-nowhere"
    )
    code, _, err = cli(capsys, "check", str(recipe))
    (line,) = err.splitlines()
    assert code == 2 and line.startswith(f"error: {recipe}: discriminator.name: unknown discriminator 'sn-nowhere'")
    assert line.endswith("; the recipe spectral_try needs the plugin package ganfw-nowhere: pip install ganfw-nowhere")


def test_a_recipe_that_is_no_regular_file_is_never_read_for_its_requirement(tmp_path):
    """A FIFO nobody writes to (its loading gives up after seconds): the error stays as it is."""
    os.mkfifo(tmp_path / "r.toml")
    assert missing_requirement(tmp_path / "r.toml") is None
    assert missing_requirement(tmp_path / "missing.toml") is None


def test_an_installed_requirement_is_not_named(tmp_path, plugin_site):
    plugin_site.add("ganfw-nowhere", "1.0", {"nowhere_losses": loss_plugin_source("pairwise")})
    recipe = tmp_path / "r.toml"
    recipe.write_text('# requires: ganfw-nowhere\nextends = "mnist_dcgan"\n\n[loss]\nname = "pairwisee"\n')
    result = plugin_site.run("check", str(recipe), env=WIDE)
    assert result.returncode == 2 and "unknown loss 'pairwisee'" in result.stderr
    assert "needs the plugin package" not in result.stderr  # it is installed: the name is what is wrong


def test_recipes_marks_a_recipe_needing_a_plugin_package(capsys):
    code, out, _ = cli(capsys, "recipes", "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["mnist_spectral"]["requires"] == {
        "package": "ganfw-spectral",
        "how": "pip install plugins/external/ganfw-spectral, from a checkout of ganfw",
    }
    assert all(row["requires"] is None for name, row in rows.items() if name != "mnist_spectral")
    result = run_cli("recipes", env=WIDE)
    assert "ganfw-spectral (not installed)" in result.stdout
    assert (
        "the recipe mnist_spectral needs the plugin package ganfw-spectral: pip install "
        "plugins/external/ganfw-spectral, from a checkout of ganfw"
    ) in result.stdout


# --- --help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [None, *sorted(typer.main.get_command(app).commands)])
def test_help_shows_flags_without_a_type(command, capsys):
    code, out, _ = cli(capsys, *([command] if command else []), "--help")
    assert code == 0 and "--help" in out
    assert "<bool>" not in out


def test_help_shows_resume_takes_auto(capsys):
    _, out, _ = cli(capsys, "run", "--help")
    (line,) = [line for line in out.splitlines() if line.strip("│ ").startswith("--resume")]
    assert line.strip("│ ").split()[:2] == ["--resume", "[auto]"]
