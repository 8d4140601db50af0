"""``ganfw list`` and ``ganfw check`` (and the CLI's promise not to import torch for list / check /
--help)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib

import pytest

from ganfw.plugins import Registry
from ganfw.specs import KINDS
from tests.helpers.cli import RECIPES, REPO, WIDE, cli, make_distribution, run_cli

#: What every install lists (issue 21: the ResNet and StyleGAN2 families, ADA, R2 and path length, the
#: field's datasets, the trackers).
REQUIRED = {
    "generator": {"mlp", "dcgan", "cmlp", "cdcgan", "resnet", "cresnet", "stylegan2", "cstylegan2"},
    "discriminator": {"mlp", "dcgan", "cmlp", "cdcgan", "resnet", "cresnet", "stylegan2", "cstylegan2"},
    "loss": {"non-saturating", "minimax", "hinge", "least-squares", "wasserstein-gp", "r1", "r1-r2", "path-length"},
    "schedule": {"simultaneous", "alternating", "n-critic", "adaptive"},
    "dataset": {
        "mnist",
        "fashion-mnist",
        "image-folder",
        "cifar10",
        "cifar100",
        "stl10",
        "celeba",
        "lsun",
        "hf-dataset",
        "webdataset",
    },  # fmt: skip
    "metric": {
        "fid",
        "kid",
        "inception-score",
        "class-coverage",
        "precision-recall",
        "conditional-accuracy",
        "sliced-wasserstein",
    },  # fmt: skip
    "augmentation": {"diffaugment", "ada"},
    "callback": {"ema", "early-stopping", "health", "report", "mlflow", "wandb", "csv"},
    "lr-schedule": {"constant", "cosine", "linear-decay"},
}
KIND_ORDER = list(KINDS)


@pytest.fixture
def listed(capsys, clean_plugin_env) -> list[dict]:
    code, out, err = cli(capsys, "list", "--json")
    assert code == 0 and err == ""
    return json.loads(out)


def test_every_builtin_component_is_listed(listed):
    found = {}
    for row in listed:
        found.setdefault(row["kind"], set()).add(row["name"])
    for kind, names in REQUIRED.items():
        assert names <= found.get(kind, set()), kind
    for row in listed:
        assert set(row) == {"kind", "name", "qualified_name", "plugin", "package", "version", "summary", "clash"}
        for key in ("kind", "name", "plugin", "version", "summary"):
            assert isinstance(row[key], str) and row[key], (row, key)
        assert row["qualified_name"] == f"{row['plugin']}:{row['name']}"
        assert "\n" not in row["summary"]
        assert row["clash"] is False
    builtin = [r for r in listed if r["name"] in REQUIRED.get(r["kind"], ())]
    assert {r["package"] for r in builtin} == {"ganfw"}
    from ganfw import __version__

    assert {r["version"] for r in builtin} == {__version__}
    assert {(r["kind"], r["name"]): r["plugin"] for r in builtin if r["kind"] in ("loss", "dataset")} == {
        **{("loss", n): "losses" for n in REQUIRED["loss"]},
        ("dataset", "mnist"): "mnist",
        ("dataset", "fashion-mnist"): "fashion_mnist",
        ("dataset", "image-folder"): "image_folder",
        **{("dataset", n): "torchvision_sets" for n in ("cifar10", "cifar100", "stl10", "celeba", "lsun")},
        ("dataset", "hf-dataset"): "hf_datasets",
        ("dataset", "webdataset"): "webdataset_shards",
    }
    # Sorted by kind (in KINDS order), then name.
    keys = [(KIND_ORDER.index(r["kind"]), r["name"]) for r in listed]
    assert keys == sorted(keys)


def test_kind_filter(capsys, clean_plugin_env):
    code, out, _ = cli(capsys, "list", "--kind", "loss", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {r["kind"] for r in rows} == {"loss"}
    assert {r["name"] for r in rows} >= REQUIRED["loss"]
    code, out, _ = cli(capsys, "list", "-k", "schedule", "--json")
    assert {r["name"] for r in json.loads(out)} >= REQUIRED["schedule"]
    code, out, _ = cli(capsys, "list", "--kind", "metric", "--json")
    metrics = [r["name"] for r in json.loads(out)]
    assert code == 0 and set(metrics) >= REQUIRED["metric"] and metrics == sorted(metrics)


def test_params_are_included(capsys, clean_plugin_env):
    code, out, _ = cli(capsys, "list", "--params", "--json")
    assert code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(out)}
    for row in rows.values():
        assert isinstance(row["params"], list)
        for p in row["params"]:
            assert set(p) == {"name", "type", "default", "doc"}
            assert p["name"] and p["type"] and p["doc"]
    gen = {p["name"]: p for p in rows[("generator", "dcgan")]["params"]}
    assert gen["latent_dim"] == {
        "name": "latent_dim",
        "type": "int",
        "default": 100,
        "doc": "length of the noise vector z (>= 1)",
    }
    assert gen["widths"]["type"] == "list[int]" and gen["widths"]["default"] == [256, 128, 64]
    assert gen["norm"]["type"] == '"batch" | "none"'
    assert rows[("loss", "hinge")]["params"] == []
    assert {p["name"] for p in rows[("schedule", "n-critic")]["params"]} == {"n"}
    assert {p["name"]: p["default"] for p in rows[("loss", "non-saturating")]["params"]} == {"label_smoothing": 0.0}


def test_list_by_name(capsys, clean_plugin_env):
    code, out, _ = cli(capsys, "list", "dcgan", "--params", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["kind"], r["name"]) for r in rows] == [("generator", "dcgan"), ("discriminator", "dcgan")]
    assert all(r["params"] for r in rows)
    code, out, _ = cli(capsys, "list", "losses:hinge", "--json")
    assert [r["qualified_name"] for r in json.loads(out)] == ["losses:hinge"]
    code, out, _ = cli(capsys, "list", "dcgan", "--kind", "discriminator", "--json")
    assert [r["kind"] for r in json.loads(out)] == ["discriminator"]

    # The table forms.
    code, out, _ = cli(capsys, "list", "dcgan", "--params")
    assert code == 0
    assert "generator dcgan:dcgan" in out and "discriminator dcgan:dcgan" in out
    assert "latent_dim" in out and "dropout" in out
    code, out, _ = cli(capsys, "list", "hinge", "--params")
    assert code == 0 and "(none)" in out


def test_list_errors(capsys, clean_plugin_env):
    code, out, err = cli(capsys, "list", "no-such-thing")
    assert code == 2 and out == ""
    assert err.strip() == "error: no component named 'no-such-thing'"
    code, out, err = cli(capsys, "list", "hinge", "--kind", "generator")
    assert code == 2 and "no component named 'hinge' of kind 'generator'" in err
    code, out, err = cli(capsys, "list", "--kind", "losses")
    assert code == 2
    assert err.strip() == (
        "error: --kind: unknown kind 'losses'; kinds: generator, discriminator, loss, schedule, dataset, metric, "
        "augmentation, callback, lr-schedule"
    )


def test_plugin_filter_combines_with_kind_and_name(capsys, clean_plugin_env):
    code, out, _ = cli(capsys, "list", "--plugin", "mlp", "--json")
    rows = json.loads(out)
    assert code == 0 and rows and {r["plugin"] for r in rows} == {"mlp"}
    assert {(r["kind"], r["name"]) for r in rows} >= {("generator", "mlp"), ("discriminator", "mlp")}
    code, out, _ = cli(capsys, "list", "--plugin", "mlp", "--kind", "discriminator", "--json")
    assert code == 0 and {r["kind"] for r in json.loads(out)} == {"discriminator"}
    code, out, _ = cli(capsys, "list", "mlp", "--plugin", "mlp", "--json")  # a name two plugins could offer
    assert code == 0 and [r["qualified_name"] for r in json.loads(out)] == ["mlp:mlp", "mlp:mlp"]
    code, out, _ = cli(capsys, "list", "dcgan", "--plugin", "mlp")
    assert code == 2 and "no component named 'dcgan' in plugin 'mlp'" in _
    code, out, err = cli(capsys, "list", "--plugin", "mlp", "--kind", "loss")
    assert code == 2 and out == "" and err.strip() == "error: no component of kind 'loss' in plugin 'mlp'"
    code, out, _ = cli(capsys, "list", "--plugin", "losses", "--params")  # the table form
    assert code == 0 and "hinge" in out and "mlp" not in out and "label_smoothing" in out


def test_unknown_plugin_is_one_line_naming_the_plugins(capsys, clean_plugin_env):
    code, out, err = cli(capsys, "list", "--plugin", "mpl")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: --plugin: no plugin named 'mpl'; plugins: ")
    named = err.strip().split("plugins: ")[1].split(", ")
    assert named == sorted(named) and {"mlp", "dcgan", "losses", "metrics", "mnist", "lr_schedules"} <= set(named)


def test_a_kind_nobody_offers_says_so(capsys, clean_plugin_env, monkeypatch):
    monkeypatch.setattr("ganfw.cli.load_registry", lambda disabled: Registry())
    code, out, err = cli(capsys, "list", "--kind", "callback")
    assert code == 0 and out.strip() == "no callback components installed"
    code, out, _ = cli(capsys, "list", "--kind", "callback", "--json")
    assert code == 0 and json.loads(out) == []


def test_list_table_in_a_subprocess():
    r = run_cli("list", env=WIDE)
    assert r.returncode == 0 and r.stderr == ""
    for kind, names in REQUIRED.items():
        for name in names:
            assert any(kind in line and f" {name} " in line for line in r.stdout.splitlines()), (kind, name)
    assert "clash" not in r.stdout
    json_run = run_cli("list", "--json", "--kind", "dataset")
    datasets = [row["name"] for row in json.loads(json_run.stdout)]
    assert set(datasets) >= {"fashion-mnist", "image-folder", "mnist"} and datasets == sorted(datasets)
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("ganfw ")


NO_TORCH = textwrap.dedent(
    """
    import contextlib, io, json, sys
    from ganfw.cli import main

    def run(*args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
                code = 0
            except SystemExit as e:
                code = e.code or 0
        return {"args": list(args), "code": code, "out": out.getvalue()}

    runs = [
        run("--help"),
        run("list"),
        run("list", "--json", "--params"),
        run("list", "dcgan", "--params"),
        run("check", sys.argv[1], "--set", "train.epochs=0"),
        run("new-plugin", "notorch", "--kind", "generator", "--dir", sys.argv[2]),
    ]
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "torchvision", "numpy", "PIL", "matplotlib"))
    print(json.dumps({"runs": runs, "heavy": heavy}))
    """
)


def test_list_new_plugin_help_and_a_refused_check_do_not_import_torch(tmp_path):
    """(A valid ``ganfw check`` imports torch to say which device and precision the run gets.)"""
    env_free = {k: v for k, v in os.environ.items() if not k.startswith("GANFW_")}
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH, str(RECIPES / "mnist_dcgan.toml"), str(tmp_path / "notorch")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env_free,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    codes = {" ".join(r["args"]): r["code"] for r in result["runs"]}
    assert list(codes.values()) == [0, 0, 0, 0, 2, 0], codes
    assert (tmp_path / "notorch" / "src" / "ganfw_notorch" / "components.py").is_file()
    outputs = [r["out"] for r in result["runs"]]
    assert "list" in outputs[0] and "check" in outputs[0]
    assert "non-saturating" in outputs[1]
    assert json.loads(outputs[2])[0]["params"]
    assert "torch" not in result["heavy"] and "torchvision" not in result["heavy"]
    assert result["heavy"] == []


# --------------------------------------------------------------------------- ganfw check
EXTRAS_PLUGIN = """
from dataclasses import dataclass

from ganfw import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class FlipParams:
    p: float = param(0.5, "probability of a flip", min=0.0, max=1.0)


@dataclass(frozen=True)
class ShoutParams:
    every: int = param(3, "shout every N steps", min=1)


@hookimpl
def ganfw_augmentations():
    return [ComponentSpec(name="flip", kind="augmentation", summary="flips", factory="nowhere.module:Flip", params=FlipParams)]


@hookimpl
def ganfw_callbacks():
    return [ComponentSpec(name="shout", kind="callback", summary="shouts", factory="nowhere.module:Shout", params=ShoutParams)]
"""


def check_lines(capsys, *args: str) -> tuple[list[str], dict]:
    """``ganfw check ARGS``: its comment lines and the TOML it prints, parsed."""
    code, out, err = cli(capsys, "check", *args)
    assert code == 0, err
    return [line for line in out.splitlines() if line.startswith("#")], tomllib.loads(out)


@pytest.mark.parametrize("source", ["data.root", "GANFW_DATA", "cache"])
def test_check_names_the_data_root_and_where_it_came_from(capsys, clean_plugin_env, monkeypatch, tmp_path, source):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GANFW_DATA", raising=False)
    args = [str(RECIPES / "mnist_mlp.toml")]
    if source == "data.root":
        monkeypatch.setenv("GANFW_DATA", str(tmp_path / "env"))  # the recipe's value wins over it
        args += ["--set", 'data.root="relative/digits"']
        root, named = tmp_path / "relative" / "digits", "the recipe's data.root"
        expected = f"# data root: {root} (from the recipe's data.root)"
    elif source == "GANFW_DATA":
        monkeypatch.setenv("GANFW_DATA", str(tmp_path / "env"))
        root, named = tmp_path / "env", "GANFW_DATA"
        expected = f"# data root: {root} (from the GANFW_DATA environment variable)"
    else:
        root, named = tmp_path / "xdg" / "ganfw" / "data", "the user cache"
        expected = f"# data root: {root} (from the user cache: neither data.root nor GANFW_DATA is set)"
    comments, resolved = check_lines(capsys, *args)
    assert comments[0].endswith("resolved recipe (valid)") and comments[1].startswith("# on this machine: device ")
    assert comments[2] == expected and len(comments) == 4
    # no MNIST there, and check downloads nothing: it says so, naming where the root came from
    assert comments[3].startswith(
        f"# data: mnist: not read, as ganfw check downloads nothing (MNIST not found in {root / 'MNIST' / 'raw'} "
        f"(root from {named}; "
    ) and comments[3].endswith("; a run downloads what is missing")
    assert not root.exists()


def test_check_prints_every_section_with_defaults_filled_in(capsys, clean_plugin_env, monkeypatch, tmp_path):
    make_distribution(tmp_path / "site", "ganfw-extras", "1.0", {"extras_for_check": EXTRAS_PLUGIN})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    recipe = tmp_path / "recipe.toml"
    recipe.write_text(
        f'extends = "{(RECIPES / "mnist_mlp.toml").as_posix()}"\n'
        '[augment]\nname = "flip"\n[[callbacks]]\nname = "shout"\n[[callbacks]]\nname = "shout"\nparams = {every = 7}\n'
        '[lr_schedule]\nname = "cosine"\n',
        encoding="utf-8",
    )
    _, resolved = check_lines(capsys, str(recipe))
    assert resolved["augment"] == {"name": "flip", "params": {"p": 0.5}}
    assert resolved["callbacks"] == [
        {"name": "shout", "params": {"every": 3}},
        {"name": "shout", "params": {"every": 7}},
    ]
    assert resolved["lr_schedule"]["name"] == "cosine" and resolved["lr_schedule"]["params"]
    assert set(resolved) == {
        "generator",
        "discriminator",
        "loss",
        "schedule",
        "lr_schedule",
        "data",
        "augment",
        "callbacks",
        "optim",
        "train",
        "output",
        "eval",
    }
    _, plain = check_lines(capsys, str(RECIPES / "mnist_mlp.toml"))
    assert "augment" not in plain and "callbacks" not in plain and plain["lr_schedule"] == {"name": "constant"}
