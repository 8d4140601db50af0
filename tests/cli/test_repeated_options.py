"""Options given more than once: those that repeat (``--set``, ``--metrics``, ``--disable-plugin``,
``new-plugin --kind``) take every value, in order; every other option takes one value and refuses a
second in one line, rather than keeping the last silently (``-m fid -m inception-score`` scored
only the inception score)."""

from __future__ import annotations

import pytest
import typer.core
import typer.main

from ganfw import cli as ganfw_cli
from ganfw.evaluation import cli as evaluation_cli
from tests.helpers.cli import cli


@pytest.fixture
def evaluated(monkeypatch) -> list[str | None]:
    """The ``metrics`` each ``ganfw evaluate`` passes on (nothing is evaluated)."""
    seen: list[str | None] = []
    monkeypatch.setattr(evaluation_cli, "evaluate_command", lambda *args, metrics, **kw: seen.append(metrics))
    return seen


@pytest.mark.parametrize(
    "args, metrics",
    [
        (["-m", "fid", "-m", "inception-score"], "fid,inception-score"),
        (["--metrics", "fid,kid", "-m", "precision-recall"], "fid,kid,precision-recall"),
        (["-m", "fid,kid"], "fid,kid"),
        ([], None),
    ],
)
def test_metrics_repeat_and_join_with_commas(tmp_path, capsys, evaluated, args, metrics):
    code, _, err = cli(capsys, "evaluate", str(tmp_path), *args)
    assert code == 0, err
    assert evaluated == [metrics]


def single_valued_options() -> list[tuple[str, int, str]]:
    """(command, number of its arguments, option) for every option of every command that takes
    one value."""
    group = typer.main.get_command(ganfw_cli.app)
    found = []
    for name, command in sorted(group.commands.items()):
        arguments = sum(isinstance(p, typer.core.TyperArgument) for p in command.params)
        for p in command.params:
            if isinstance(p, typer.core.TyperOption) and not (p.multiple or p.is_flag or p.count):
                found.append((name, arguments, max(p.opts, key=len)))
    return found


def test_every_command_is_covered():
    commands = {name for name, _, _ in single_valued_options()}
    assert commands >= {"sample", "evaluate", "run", "list", "interpolate", "report", "train-judge", "doctor"}


@pytest.mark.parametrize("command, arguments, option", single_valued_options())
def test_an_option_of_one_value_given_twice_is_one_line(capsys, command, arguments, option):
    code, _, err = cli(capsys, command, *["x"] * arguments, option, "1", option, "2")
    assert code == 2, err
    (line,) = err.splitlines()
    assert line.startswith("error: ") and f"{option} is given 2 times; it takes one value, so give it once" in line
