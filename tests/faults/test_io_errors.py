"""Fault injection (issues 11 and 19), I/O and absurd inputs: a full disk during a checkpoint (as
the OS reports it, and as safetensors does), a file size limit (``ulimit -f``) under every writer,
``ganfw cp --force`` failing half-way, an absurd ``--n``, a recipe nested thousands deep - one line
each, exit status 2, nothing torn left, the user's old file intact."""

from __future__ import annotations

import errno
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from safetensors import SafetensorError

from ganfw import checkpoint, engine
from ganfw.checkpoint import list_checkpoints, load_checkpoint
from ganfw.evaluation import cli as evaluation_cli
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.faults.lines import one_error_line
from tests.helpers.cli import RECIPES, cli
from tests.helpers.recipes import tiny_recipe

#: How the disk being full reaches the checkpoint writer: an ``OSError``, or safetensors' own
#: error (not an ``OSError``) with the OS's message in it.
FULL_DISK = {
    "os-error": lambda filename: OSError(errno.ENOSPC, "No space left on device", filename),
    "safetensors-error": lambda filename: SafetensorError(
        "Error while serializing: I/O error: No space left on device (os error 28)"
    ),
}


@pytest.mark.parametrize("raised", list(FULL_DISK))
def test_disk_full_during_a_checkpoint_stops_with_one_line(tmp_path, mnist_root, monkeypatch, capsys, raised):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 2})
    real_save = checkpoint.save_file

    def full_on_the_second(tensors, filename, metadata=None):
        if list_checkpoints(Path(filename).parent):
            Path(filename).write_bytes(b"\0" * 4096)  # part of it written, then the disk is full
            raise FULL_DISK[raised](filename)
        real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", full_on_the_second)
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    line = one_error_line(code, err)
    assert line == f"error: {out / 'checkpoints' / 'step_00000004.safetensors'}: No space left on device"
    (kept,) = list_checkpoints(out / "checkpoints")
    assert load_checkpoint(kept).state["step"] == 2
    assert not list((out / "checkpoints").glob(".*.tmp"))


def limited(*args: str, cwd: Path, file_size: int) -> subprocess.CompletedProcess:
    """``python -m ganfw ARGS`` under ``ulimit -f`` of ``file_size`` bytes: every write past it
    fails with ``EFBIG`` (Python ignores SIGXFSZ), as writes fail on a full disk."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_size, file_size))

    return subprocess.run(
        [sys.executable, "-m", "ganfw", *args], capture_output=True, text=True, cwd=cwd, preexec_fn=limit, timeout=300
    )


def test_a_checkpoint_past_the_file_size_limit_is_one_line(tmp_path, mnist_root):
    """A real write refused by the OS under safetensors (its checkpoint is about 185 kB, every
    other file of the run under 100 kB)."""
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root)
    result = limited("run", str(recipe), "--out", "run", "--quiet", cwd=tmp_path, file_size=100_000)
    line = one_error_line(result.returncode, result.stderr)
    assert line == f"error: {Path('run') / 'checkpoints' / 'step_00000002.safetensors'}: {os.strerror(errno.EFBIG)}"
    assert list((tmp_path / "run" / "checkpoints").iterdir()) == []


@pytest.mark.parametrize("out", ["x.png", "x.pt", "x.npy", "report.html"])
def test_every_output_past_the_file_size_limit_is_one_line_naming_it(run, tmp_path, out):
    command = ["report", str(run)] if out == "report.html" else ["sample", str(run), "--n", "64"]
    result = limited(*command, "--out", out, cwd=tmp_path, file_size=1000)
    line = one_error_line(result.returncode, result.stderr)
    assert line.startswith(f"error: {out}: ") and ("File too large" in line or "could not be written whole" in line)
    assert list(tmp_path.iterdir()) == []


def test_cp_force_that_fails_to_write_keeps_the_old_file(tmp_path):
    """``ganfw cp NAME my.toml --force`` truncated ``my.toml`` in place: a failed write left it empty."""
    mine = tmp_path / "my.toml"
    mine.write_text("# my own recipe\n", encoding="utf-8")
    result = limited("cp", "mnist_quick", "my.toml", "--force", cwd=tmp_path, file_size=0)
    assert one_error_line(result.returncode, result.stderr) == "error: my.toml: cannot write the recipe: File too large"
    assert mine.read_text(encoding="utf-8") == "# my own recipe\n" and list(tmp_path.iterdir()) == [mine]
    result = limited("cp", "mnist_quick", "my.toml", "--force", cwd=tmp_path, file_size=1 << 20)
    assert result.returncode == 0 and mine.read_text(encoding="utf-8") == (RECIPES / "mnist_quick.toml").read_text()


@pytest.fixture(scope="module")
def run(tmp_path_factory, mnist_root):
    """A run directory of one epoch of the tiny recipe."""
    base = tmp_path_factory.mktemp("io")
    recipe = tiny_recipe(base / "r.toml", mnist_root)
    engine.train(load_recipe(recipe, load_registry()), RunDir(base / "run"), PlainReporter(), resume=False)
    return base / "run"


@pytest.mark.parametrize("n", [str(10**13), "0", "-3"])
def test_an_absurd_n_is_one_line(run, tmp_path, capsys, n):
    for args in (["sample", str(run), "--out", str(tmp_path / "x.npy")], ["evaluate", str(run)]):
        code, _, err = cli(capsys, *args, "--n", n)
        assert f"--n {n}" in one_error_line(code, err)
    assert not (tmp_path / "x.npy").exists()


def refuse_files_in(folder: Path, code: int, monkeypatch) -> None:
    """Simulate a read-only place (``EROFS``) or one without permission (``EACCES``) at ``folder``:
    creating a file there fails (as root, chmod would not stop the writes)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kw):
        if dir is not None and Path(dir) == folder:
            raise OSError(code, os.strerror(code), str(Path(dir) / ".x.tmp"))
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


#: where -> (the output path below tmp_path, less its suffix; what the error names if not that
#: path; the reason it gives)
UNWRITABLE = {
    "below-a-file": ("blocker/deeper/out", "blocker", "is a file, not a directory"),
    "a-directory": ("folder/out", None, "is a directory, not a file"),
    "read-only": ("ro/out", None, os.strerror(errno.EROFS)),
    "no-permission": ("ro/out", None, os.strerror(errno.EACCES)),
}


@pytest.mark.parametrize("command", ["sample", "evaluate"])
@pytest.mark.parametrize("where", list(UNWRITABLE))
def test_an_unwritable_output_is_one_line_naming_it(run, tmp_path, capsys, monkeypatch, command, where):
    place, named, reason = UNWRITABLE[where]
    out = tmp_path / (place + (".npy" if command == "sample" else ".json"))
    (tmp_path / "blocker").write_text("x")
    (tmp_path / "ro").mkdir()
    if where == "a-directory":
        out.mkdir(parents=True)
    if where in ("read-only", "no-permission"):
        refuse_files_in(tmp_path / "ro", errno.EROFS if where == "read-only" else errno.EACCES, monkeypatch)
    monkeypatch.setattr(evaluation_cli, "evaluate_images", never)  # --json is checked before evaluating
    args = ["--out", str(out)] if command == "sample" else ["--json", str(out), "--metrics", "fid"]
    code, _, err = cli(capsys, command, str(run), "--n", "20", *args)
    assert one_error_line(code, err) == f"error: {tmp_path / named if named else out}: {reason}"
    assert list((tmp_path / "ro").iterdir()) == [] and (tmp_path / "blocker").read_text() == "x"
    assert out.is_dir() if where == "a-directory" else not out.exists()


def never(*args, **kwargs):
    raise AssertionError("the evaluation ran before its --json place was checked")


def test_a_recipe_nested_thousands_deep_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = cli(capsys, "check", str(deep))
    assert str(deep) in one_error_line(code, err) and "nested too deeply" in err
