"""Recipes: a corpus of malformed recipes and ``--set`` values through ``ganfw check``, and the
positive side: ``extends`` merging, ``--set`` parsing, the resolved round trip, shipped recipes.

Most corpus entries run in-process through ``ganfw.cli.main`` (fast); a selection also runs
through the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from ganfw.plugins import load_registry
from ganfw.recipe import RecipeError, apply_overrides, load_recipe, load_tables, parse_override
from tests.helpers.cli import RECIPES, cli, run_cli

#: Shipped recipes that need a plugin outside the ganfw distribution; tests/plugins/external/test_ganfw_spectral.py
#: checks them with the plugin installed.
NEEDS_EXTERNAL_PLUGIN = {"mnist_spectral.toml"}
SHIPPED = sorted(p for p in RECIPES.glob("*.toml") if p.name not in NEEDS_EXTERNAL_PLUGIN)

#: The smallest valid recipe: everything else has a default.
MIN = '[generator]\nname = "mlp"\n\n[discriminator]\nname = "mlp"\n'


@pytest.fixture(scope="module")
def registry():
    saved = {k: os.environ.pop(k) for k in ("GANFW_STRICT_PLUGINS", "GANFW_DISABLE_PLUGINS") if k in os.environ}
    try:
        return load_registry()
    finally:
        os.environ.update(saved)


@pytest.fixture(scope="module")
def beside_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``images/``, the image folder recipes/folder_dcgan.toml reads (relative to
    where it runs): two classes of four 40x40 RGB pictures each."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("beside-images")
    rng = np.random.default_rng(0)
    for name in ("bright", "dark"):
        (folder / "images" / name).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / "images" / name / f"{i}.png")
    return folder


def body(resolved_output: str) -> str:
    """``ganfw check`` output without its first (comment) line."""
    first, _, rest = resolved_output.partition("\n")
    assert first.startswith("# ") and first.endswith(": resolved recipe (valid)")
    return rest


# --------------------------------------------------------------------------------------------
# The corpus of mistakes


@dataclass(frozen=True)
class Bad:
    """One malformed recipe.

    files: file name -> content, written to a temporary directory.
    check: the file given to ``ganfw check``.
    sets: the ``--set`` arguments.
    where: the file the message must start with (``"--set"`` for a malformed ``--set``).
    key: the dotted key that must follow it.
    from_set: the ``--set`` text the message must say the value came from.
    says: text the rest of the message must contain.
    """

    files: dict[str, str]
    says: tuple[str, ...]
    key: str = ""
    where: str = "r.toml"
    check: str = "r.toml"
    sets: tuple[str, ...] = ()
    from_set: str | None = None


def with_min(extra: str) -> dict[str, str]:
    return {"r.toml": MIN + extra}


CORPUS: dict[str, Bad] = {
    # -- files and extends
    "toml-syntax": Bad({"r.toml": MIN + "[train\nepochs = 3\n"}, ("invalid TOML:", "(at line 6, column 7)")),
    "toml-duplicate-key": Bad(with_min("[train]\nepochs = 1\nepochs = 2\n"), ("invalid TOML:",)),
    "missing-file": Bad({}, ("recipe file not found",), where="nope.toml", check="nope.toml"),
    "extends-missing": Bad(
        {"r.toml": 'extends = "gone.toml"\n' + MIN}, ("the base recipe", "gone.toml", "does not exist"), key="extends"
    ),
    "extends-missing-deep": Bad(
        {"r.toml": 'extends = "mid.toml"\n', "mid.toml": 'extends = "sub/gone.toml"\n' + MIN},
        ("sub/gone.toml", "does not exist"),
        key="extends",
        where="mid.toml",
    ),
    "extends-cycle": Bad(
        {"r.toml": 'extends = "b.toml"\n' + MIN, "b.toml": 'extends = "r.toml"\n'},
        ("extends forms a cycle:", "r.toml -> ", "b.toml -> "),
        key="extends",
        where="b.toml",
    ),
    "extends-self": Bad({"r.toml": 'extends = "r.toml"\n' + MIN}, ("extends forms a cycle",), key="extends"),
    "extends-not-a-string": Bad({"r.toml": "extends = 3\n" + MIN}, ("expected a file name",), key="extends"),
    "toml-syntax-in-base": Bad(
        {"r.toml": 'extends = "base.toml"\n', "base.toml": MIN + "epochs = = 3\n"},
        ("invalid TOML:",),
        where="base.toml",
    ),
    # -- unknown keys
    "unknown-top-level": Bad(
        with_min("[trian]\nepochs = 1\n"), ("unknown key 'trian'; did you mean 'train'?",), key="trian"
    ),
    "unknown-top-level-no-match": Bad(
        {"r.toml": "zzz = 1\n" + MIN},
        ("unknown key 'zzz'; valid keys: augment, callbacks, data, discriminator, eval,",),
        key="zzz",
    ),
    "unknown-train-key": Bad(with_min("[train]\nepoch = 3\n"), ("did you mean 'epochs'?",), key="train.epoch"),
    "unknown-optim-net": Bad(
        with_min("[optim.genrator]\nlr = 1\n"), ("did you mean 'generator'?",), key="optim.genrator"
    ),
    "unknown-optim-key": Bad(
        with_min("[optim.generator]\nbeta = [0.5, 0.9]\n"), ("did you mean 'betas'?",), key="optim.generator.beta"
    ),
    "unknown-data-key": Bad(with_min("[data]\nlimt = 5\n"), ("did you mean 'limit'?",), key="data.limt"),
    "unknown-component-key": Bad(
        with_min('[loss]\nname = "hinge"\nparam = {}\n'), ("did you mean 'params'?",), key="loss.param"
    ),
    # -- wrong types
    "string-for-int": Bad(
        with_min('[train]\nepochs = "ten"\n'), ('expected an integer, got the string "ten"',), key="train.epochs"
    ),
    "float-for-int": Bad(
        with_min("[train]\nbatch_size = 12.5\n"), ("expected an integer, got float 12.5",), key="train.batch_size"
    ),
    "bool-for-number": Bad(
        with_min("[optim.generator]\nlr = true\n"), ("expected a number, got true",), key="optim.generator.lr"
    ),
    "bool-for-int": Bad(with_min("[train]\nseed = false\n"), ("expected an integer, got false",), key="train.seed"),
    "table-for-value": Bad(
        with_min("[train.seed]\nvalue = 1\n"), ("expected an integer, got a table",), key="train.seed"
    ),
    "array-for-value": Bad(
        with_min("[output]\ngif = [true]\n"), ("expected true or false, got an array",), key="output.gif"
    ),
    "value-for-table": Bad({"r.toml": "train = 5\n" + MIN}, ("expected a table, got int 5",), key="train"),
    "string-item-in-list": Bad(
        with_min('[generator.params]\nhidden = [256, "512"]\n'),
        ('expected an integer, got the string "512"',),
        key="generator.params.hidden[1]",
    ),
    "literal-choice": Bad(
        with_min('[train]\nprecision = "fp64"\n'),
        ('expected one of "auto" | "fp32" | "bf16" | "fp16"', '"fp64"'),
        key="train.precision",
    ),
    "optim-not-a-table": Bad(
        {"r.toml": "optim = 1\n" + MIN}, ("expected a table with [optim.generator]",), key="optim"
    ),
    # -- out of range
    "epochs-zero": Bad(with_min("[train]\nepochs = 0\n"), ("0 is out of range (must be >= 1)",), key="train.epochs"),
    "lr-zero": Bad(
        with_min("[optim.discriminator]\nlr = 0\n"),
        ("0.0 is out of range (must be > 0.0)",),
        key="optim.discriminator.lr",
    ),
    "lr-nan": Bad(
        with_min("[optim.generator]\nlr = nan\n"), ("expected a finite number, got nan",), key="optim.generator.lr"
    ),
    "dropout-too-big": Bad(
        with_min("[discriminator.params]\ndropout = 1.5\n"),
        ("1.5 is out of range (must be >= 0.0 and <= 0.99)",),
        key="discriminator.params.dropout",
    ),
    "betas-three-items": Bad(
        with_min("[optim.generator]\nbetas = [0.5, 0.9, 0.99]\n"),
        ("expected 2 items, got 3",),
        key="optim.generator.betas",
    ),
    "betas-item-above-one": Bad(
        with_min("[optim.generator]\nbetas = [0.5, 1.5]\n"),
        ("1.5 is out of range (must be >= 0.0 and <= 1.0)",),
        key="optim.generator.betas[1]",
    ),
    "hidden-zero-width": Bad(
        with_min("[generator.params]\nhidden = [256, 0]\n"),
        ("0 is out of range (must be >= 1)",),
        key="generator.params.hidden[1]",
    ),
    # -- components
    "unknown-component": Bad(
        {"r.toml": MIN.replace('name = "mlp"', 'name = "dcgna"', 1)},
        ("unknown generator 'dcgna'; available: cdcgan, cmlp, ", "dcgan, ", "mlp"),
        key="generator.name",
    ),
    "unknown-loss": Bad(
        with_min('[loss]\nname = "wgan"\n'),
        ("unknown loss 'wgan'; available:", "hinge", "wasserstein-gp"),
        key="loss.name",
    ),
    "unknown-qualified": Bad(
        with_min('[loss]\nname = "nobody:hinge"\n'), ("unknown loss 'nobody:hinge'",), key="loss.name"
    ),
    "name-not-a-string": Bad(
        with_min("[loss]\nname = 3\n"), ("expected the name of a loss (a string)",), key="loss.name"
    ),
    "unknown-param": Bad(
        with_min("[generator.params]\nlatent_dims = 64\n"),
        ("unknown key 'latent_dims'; did you mean 'latent_dim'?",),
        key="generator.params.latent_dims",
    ),
    "params-on-paramless": Bad(
        with_min('[schedule]\nname = "alternating"\n\n[schedule.params]\nn = 5\n'),
        ("schedule 'alternating' takes no params",),
        key="schedule.params",
    ),
    "params-not-a-table-on-paramless": Bad(
        with_min('[loss]\nname = "hinge"\nparams = 0\n'), ("loss 'hinge' takes no params",), key="loss.params"
    ),
    "generator-params-not-a-table": Bad(
        {"r.toml": MIN.replace('name = "mlp"\n', 'name = "mlp"\nparams = 5\n', 1)},
        ("expected a table, got int 5",),
        key="generator.params",
    ),
    "missing-generator": Bad(
        {"r.toml": '[discriminator]\nname = "mlp"\n'}, ("missing section [generator]",), key="generator"
    ),
    "generator-without-name": Bad(
        {"r.toml": MIN.replace('name = "mlp"\n', "params = {}\n", 1)},
        ("missing: the name of the generator",),
        key="generator.name",
    ),
    "generator-not-a-table": Bad(
        {"r.toml": 'generator = "mlp"\n[discriminator]\nname = "mlp"\n'}, ("expected a table",), key="generator"
    ),
    # -- recipe-level checks
    "bad-device": Bad(
        with_min('[train]\ndevice = "gpu"\n'), ("'gpu' is not auto, cpu, mps, cuda or cuda:N",), key="train.device"
    ),
    "bad-cuda-index": Bad(with_min('[train]\ndevice = "cuda:x"\n'), ("'cuda:x' is not auto",), key="train.device"),
    "device-trailing-newline": Bad(with_min('[train]\ndevice = "cpu\\n"\n'), ("is not auto",), key="train.device"),
    "non-square-samples": Bad(
        with_min("[output]\nsamples = 10\n"), ("10 is not a square number",), key="output.samples"
    ),
    "data-limit-zero": Bad(with_min("[data]\nlimit = 0\n"), ("expected a positive integer, got 0",), key="data.limit"),
    "data-limit-bool": Bad(
        with_min("[data]\nlimit = true\n"), ("expected a positive integer, got True",), key="data.limit"
    ),
    "data-root-number": Bad(with_min("[data]\nroot = 5\n"), ("expected a directory (a string)",), key="data.root"),
    "unknown-metric": Bad(
        with_min('[eval]\nmetrics = ["fid", "fdi"]\n'),
        ("item 1: unknown metric 'fdi'; available: class-coverage, conditional-accuracy, fid,",),
        key="eval.metrics",
    ),
    # -- --set
    "set-without-equals": Bad(
        with_min(""), ("'train.epochs' is not of the form dotted.key=value",), where="--set", sets=("train.epochs",)
    ),
    "set-bad-key": Bad(
        with_min(""), ("'train..epochs=1' is not of the form",), where="--set", sets=("train..epochs=1",)
    ),
    "set-into-non-table": Bad(
        with_min("[train]\nepochs = 3\n"),
        ("is not a table, so train.epochs.max cannot be set",),
        key="train.epochs",
        sets=("train.epochs.max=3",),
        from_set="train.epochs.max=3",
    ),
    "set-string-for-int": Bad(
        with_min(""),
        ('expected an integer, got the string "ten"',),
        key="train.epochs",
        sets=("train.epochs=ten",),
        from_set="train.epochs=ten",
    ),
    "set-out-of-range": Bad(
        with_min(""),
        ("out of range",),
        key="optim.generator.lr",
        sets=("optim.generator.lr=0",),
        from_set="optim.generator.lr=0",
    ),
    "set-last-one-counts": Bad(
        with_min(""),
        ("0 is out of range",),
        key="train.epochs",
        sets=("train.epochs=5", "train.epochs=0"),
        from_set="train.epochs=0",
    ),
    "set-unknown-key": Bad(
        with_min(""), ("did you mean 'epochs'?",), key="train.epoch", sets=("train.epoch=3",), from_set="train.epoch=3"
    ),
    "set-whole-section": Bad(
        with_min(""), ("expected a table, got int 5",), key="train", sets=("train=5",), from_set="train=5"
    ),
    "set-bad-param-item": Bad(
        with_min(""),
        ("out of range",),
        key="optim.generator.betas[0]",
        sets=("optim.generator.betas=[2, 0.9]",),
        from_set="optim.generator.betas=[2, 0.9]",
    ),
    "set-value-with-brackets": Bad(
        with_min(""),
        ("'[/x]' is not auto",),
        key="train.device",
        sets=("train.device=[/x]",),
        from_set="train.device=[/x]",
    ),
    "set-unknown-component": Bad(
        with_min(""),
        ("unknown generator 'dcgna'",),
        key="generator.name",
        sets=("generator.name=dcgna",),
        from_set="generator.name=dcgna",
    ),
    # -- errors inherited from a base file name the base file
    "inherited-out-of-range": Bad(
        {"r.toml": 'extends = "base.toml"\n[output]\ngif = false\n', "base.toml": MIN + "[train]\nepochs = 0\n"},
        ("0 is out of range",),
        key="train.epochs",
        where="base.toml",
    ),
    "inherited-param-in-merged-table": Bad(
        {
            "r.toml": 'extends = "base.toml"\n[generator.params]\nhidden = [8]\n',
            "base.toml": MIN + "[generator.params]\nlatent_dims = 4\n",
        },
        ("did you mean 'latent_dim'?",),
        key="generator.params.latent_dims",
        where="base.toml",
    ),
    "inherited-two-levels": Bad(
        {
            "r.toml": 'extends = "mid.toml"\n',
            "mid.toml": 'extends = "deep/base.toml"\n',
            "deep/base.toml": MIN + '[train]\ndevice = "tpu"\n',
        },
        ("'tpu' is not auto",),
        key="train.device",
        where="deep/base.toml",
    ),
    "inherited-list-item": Bad(
        {
            "r.toml": 'extends = "base.toml"\n[generator.params]\nlatent_dim = 8\n',
            "base.toml": MIN + "[generator.params]\nhidden = [16, 0]\n",
        },
        ("0 is out of range",),
        key="generator.params.hidden[1]",
        where="base.toml",
    ),
    "overriding-file-is-named": Bad(
        {"r.toml": 'extends = "base.toml"\n[train]\nepochs = 0\n', "base.toml": MIN + "[train]\nepochs = 3\n"},
        ("0 is out of range",),
        key="train.epochs",
    ),
    "missing-section-in-chain": Bad(
        {"r.toml": 'extends = "base.toml"\n', "base.toml": '[discriminator]\nname = "mlp"\n'},
        ("missing section [generator]",),
        key="generator",
    ),
}

#: Corpus entries that also run through the real CLI in a subprocess.
VIA_SUBPROCESS = [
    "toml-syntax",
    "extends-missing",
    "extends-cycle",
    "unknown-train-key",
    "set-into-non-table",
    "inherited-out-of-range",
    "set-without-equals",
    "missing-generator",
    "set-value-with-brackets",
]


def _write(tmp_path: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _check_error(case: Bad, tmp_path: Path, code: int, out: str, err: str) -> None:
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in out + err
    lines = err.splitlines()
    assert len(lines) == 1, err
    _check_message(case, tmp_path, lines[0], "error: ")


def _check_message(case: Bad, tmp_path: Path, line: str, lead: str = "") -> None:
    where = case.where if case.where == "--set" else str(tmp_path / case.where)
    prefix = f"{lead}{where}" + (f": {case.key}" if case.key else "")
    if case.from_set:
        prefix += f" (from --set {case.from_set})"
    assert line.startswith(prefix + ": "), f"{line!r} does not start with {prefix!r}"
    if not case.from_set:
        assert "from --set" not in line
    rest = line[len(prefix) + 2 :]
    for text in case.says:
        assert text in rest, f"{text!r} not in {rest!r}"


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 20
    assert set(VIA_SUBPROCESS) <= set(CORPUS)


@pytest.mark.parametrize("name", CORPUS)
def test_malformed_recipe_error(name: str, tmp_path: Path, registry):
    """The recipe layer: one RecipeError naming file, key and --set."""
    case = CORPUS[name]
    _write(tmp_path, case.files)
    with pytest.raises(RecipeError) as info:
        load_recipe(tmp_path / case.check, registry, list(case.sets))
    message = str(info.value)
    assert "\n" not in message
    _check_message(case, tmp_path, message)


@pytest.mark.parametrize("name", CORPUS)
def test_malformed_recipe(name: str, tmp_path: Path, capsys, clean_plugin_env):
    case = CORPUS[name]
    _write(tmp_path, case.files)
    args = ["check", str(tmp_path / case.check)] + [a for s in case.sets for a in ("--set", s)]
    _check_error(case, tmp_path, *cli(capsys, *args))


@pytest.mark.parametrize("name", VIA_SUBPROCESS)
def test_malformed_recipe_via_subprocess(name: str, tmp_path: Path):
    case = CORPUS[name]
    _write(tmp_path, case.files)
    args = ["check", str(tmp_path / case.check)] + [a for s in case.sets for a in ("-s", s)]
    r = run_cli(*args)
    _check_error(case, tmp_path, r.returncode, r.stdout, r.stderr)


def test_relative_extends_and_recipe_path(tmp_path: Path):
    """A relative recipe path (as users type it) is named as given; extends is relative to it."""
    _write(tmp_path, {"sub/r.toml": 'extends = "../base.toml"\n', "base.toml": MIN + "[train]\nepochs = -1\n"})
    r = run_cli("check", "sub/r.toml", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.startswith("error: sub/../base.toml: train.epochs: -1 is out of range")
    ok = run_cli("check", "sub/r.toml", "--set", "train.epochs=2", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("# sub/r.toml: resolved recipe (valid)\n")


# --------------------------------------------------------------------------------------------
# Positive behaviour


def test_extends_deep_merges_tables_and_replaces_arrays(tmp_path: Path, registry):
    _write(
        tmp_path,
        {
            "base.toml": MIN
            + (
                "[generator.params]\nlatent_dim = 7\nhidden = [1, 2, 3]\n\n"
                "[optim.generator]\nlr = 0.5\nbetas = [0.1, 0.2]\n\n[train]\nepochs = 4\nseed = 9\n"
            ),
            "r.toml": (
                'extends = "base.toml"\n[generator.params]\nhidden = [4]\n\n'
                "[optim.generator]\nbetas = [0.3, 0.4]\n\n[train]\nepochs = 5\n"
            ),
        },
    )
    tables = load_tables(tmp_path / "r.toml")
    assert tables.data["generator"] == {"name": "mlp", "params": {"latent_dim": 7, "hidden": [4]}}
    assert tables.data["train"] == {"epochs": 5, "seed": 9}
    assert "extends" not in tables.data
    assert tables.source_of(("generator", "params", "latent_dim"))[0] == str(tmp_path / "base.toml")
    assert tables.source_of(("generator", "params", "hidden"))[0] == str(tmp_path / "r.toml")
    assert tables.source_of(("train", "seed")) == (str(tmp_path / "base.toml"), None)

    recipe = load_recipe(tmp_path / "r.toml", registry)
    assert recipe.generator.params.latent_dim == 7
    assert recipe.generator.params.hidden == [4]
    assert recipe.optim["generator"].lr == 0.5
    assert recipe.optim["generator"].betas == [0.3, 0.4]
    assert (recipe.train.epochs, recipe.train.seed) == (5, 9)
    # the base is not modified by merging
    assert load_tables(tmp_path / "base.toml").data["generator"]["params"]["hidden"] == [1, 2, 3]


def test_extending_file_can_replace_a_table_with_a_value_and_back(tmp_path: Path):
    _write(
        tmp_path,
        {
            "base.toml": MIN + '[data]\nname = "mnist"\nlimit = 5\n',
            "r.toml": 'extends = "base.toml"\n[data]\nlimit = 10\n',
        },
    )
    tables = load_tables(tmp_path / "r.toml")
    assert tables.data["data"] == {"name": "mnist", "limit": 10}


def test_a_component_renamed_by_the_extending_file_leaves_the_old_params_behind(tmp_path: Path, registry):
    """Issue 20: ``extends = "mnist_quick"`` with ``[generator] name = "dcgan"`` failed on the
    inherited ``generator.params.hidden`` of the parent's ``mlp``, naming the bundled file."""
    _write(tmp_path, {"r.toml": 'extends = "mnist_quick"\n\n[generator]\nname = "dcgan"\n'})
    tables = load_tables(tmp_path / "r.toml")
    assert tables.data["generator"] == {"name": "dcgan"}
    assert not [key for key in tables.origin if key[:2] == ("generator", "params")]
    recipe = load_recipe(tmp_path / "r.toml", registry)
    assert recipe.generator.ref == "dcgan" and recipe.discriminator.ref == "mlp"
    assert recipe.generator.params == recipe.generator.component.spec.default_params()


def test_params_follow_a_component_kept_by_name_and_the_new_ones_apply(tmp_path: Path, registry):
    _write(
        tmp_path,
        {
            "base.toml": MIN + "[generator.params]\nlatent_dim = 7\n",
            "same.toml": 'extends = "base.toml"\n[generator]\nname = "mlp"\n',
            "other.toml": 'extends = "base.toml"\n[generator]\nname = "dcgan"\n[generator.params]\nlatent_dim = 5\n',
        },
    )
    assert load_recipe(tmp_path / "same.toml", registry).generator.params.latent_dim == 7
    other = load_tables(tmp_path / "other.toml")
    assert other.data["generator"] == {"name": "dcgan", "params": {"latent_dim": 5}}
    assert other.source_of(("generator", "params", "latent_dim"))[0] == str(tmp_path / "other.toml")


@pytest.mark.parametrize("text", ["train.seed=5\nx = 1", "loss.name=\n", "train.epochs=3\r"])
def test_parse_override_refuses_a_line_break(text):
    with pytest.raises(RecipeError) as info:
        parse_override(text)
    assert str(info.value) == f"--set: {text!r} holds a line break; a --set gives one key=value on one line"


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("train.epochs=5", ("train", "epochs"), 5),
        ("optim.generator.lr=1e-3", ("optim", "generator", "lr"), 0.001),
        ("optim.generator.lr = 0.5", ("optim", "generator", "lr"), 0.5),
        ("generator.params.hidden=[8, 16]", ("generator", "params", "hidden"), [8, 16]),
        ("train.drop_last=true", ("train", "drop_last"), True),
        ("output.gif=false", ("output", "gif"), False),
        ("train.device=cuda:1", ("train", "device"), "cuda:1"),
        ("train.device=cpu", ("train", "device"), "cpu"),
        ('train.device="cpu"', ("train", "device"), "cpu"),
        ("data.root=/tmp/some dir", ("data", "root"), "/tmp/some dir"),
        ("data.root=", ("data", "root"), ""),
        ("loss.name=losses:hinge", ("loss", "name"), "losses:hinge"),
        ("generator.params={latent_dim = 3}", ("generator", "params"), {"latent_dim": 3}),
        ("eval.metrics=[]", ("eval", "metrics"), []),
        ("a.b=x=y", ("a", "b"), "x=y"),
        ("train.epochs=-3", ("train", "epochs"), -3),
        ("train.epochs=1_000", ("train", "epochs"), 1000),
    ],
)
def test_parse_override(text, key, value):
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text", ["train.epochs", "=5", ".a=1", "a.=1", "a b=1", "a..b=1", "a:b=1"])
def test_parse_override_rejects(text):
    with pytest.raises(RecipeError) as info:
        parse_override(text)
    assert str(info.value) == f"--set: {text!r} is not of the form dotted.key=value"


def test_apply_overrides_creates_tables_and_tracks_sources(tmp_path: Path):
    _write(tmp_path, {"r.toml": MIN + "[train]\nepochs = 3\n"})
    tables = load_tables(tmp_path / "r.toml")
    apply_overrides(tables, ["generator.params.hidden=[3]", "train.epochs=7", "optim.generator.lr=0.1"])
    assert tables.data["generator"]["params"] == {"hidden": [3]}
    assert tables.data["train"]["epochs"] == 7
    assert tables.data["optim"] == {"generator": {"lr": 0.1}}
    assert tables.source_of(("train", "epochs")) == (str(tmp_path / "r.toml"), "train.epochs=7")
    assert tables.source_of(("generator", "params", "hidden", "x")) == (
        str(tmp_path / "r.toml"),
        "generator.params.hidden=[3]",
    )
    assert tables.source_of(("train", "seed"))[1] is None
    # A later --set of a whole table replaces what an earlier one said about its keys.
    apply_overrides(tables, ["train={epochs = 1}"])
    assert tables.source_of(("train", "epochs"))[1] == "train={epochs = 1}"


def test_set_values_through_the_cli(capsys, clean_plugin_env):
    code, out, err = cli(
        capsys,
        "check",
        str(RECIPES / "mnist_mlp.toml"),
        "--set",
        "train.epochs=3",
        "-s",
        "generator.params.hidden=[8, 16]",
        "--set",
        "train.drop_last=true",
        "--set",
        "optim.generator.lr=1e-3",
        "--set",
        "train.device=cuda:1",
        "--set",
        "optim.discriminator.lr=2",
        "--set",
        "data.root=/data/mnist",
        "--set",
        "data.limit=100",
        "--set",
        "loss.name=losses:hinge",
    )
    assert code == 0, err
    resolved = tomllib.loads(body(out))
    assert resolved["train"]["epochs"] == 3 and resolved["train"]["drop_last"] is True
    assert resolved["train"]["device"] == "cuda:1"
    assert resolved["generator"]["params"]["hidden"] == [8, 16]
    assert resolved["generator"]["params"]["latent_dim"] == 100  # from the file
    assert resolved["optim"]["generator"]["lr"] == 0.001
    assert resolved["optim"]["discriminator"]["lr"] == 2.0 and isinstance(
        resolved["optim"]["discriminator"]["lr"], float
    )
    assert resolved["data"] == {
        "name": "mnist",
        "root": "/data/mnist",
        "limit": 100,
        "stream": "auto",
        "params": {"download": True},
    }
    assert resolved["loss"] == {"name": "losses:hinge"}
    assert resolved["train"]["batch_size"] == 128  # from the file


def test_check_fills_every_default(tmp_path: Path, capsys, clean_plugin_env):
    _write(tmp_path, {"r.toml": MIN})
    code, out, err = cli(capsys, "check", str(tmp_path / "r.toml"))
    assert code == 0, err
    resolved = tomllib.loads(body(out))
    assert set(resolved) == {
        "generator",
        "discriminator",
        "loss",
        "schedule",
        "lr_schedule",
        "data",
        "optim",
        "train",
        "output",
        "eval",
    }
    assert resolved["lr_schedule"] == {"name": "constant"}
    assert resolved["loss"]["name"] == "non-saturating" and resolved["schedule"] == {"name": "alternating"}
    assert resolved["data"]["name"] == "mnist"
    assert resolved["optim"]["generator"] == {"lr": 0.0002, "betas": [0.5, 0.999], "eps": 1e-08, "weight_decay": 0.0}
    assert resolved["train"] == {
        "epochs": 20,
        "batch_size": 256,
        "drop_last": False,
        "seed": 0,
        "device": "auto",
        "precision": "auto",
        "channels_last": False,
        "fused_d_pass": False,
        "compile": False,
        "fast_dropout": True,
        "sync_batchnorm": False,
        "budget": "",
        "dist_timeout": 300.0,
        "accumulate": 1,
    }
    assert resolved["eval"] == {"every": 1, "n": 1000, "metrics": ["fid"], "features": "auto"}


ROUND_TRIP = (
    MIN.replace('name = "mlp"', 'name = "dcgan"', 1)
    + """
[generator.params]
latent_dim = 64
widths = [128, 64]
norm = "none"

[discriminator.params]
hidden = [32]
dropout = 0.0
activation = "relu"

[loss]
name = "losses:wasserstein-gp"
params = { gp_weight = 5 }

[schedule]
name = "n-critic"
params = { n = 3 }

[data]
root = "data dir/ünïcode"
limit = 1000

[optim.generator]
lr = 1e-4
betas = [0.0, 0.9]

[train]
epochs = 1
device = "cuda:0"
precision = "bf16"

[output]
samples = 64
dir = "out"
"""
)


@pytest.mark.parametrize("source", ["round-trip", *[p.name for p in SHIPPED]])
def test_resolved_recipe_round_trips(source: str, tmp_path: Path, capsys, clean_plugin_env, registry, beside_images,
                                     monkeypatch):  # fmt: skip
    monkeypatch.chdir(beside_images)
    if source == "round-trip":
        path = tmp_path / "r.toml"
        path.write_text(ROUND_TRIP, encoding="utf-8")
    else:
        path = RECIPES / source
    code, out, err = cli(capsys, "check", str(path))
    assert code == 0, err
    first = body(out)
    again = tmp_path / "resolved.toml"
    again.write_text(out, encoding="utf-8")  # the comment line is valid TOML too
    code, out2, err = cli(capsys, "check", str(again))
    assert code == 0, err
    assert body(out2) == first
    # ... and the recipe objects agree.
    assert load_recipe(again, registry).resolved() == load_recipe(path, registry).resolved() == tomllib.loads(first)


def test_round_trip_values(tmp_path: Path, registry):
    path = tmp_path / "r.toml"
    path.write_text(ROUND_TRIP, encoding="utf-8")
    recipe = load_recipe(path, registry)
    resolved = recipe.resolved()
    assert resolved["loss"] == {"name": "losses:wasserstein-gp", "params": {"gp_weight": 5.0, "drift": 0.0}}
    assert resolved["schedule"] == {"name": "n-critic", "params": {"n": 3}}
    assert resolved["data"]["root"] == "data dir/ünïcode" and resolved["data"]["limit"] == 1000
    assert resolved["optim"]["generator"]["betas"] == [0.0, 0.9]
    assert recipe.loss.component.plugin == "losses"
    assert recipe.generator.params.widths == [128, 64]


def test_shipped_recipes_check_in_a_subprocess(beside_images):
    """The real CLI, for a recipe of each kind (the course's, a conditional one, an image folder's);
    test_resolved_recipe_round_trips checks every shipped recipe in-process."""
    assert {p.name for p in SHIPPED} >= {"mnist_dcgan.toml", "mnist_dcgan_seed.toml", "mnist_mlp.toml"}
    for name in ("mnist_dcgan_seed.toml", "mnist_cdcgan.toml", "folder_dcgan.toml"):
        r = run_cli("check", str(RECIPES / name), cwd=beside_images)
        assert r.returncode == 0, (name, r.stderr)
        assert r.stderr == ""
        tomllib.loads(body(r.stdout))
    # mnist_dcgan extends mnist_dcgan_seed: its own values win, the rest is inherited.
    r = run_cli("check", "recipes/mnist_dcgan.toml")
    resolved = tomllib.loads(body(r.stdout))
    assert resolved["schedule"]["name"] == "alternating" and resolved["train"]["epochs"] == 10
    assert resolved["optim"]["generator"]["betas"] == [0.5, 0.999]
    assert resolved["generator"]["name"] == "dcgan" and resolved["output"]["samples"] == 16


def test_shipped_recipes_let_the_machine_choose_the_precision(registry):
    """Only the course's exact run pins a precision (fp32, as the course trained); every other
    shipped recipe - the external plugin's included - leaves it to ``auto``, so that no machine
    gets a precision it runs slowly."""
    for path in sorted(RECIPES.glob("*.toml")):
        tables = load_tables(path)
        precision = tables.data.get("train", {}).get("precision", "auto")
        assert precision == ("fp32" if path.name == "mnist_dcgan_seed.toml" else "auto"), path.name
        if path.name not in NEEDS_EXTERNAL_PLUGIN:
            assert load_recipe(path, registry).train.precision == precision


def test_recipe_error_is_a_user_error():
    from ganfw.errors import UserError

    e = RecipeError("r.toml", "train.epochs", "bad", "train.epochs=0")
    assert isinstance(e, UserError)
    assert str(e) == "r.toml: train.epochs (from --set train.epochs=0): bad"
    assert str(RecipeError("r.toml", "", "bad")) == "r.toml: bad"
    assert json.dumps(str(e))  # plain text
