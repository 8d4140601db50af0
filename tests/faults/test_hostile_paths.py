"""Fault injection (issue 19), paths from a hostile world: a NUL byte, a name too long, a loop of
links, a directory, a file in the way, a forbidden place - in the recipe's path, ``extends``,
``data.root``, ``data.params.path``, ``output.dir`` and the options that name files - and files
that are no files: a FIFO nobody writes to, ``/dev/zero``, a recipe larger than any recipe. Each is
one line, exit status 2, no traceback, never a hang; process substitution keeps working."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ganfw import paths
from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.recipe import load_recipe
from tests.faults.lines import one_error_line
from tests.helpers.cli import RECIPES, cli

QUICK = str(RECIPES / "mnist_quick.toml")

# --- a NUL byte: no OS call takes one --------------------------------------------------------


def test_a_nul_byte_in_extends_is_one_line(tmp_path, capsys):
    """The fuzzer's find: ``extends = "\\u0000"`` raised ValueError from Path.resolve()."""
    recipe = tmp_path / "nul.toml"
    recipe.write_text('extends = "\\u0000"\n', encoding="utf-8")
    code, _, err = cli(capsys, "check", str(recipe))
    assert one_error_line(code, err) == f"error: {recipe}: extends \\x00: a path cannot hold a NUL byte"


@pytest.mark.parametrize("command", ["check", "run"])
@pytest.mark.parametrize(
    "sets, key",
    [
        (['output.dir="runs\\u0000x"'], "output.dir"),
        (['data.root="\\u0000"'], "data.root"),
        (["data.name=image-folder", 'data.params.path="pictures\\u0000"'], "data.params.path"),
    ],
)
def test_a_nul_byte_in_any_path_of_a_recipe_is_one_line(tmp_path, capsys, command, sets, key):
    args = [a for s in sets for a in ("--set", s)]
    out = ["--out", str(tmp_path / "run")] if command == "run" else []
    code, _, err = cli(capsys, command, QUICK, *args, *out)
    line = one_error_line(code, err)
    assert f"mnist_quick.toml: {key} (from --set {sets[-1]}): " in line and "holds a NUL byte" in line, line
    assert not (tmp_path / "run").exists()


def test_load_recipe_refuses_a_nul_byte_in_its_own_path():
    with pytest.raises(UserError, match=r"^recipe a\\x00b\.toml: a path cannot hold a NUL byte$"):
        load_recipe("a\0b.toml", load_registry())


# --- what the OS refuses ----------------------------------------------------------------------


def refusal(tmp_path: Path, kind: str, monkeypatch) -> tuple[Path, str]:
    """A path the OS refuses in the way ``kind`` names, and the reason it gives. ``forbidden``
    is simulated (the suite runs as root, whom permissions do not stop)."""
    if kind == "too-long":
        return tmp_path / ("n" * 5000), os.strerror(errno.ENAMETOOLONG)
    if kind == "loop":
        (tmp_path / "loop").symlink_to("loop")
        return tmp_path / "loop", os.strerror(errno.ELOOP)
    if kind == "directory":
        (tmp_path / "folder").mkdir()
        return tmp_path / "folder", "is a directory, not a file"
    if kind == "below-a-file":
        (tmp_path / "file").write_text("x")
        return tmp_path / "file" / "r.toml", os.strerror(errno.ENOTDIR)
    forbidden = tmp_path / "forbidden.toml"
    forbidden.write_text("[train]\n")
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if os.fspath(path) == str(forbidden):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    return forbidden, os.strerror(errno.EACCES)


REFUSALS = ["too-long", "loop", "directory", "below-a-file", "forbidden"]


@pytest.mark.parametrize("kind", REFUSALS)
def test_a_recipe_the_os_refuses_is_one_line(tmp_path, capsys, monkeypatch, kind):
    path, reason = refusal(tmp_path, kind, monkeypatch)
    code, _, err = cli(capsys, "check", str(path))
    assert one_error_line(code, err) == f"error: {paths.shown(path)}: cannot read the recipe: {reason}"


@pytest.mark.parametrize("kind", REFUSALS)
def test_an_extends_the_os_refuses_is_one_line(tmp_path, capsys, monkeypatch, kind):
    path, reason = refusal(tmp_path, kind, monkeypatch)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'extends = "{path}"\n', encoding="utf-8")
    code, _, err = cli(capsys, "check", str(recipe))
    line = one_error_line(code, err)
    assert line == f"error: {recipe}: extends: cannot read the base recipe: {paths.shown(path)}: {reason}"


@pytest.mark.parametrize("kind", ["too-long", "loop", "below-a-file"])
def test_an_output_dir_the_os_refuses_is_one_line(tmp_path, capsys, monkeypatch, kind):
    path, reason = refusal(tmp_path, kind, monkeypatch)
    code, _, err = cli(capsys, "run", QUICK, "--set", f"output.dir={path}")
    line = one_error_line(code, err)
    assert line.startswith(f"error: {paths.shown(path / 'mnist_quick')[:60]}") and f"({reason})" in line, line


@pytest.mark.parametrize("command", ["sample", "report"])
@pytest.mark.parametrize("kind", ["too-long", "loop", "below-a-file"])
def test_an_out_the_os_refuses_is_one_line(tmp_path, capsys, monkeypatch, command, kind):
    """``--out`` in a place the OS refuses is checked before anything is read (``sample``), or
    refused when written (``report`` of a run directory that holds only its log)."""
    path, _ = refusal(tmp_path, kind, monkeypatch)
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "d_loss": 0.5}\n')
    out = path / ("out.png" if command == "sample" else "report.html")
    code, _, err = cli(capsys, command, str(run), "--out", str(out))
    line = one_error_line(code, err)
    assert paths.shown(path)[:60] in line, line


def test_the_long_name_in_a_line_is_shortened():
    long = "/x/" + "n" * 5000 + "/r.toml"
    shown = paths.shown(long)
    assert shown.startswith("/x/nnn") and shown.endswith("/r.toml (5010 characters)") and len(shown) < 200


# --- files that are no files -------------------------------------------------------------------


@pytest.fixture
def quick_pipes(monkeypatch):
    """A pipe that stays silent for 0.3 s is given up on (5 s for users)."""
    monkeypatch.setattr(paths, "PIPE_WAIT_S", 0.3)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "p.toml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("through", ["the-argument", "extends"])
@pytest.mark.parametrize("what", ["fifo-without-a-writer", "dev-zero", "larger-than-a-recipe"])
def test_a_file_that_is_no_recipe_is_one_line_never_a_hang(tmp_path, capsys, quick_pipes, through, what):
    if what == "fifo-without-a-writer":
        path, reason = fifo(tmp_path), "nothing came through the pipe in 0.3 s (a FIFO without a writer?)"
    elif what == "dev-zero":
        path, reason = Path("/dev/zero"), "is a character device, not a file"
    else:
        path, reason = tmp_path / "big.toml", "larger than 1,048,576 bytes, more than ganfw reads from such a file"
        path.write_text("# " + "x" * paths.TEXT_LIMIT + "\n")
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'extends = "{path}"\n', encoding="utf-8")
    code, _, err = cli(capsys, "check", str(path if through == "the-argument" else recipe))
    line = one_error_line(code, err)
    assert line.endswith(f"{path}: {reason}") or line.endswith(f"{path}: cannot read the recipe: {reason}"), line


def test_a_fifo_whose_writer_comes_later_is_read(tmp_path, capsys):
    path = fifo(tmp_path)
    writer = threading.Thread(target=lambda: path.write_text(Path(QUICK).read_text(encoding="utf-8")))
    writer.start()
    code, out, err = cli(capsys, "check", str(path))
    writer.join()
    assert code == 0, err
    assert 'name = "mlp"' in out


def test_process_substitution_and_stdin_keep_working(tmp_path):
    """``ganfw check <(cat r.toml)`` (a pipe that has a writer) and ``/dev/stdin``."""
    recipe = tmp_path / "r.toml"
    recipe.write_text('extends = "mnist_quick"\n\n[train]\nepochs = 3\n', encoding="utf-8")
    ganfw = f"{sys.executable} -m ganfw check"
    for command in (f"{ganfw} <(cat {recipe})", f"cat {recipe} | {ganfw} /dev/stdin"):
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "epochs = 3" in result.stdout
