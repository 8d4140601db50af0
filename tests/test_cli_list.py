"""``ganfw list`` (and the CLI's promise not to import torch for list / check / --help)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import RECIPES, REPO, WIDE, cli, run_cli

REQUIRED = {
    "generator": {"mlp", "dcgan"},
    "discriminator": {"mlp", "dcgan"},
    "loss": {"non-saturating", "minimax", "hinge", "least-squares", "wasserstein-gp"},
    "schedule": {"simultaneous", "alternating", "n-critic", "adaptive"},
    "dataset": {"mnist"},
    "metric": {"fid", "kid", "inception-score", "class-coverage", "precision-recall"},
}
KIND_ORDER = ["generator", "discriminator", "loss", "schedule", "dataset", "metric"]


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
    assert code == 0 and {r["name"] for r in json.loads(out)} == REQUIRED["metric"]


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
    assert gen["latent_dim"] == {"name": "latent_dim", "type": "int", "default": 100,
                                 "doc": "length of the noise vector z (>= 1)"}
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
        "error: --kind: unknown kind 'losses'; kinds: generator, discriminator, loss, schedule, dataset, metric"
    )


def test_list_table_in_a_subprocess():
    r = run_cli("list", env=WIDE)
    assert r.returncode == 0 and r.stderr == ""
    for kind, names in REQUIRED.items():
        for name in names:
            assert any(kind in line and f" {name} " in line for line in r.stdout.splitlines()), (kind, name)
    assert "clash" not in r.stdout
    json_run = run_cli("list", "--json", "--kind", "dataset")
    assert [row["name"] for row in json.loads(json_run.stdout)] == ["mnist"]
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
        capture_output=True, text=True, cwd=REPO, env=env_free, timeout=60,
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
