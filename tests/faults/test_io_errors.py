"""Fault injection (issue 11), I/O and absurd inputs: a full disk during a checkpoint, an absurd
``--n``, a recipe nested thousands deep - one line each, exit status 2, nothing torn left."""

from __future__ import annotations

import errno
from pathlib import Path

from conftest import cli
from data_fixtures import mnist_root  # noqa: F401  (fixture)
from ganfw import checkpoint
from ganfw.checkpoint import list_checkpoints, load_checkpoint
from recipe_fixtures import tiny_recipe


def one_error_line(code: int, err: str) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    return line


def test_disk_full_during_a_checkpoint_stops_with_one_line(tmp_path, mnist_root, monkeypatch, capsys):  # noqa: F811
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, train={"epochs": 2})
    real_save = checkpoint.save_file

    def full_on_the_second(tensors, filename, metadata=None):
        if list_checkpoints(Path(filename).parent):
            Path(filename).write_bytes(b"\0" * 4096)  # part of it written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", filename)
        real_save(tensors, filename, metadata=metadata)

    monkeypatch.setattr(checkpoint, "save_file", full_on_the_second)
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    line = one_error_line(code, err)
    assert "No space left on device" in line and str(out / "checkpoints") in line
    (kept,) = list_checkpoints(out / "checkpoints")
    assert load_checkpoint(kept).state["step"] == 2
    assert not list((out / "checkpoints").glob(".*.tmp"))


def test_an_absurd_n_is_one_line(tmp_path, mnist_root, capsys):  # noqa: F811
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root)
    assert cli(capsys, "run", str(recipe), "--out", str(tmp_path / "run"), "--quiet")[0] == 0
    for args in (["sample", str(tmp_path / "run"), "--out", str(tmp_path / "x.npy")], ["evaluate", str(tmp_path / "run")]):
        code, _, err = cli(capsys, *args, "--n", str(10**13))
        assert "--n 10000000000000" in one_error_line(code, err)


def test_a_recipe_nested_thousands_deep_is_one_line(tmp_path, capsys):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    code, _, err = cli(capsys, "check", str(deep))
    assert str(deep) in one_error_line(code, err) and "nested too deeply" in err
