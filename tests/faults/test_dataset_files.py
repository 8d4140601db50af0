"""Fault injection (issue 11), the dataset's files: a corrupt, truncated or missing MNIST file
stops ``ganfw run`` before training with one line naming it, and leaves no run directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.cli import cli
from tests.helpers.data import MNIST_FILES
from tests.helpers.recipes import tiny_recipe

#: case -> (the file damaged, what becomes of its bytes (None: deleted), what the line says)
DAMAGE = {
    "truncated-images": ("train-images-idx3-ubyte", lambda b: b[: len(b) // 2], "(truncated?)"),
    "bad-magic-labels": ("train-labels-idx1-ubyte", lambda b: b"\x00\x00\x08\x03" + b[4:], "magic number 0x00000803"),
    "empty-images": ("train-images-idx3-ubyte", lambda b: b"", "shorter than its header"),
    "missing-labels": ("train-labels-idx1-ubyte", None, "missing: train-labels-idx1-ubyte"),
}


def data_root_with(tmp_path: Path, real: Path, name: str, damage) -> Path:
    """A data root linking the real MNIST files, except ``name``: damaged copy, or none."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for file in MNIST_FILES:
        if file != name:
            (raw / file).symlink_to(real / "MNIST" / "raw" / file)
        elif damage is not None:
            (raw / file).write_bytes(damage((real / "MNIST" / "raw" / file).read_bytes()))
    return tmp_path / "data"


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_broken_dataset_file_stops_the_run_before_training(case, tmp_path, mnist_root, capsys):
    name, damage, says = DAMAGE[case]
    root = data_root_with(tmp_path, mnist_root, name, damage)
    recipe = tiny_recipe(tmp_path / "r.toml", root, data={"params": {"download": False}})
    out = tmp_path / "run"
    code, _, err = cli(capsys, "run", str(recipe), "--out", str(out), "--quiet")
    assert code == 2 and "Traceback" not in err, err
    (line,) = [x for x in err.splitlines() if x.startswith("error:")]
    named = root / "MNIST" / "raw" / (name if damage is not None else "")
    assert str(named) in line and says in line, line
    assert not out.exists()  # nothing trained, nothing left
