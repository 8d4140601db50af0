"""Fault injection (issue 19), text from a hostile world: control characters (NUL, ESC, a
right-to-left override) in ``--set`` values, recipe keys, ``extends`` paths, image file and class
names and ``--out`` reach the terminal escaped; a ``--set`` with a line break is refused; numbers
torch would refuse in a run are refused by ``ganfw check`` (Adam's betas) or in one line
(``--seed``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from ganfw.errors import UserError, printable
from ganfw.sampling import class_index
from ganfw_plugins.image_folder import ImageFolderParams
from ganfw_plugins.image_folder.dataset import ImageFolder
from tests.faults.lines import one_error_line
from tests.helpers.cli import RECIPES, cli

QUICK = str(RECIPES / "mnist_quick.toml")
#: Clear the screen, then red: what a raw echo would make a terminal do.
ESC = "\x1b[2J\x1b[31m"
#: Every kind of character that must not reach a terminal raw.
HOSTILE = f"a{ESC}b\x00c\x07d\u202ee\x9bf"
ESCAPED = "a\\x1b[2J\\x1b[31mb\\x00c\\x07d\\u202ee\\x9bf"


def test_printable_escapes_controls_and_keeps_the_rest():
    assert printable(HOSTILE) == ESCAPED
    assert printable("line\nbreak\ttab\r") == "line\\nbreak\\ttab\\r"
    assert printable("naïve café 字 ✓ and a backslash \\") == "naïve café 字 ✓ and a backslash \\"
    assert printable("undecodable \udcff byte") == "undecodable \\udcff byte"
    assert str(UserError(f"x {HOSTILE}")) == f"x {ESCAPED}"


def test_a_set_value_is_echoed_escaped(capsys):
    code, _, err = cli(capsys, "check", QUICK, "--set", f"train.epochs={HOSTILE}")
    assert "train.epochs" in one_error_line(code, err) and ESCAPED in err


def test_a_recipe_key_is_echoed_escaped(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('extends = "mnist_quick"\n\n[train]\n"epochs\\u001b[2J" = 1\n', encoding="utf-8")
    code, _, err = cli(capsys, "check", str(recipe))
    assert "train.epochs\\x1b[2J: unknown key" in one_error_line(code, err)


def test_an_extends_path_is_echoed_escaped(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('extends = "base\\u001b[2J.toml"\n', encoding="utf-8")
    code, _, err = cli(capsys, "check", str(recipe))
    assert "base\\x1b[2J.toml does not exist" in one_error_line(code, err)


def test_an_out_is_echoed_escaped(tmp_path, capsys):
    code, _, err = cli(capsys, "sample", str(tmp_path), "--out", f"grid{ESC}.bmp")
    assert one_error_line(code, err).startswith("error: --out grid\\x1b[2J\\x1b[31m.bmp: unsupported format")
    code, _, err = cli(capsys, "cp", "mnist_quick", str(tmp_path / f"mine{ESC}.toml"))
    assert code == 0 and "mine\\x1b[2J\\x1b[31m.toml" in err and "\x1b" not in err


def test_label_choices_are_echoed_escaped():
    saved = SimpleNamespace(generator=SimpleNamespace(num_classes=2), class_names=(f"cat{ESC}", "dog"), path=Path("c"))
    with pytest.raises(UserError) as caught:
        class_index(f"bird{ESC}", saved)
    assert str(caught.value) == (
        "--label bird\\x1b[2J\\x1b[31m: not a class of the generator in c; use a class index 0..1, "
        "a class name (cat\\x1b[2J\\x1b[31m, dog) or 'all'"
    )


def test_an_image_folder_warning_is_echoed_escaped(tmp_path, capsys):
    """A plugin's warning (the image folder's unreadable files, named in it) goes to stderr
    through the CLI's handler, escaped."""
    folder = tmp_path / f"pictures{ESC}"
    folder.mkdir()
    (folder / f"bad{ESC}.png").write_bytes(b"not a png")
    Image.new("RGB", (8, 8)).save(folder / "good.png")
    cli(capsys, "recipes")  # installs the CLI's handler of plugin logs
    capsys.readouterr()
    len(ImageFolder(ImageFolderParams(path=str(folder))))
    (line,) = capsys.readouterr().err.splitlines()
    assert "\x1b" not in line and "bad\\x1b[2J\\x1b[31m.png" in line and "pictures\\x1b[2J" in line


def test_a_set_with_a_line_break_is_refused(capsys):
    """``--set $'train.seed=5\\nx = 1'`` was read as ``seed = 5``, the rest silently dropped."""
    code, _, err = cli(capsys, "check", QUICK, "--set", "train.seed=5\nx = 1")
    assert one_error_line(code, err) == (
        "error: --set: 'train.seed=5\\nx = 1' holds a line break; a --set gives one key=value on one line"
    )


@pytest.mark.parametrize("betas", ["[1.0, 0.999]", "[0.5, 1.0]"])
def test_check_refuses_betas_adam_refuses(capsys, betas):
    code, _, err = cli(capsys, "check", QUICK, "--set", f"optim.generator.betas={betas}")
    index = 0 if betas.startswith("[1.0") else 1
    assert one_error_line(code, err).endswith(
        f"optim.generator.betas[{index}] (from --set optim.generator.betas={betas}): "
        "1.0 is out of range (Adam takes 0 <= beta < 1)"
    )


@pytest.mark.parametrize("command", ["sample", "interpolate", "evaluate", "train-judge"])
@pytest.mark.parametrize("seed", ["99999999999999999999", "-1"])
def test_a_seed_torch_cannot_take_is_one_line(tmp_path, capsys, command, seed):
    target = "mnist" if command == "train-judge" else str(tmp_path)
    out = ["--out", str(tmp_path / "x.png")] if command in ("sample", "interpolate") else []
    code, _, err = cli(capsys, command, target, *out, "--seed", seed)
    assert one_error_line(code, err) == f"error: --seed {seed}: a seed is an integer from 0 to 2**62"
