"""Fault injection (issue 11), the run directory: two runs into one ``--out``, a directory left
by a run that died before its first checkpoint, ``--out`` that cannot be a run directory."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ganfw.checkpoint import list_checkpoints
from ganfw.cli import main
from ganfw.rundir import lock_run_dir
from tests.helpers.cli import REPO, Result, cli, loss_plugin_source, run_cli
from tests.helpers.recipes import tiny_recipe


def one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    return line


@pytest.fixture
def recipe(tmp_path, mnist_root):
    return tiny_recipe(tmp_path / "r.toml", mnist_root)


def test_a_second_run_into_the_same_directory_refuses(recipe, tmp_path):
    out = tmp_path / "run"
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ganfw",
            "run",
            str(recipe),
            "--out",
            str(out),
            "--quiet",
            "--set",
            "train.epochs=10000",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not list_checkpoints(out / "checkpoints") and time.monotonic() < deadline:
            time.sleep(0.1)
        second = run_cli("run", str(recipe), "--out", str(out), "--resume", "--set", "train.seed=5")
        line = one_error_line(second)
        assert str(out) in line and "another ganfw run" in line
        assert first.poll() is None, "the first run must go on"
    finally:
        first.kill()
        first.wait()
    assert "seed = 0" in (out / "recipe.toml").read_text()  # the first run's recipe, untouched
    lock_run_dir(out)  # the lock died with the killed run


def leftovers_of_a_run_killed_before_its_first_checkpoint(out: Path, recipe: Path) -> None:
    """What a run killed during its first epoch leaves: recipe, a log, an empty checkpoints/
    holding the temporary file of a checkpoint being written, and its (released) lock file."""
    (out / "checkpoints").mkdir(parents=True)
    (out / "recipe.toml").write_text(recipe.read_text())
    (out / "metrics.jsonl").write_text(json.dumps({"event": "start", "step": 0}) + "\n" + '{"step": 1, "d_lo')
    (out / "checkpoints" / ".step_00000002.safetensors.abc123.tmp").write_bytes(b"\0" * 1000)
    (out / ".lock").touch()


@pytest.mark.parametrize("how", [[], ["--resume"]])
def test_a_run_that_died_before_its_first_checkpoint_can_be_restarted(recipe, tmp_path, how):
    out = tmp_path / "run"
    leftovers_of_a_run_killed_before_its_first_checkpoint(out, recipe)
    result = run_cli("run", str(recipe), "--out", str(out), "--quiet", *how)
    assert result.returncode == 0, result.stderr
    if how:
        assert "starting it over" in result.stderr
    assert [p.name for p in list_checkpoints(out / "checkpoints")] == ["step_00000002.safetensors"]
    assert not list((out / "checkpoints").glob("*.tmp"))
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r.get("event") for r in log].count("start") == 1  # the dead run's log is gone


def test_a_directory_with_the_users_files_is_still_refused(recipe, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    line = one_error_line(run_cli("run", str(recipe), "--out", str(out)))
    assert "already holds files" in line
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_an_out_that_cannot_be_a_run_directory_is_one_line(recipe, tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    out = {"file": blocker, "below-a-file": blocker / "run"}[where]
    line = one_error_line(run_cli("run", str(recipe), "--out", str(out)))
    assert str(blocker if where == "below-a-file" else out) in line


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
@pytest.mark.parametrize("exists", [False, True], ids=["new", "existing"])
def test_a_read_only_out_is_one_line(recipe, tmp_path, monkeypatch, capsys, code, exists):
    """A read-only file system or a folder without write permission, simulated (as root, chmod
    does not stop writes): creating the run directory, or its lock file, fails."""
    ro = tmp_path / "ro"
    out = ro if exists else ro / "run"
    ro.mkdir()
    real_mkdir, real_open = os.mkdir, os.open

    def refused(path):
        if Path(path).parent == ro or Path(path) == ro:
            raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(os, "mkdir", lambda path, *a, **kw: refused(path) or real_mkdir(path, *a, **kw))
    monkeypatch.setattr(os, "open", lambda path, *a, **kw: refused(path) or real_open(path, *a, **kw))
    status, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    failed = out / ".lock" if exists else out
    assert one_error_line(Result(status, "", err)) == (
        f"error: {failed}: cannot use as a run directory ({os.strerror(code)})"
    )
    assert list(ro.iterdir()) == []


@pytest.fixture(scope="module")
def finished(tmp_path_factory, mnist_root):
    """A 2-epoch tiny run trained in-process under umask 027 (so files written as 0640)."""
    base = tmp_path_factory.mktemp("finished")
    recipe = tiny_recipe(base / "r.toml", mnist_root, train={"epochs": 2})
    old = os.umask(0o027)
    try:
        main(["run", str(recipe), "--out", str(base / "run"), "--quiet"])
    except SystemExit as e:
        assert e.code in (0, None)
    finally:
        os.umask(old)
    return base / "run", recipe


def test_output_files_honour_the_umask(finished):
    run, _ = finished
    files = [p for p in run.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {
        "recipe.toml",
        "metrics.jsonl",
        "losses.png",
        "step_00000004.safetensors",
        "image_at_epoch_0002.png",
        ".lock",
    }
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o640" for p in files}


def test_resuming_with_fewer_epochs_than_trained_is_refused_untouched(finished, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished[0], run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    code, _, err = cli(capsys, "run", str(finished[1]), "--out", str(run), "--resume", "--set", "train.epochs=1")
    line = one_error_line(Result(code, "", err))
    assert line == (
        f"error: {finished[1]}: train.epochs = 1 ends at step 2, but {run / 'checkpoints' / 'step_00000004.safetensors'} "
        "is at step 4; set train.epochs to 2 or more to continue"
    )
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before  # recipe.toml, the log: unchanged


# --- a run refused before training leaves nothing behind (issue 22) --------------------------------


def refused_before_training(capsys, *args: str) -> str:
    """``ganfw run ARGS`` in this process, refused: its one error line; no "run directory" said."""
    status, _, err = cli(capsys, "run", *args, "--quiet")
    assert "run directory" not in err
    return one_error_line(Result(status, "", err))


@pytest.fixture
def failing_generator(site):
    """A plugin whose generator ``broken`` cannot be built (its factory does not import)."""
    source = loss_plugin_source("broken", kind="generator", hook="ganfw_generators")
    site.add("ganfw-broken", "1.0", {"broken_generator": source})


@pytest.mark.parametrize("case", ["missing data", "missing folder", "a component that fails to build"])
def test_a_run_refused_before_training_leaves_no_run_directory(recipe, tmp_path, monkeypatch, capsys, case, request):
    """Without --out, the run directory (``runs/<recipe>-<time>/``) and the ``runs/`` it needed
    are gone again; with an --out that did not exist, so is every folder made for it."""
    monkeypatch.chdir(tmp_path)
    sets, said = {
        "missing data": ([f"data.root={json.dumps(str(tmp_path / 'empty'))}", "data.params.download=false"], "MNIST"),
        "missing folder": (['data.name="image-folder"', 'data.params={path = "no-such-folder"}'], "no-such-folder"),
        "a component that fails to build": (['generator={name = "broken"}'], "cannot import its factory"),
    }[case]
    if case == "a component that fails to build":
        request.getfixturevalue("failing_generator")
    before = sorted(p.name for p in tmp_path.iterdir())
    for out in ([], ["--out", str(tmp_path / "new" / "deeper" / "run")]):
        line = refused_before_training(capsys, str(recipe), *out, *(a for s in sets for a in ("--set", s)))
        assert said in line
        assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_refused_run_keeps_a_runs_folder_that_holds_other_runs(recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs" / "earlier").mkdir(parents=True)
    refused_before_training(capsys, str(recipe), "--set", 'data.root="empty"', "--set", "data.params.download=false")
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["earlier"]


def test_run_directory_is_said_once_training_starts(recipe, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    status, _, err = cli(capsys, "run", str(recipe), "--quiet")
    assert status == 0, err
    (run,) = (tmp_path / "runs").iterdir()
    lines = err.splitlines()
    assert lines[0] == f"run directory: {Path('runs') / run.name}" and err.count("run directory") == 1
    assert lines[-1] == f"done: {Path('runs') / run.name}"
