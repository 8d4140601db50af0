"""The plugin layer: discovery through real entry points, broken-plugin isolation, name clashes,
and the validation in ganfw.specs / ganfw.params.

Third-party plugins are fake installed distributions (a ``*.dist-info`` folder plus the module)
in a temporary directory on ``PYTHONPATH``; the CLI runs in a subprocess, so entry points are
discovered by ``importlib.metadata`` exactly as for a pip-installed package.
"""

from __future__ import annotations

import dataclasses
import importlib
import itertools
from dataclasses import dataclass
from typing import Literal, Optional

import pytest

import ganfw
from ganfw import ComponentSpec, param
from ganfw.params import ParamError, build, check_value, describe, type_name
from ganfw.plugins import LookupProblem, PluginError, load_registry
from ganfw.specs import KINDS, SpecError
from tests.helpers.cli import RECIPES, WIDE, PluginSite, loss_plugin_source
from tests.helpers.recipes import tiny_recipe

RECIPE = str(RECIPES / "mnist_dcgan.toml")
BUILTIN_LOSSES = {
    "non-saturating", "minimax", "hinge", "least-squares", "wasserstein-gp", "relativistic", "r1", "r1-r2", "class-ce",
    "mismatch", "path-length"
}  # fmt: skip


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def names_of(rows: list[dict], kind: str) -> set[str]:
    return {r["name"] for r in rows if r["kind"] == kind}


# --------------------------------------------------------------------------------------------
# 1. Discovery through real entry points


def test_third_party_plugin_is_discovered_through_its_entry_point(plugin_site: PluginSite):
    info = plugin_site.add(
        "ganfw-pairwise",
        "2.3.4",
        {"my_third_party_module": loss_plugin_source("pairwise")},
        {"myplugin": "my_third_party_module"},
    )
    assert (info / "METADATA").read_text().startswith("Metadata-Version")
    assert (info / "entry_points.txt").read_text() == "[ganfw]\nmyplugin = my_third_party_module\n"

    r = plugin_site.run("list", "--json")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    rows = {(c["kind"], c["name"]): c for c in r.json}
    assert rows[("loss", "pairwise")] == {
        "kind": "loss",
        "name": "pairwise",
        "qualified_name": "myplugin:pairwise",
        "plugin": "myplugin",
        "package": "ganfw-pairwise",
        "version": "2.3.4",
        "summary": "third-party pairwise",
        "clash": False,
    }
    # The built-ins load through the same mechanism, from the ganfw distribution.
    assert rows[("loss", "hinge")]["plugin"] == "losses"
    assert rows[("loss", "hinge")]["package"] == "ganfw"

    # The table shows plugin and version too, and a recipe can pick the new component.
    table = plugin_site.run("list", "--kind", "loss", env=WIDE)
    line = next(ln for ln in table.stdout.splitlines() if "pairwise" in ln)
    assert "myplugin" in line and "2.3.4" in line and "third-party pairwise" in line
    check = plugin_site.run("check", RECIPE, "--set", "loss.name=pairwise")
    assert check.returncode == 0, check.stderr
    assert '[loss]\nname = "pairwise"\n' in check.stdout


def test_plugin_in_a_package_with_several_hooks(plugin_site: PluginSite):
    source = """
        from dataclasses import dataclass
        from ganfw import ComponentSpec, hookimpl, param

        GANFW_API = 2

        @dataclass(frozen=True)
        class Params:
            width: int = param(8, "channels", min=1)

        @hookimpl
        def ganfw_generators():
            return [ComponentSpec(name="tiny", kind="generator", summary="tiny G",
                                  factory="tinygan.models:G", params=Params)]

        @hookimpl
        def ganfw_discriminators():
            return (ComponentSpec(name="tiny", kind="discriminator", summary="tiny D",
                                  factory="tinygan.models:D"),)
    """
    plugin_site.add("tinygan", "0.0.1", {"tinygan.plugin": source}, {"tiny": "tinygan.plugin"})
    r = plugin_site.run("list", "tiny", "--json", "--params")
    assert r.returncode == 0, r.stderr
    assert [(c["kind"], c["qualified_name"], c["version"]) for c in r.json] == [
        ("generator", "tiny:tiny", "0.0.1"),
        ("discriminator", "tiny:tiny", "0.0.1"),
    ]
    assert r.json[0]["params"] == [{"name": "width", "type": "int", "default": 8, "doc": "channels (>= 1)"}]
    assert r.json[1]["params"] == []


# --------------------------------------------------------------------------------------------
# 2. Broken plugins are isolated

HOOK = """
from ganfw import ComponentSpec, hookimpl

GANFW_API = 2

@hookimpl
def ganfw_losses():
{body}
"""

#: case -> (module source, text the warning (and the strict-mode error) must contain)
BROKEN = {
    "body-raises": ('raise RuntimeError("module body exploded")\n', "RuntimeError: module body exploded"),
    "import-error": ("import zz_not_installed_anywhere\n", "No module named 'zz_not_installed_anywhere'"),
    "hook-raises": (HOOK.format(body='    raise ValueError("hook exploded")'), "ValueError: hook exploded"),
    "not-a-list": (HOOK.format(body='    return "hinge"'), "must return a list of ComponentSpec, got str"),
    "returns-none": (HOOK.format(body="    pass"), "must return a list of ComponentSpec, got NoneType"),
    "not-a-spec": (HOOK.format(body='    return [{"name": "hinge"}]'), "is not a ComponentSpec"),
    "wrong-kind": (
        HOOK.format(body='    return [ComponentSpec(name="swap", kind="schedule", summary="s", factory="a.b:C")]'),
        "returned 'swap' of kind 'schedule', not 'loss'",
    ),
    "spec-error": (
        HOOK.format(body='    return [ComponentSpec(name="Bad Name", kind="loss", summary="s", factory="a.b:C")]'),
        "SpecError: component name 'Bad Name' is not lower-case",
    ),
}


def _plugin(case: str) -> str:
    return "broken_" + case.replace("-", "_")


def _add_broken(site: PluginSite, case: str) -> None:
    source, _ = BROKEN[case]
    module = f"{_plugin(case)}_mod"
    site.add(f"ganfw-{case}", "9.8.7", {module: source}, {_plugin(case): module})


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> PluginSite:
    site = PluginSite(tmp_path_factory.mktemp("broken") / "site")
    for case in BROKEN:
        _add_broken(site, case)
    return site


def _assert_builtins_listed(rows: list[dict]) -> None:
    assert names_of(rows, "loss") >= BUILTIN_LOSSES
    assert names_of(rows, "generator") >= {"mlp", "dcgan"}
    assert names_of(rows, "dataset") >= {"mnist"}


def test_broken_plugins_are_skipped_with_one_line_each(broken_site: PluginSite):
    r = broken_site.run("list", "--json", env=WIDE)
    assert r.returncode == 0, r.stderr
    _assert_builtins_listed(r.json)
    assert not {c["plugin"] for c in r.json} & {_plugin(case) for case in BROKEN}
    assert "Traceback" not in r.stderr
    lines = warnings_of(r.stderr)
    assert len(lines) == len(BROKEN), r.stderr
    for case, (_, expected) in BROKEN.items():
        (line,) = [ln for ln in lines if f"plugin {_plugin(case)!r} " in ln]
        assert f"(package ganfw-{case} 9.8.7)" in line
        assert expected in line
    # Nothing on stderr but the warnings and the hint about -v.
    assert [ln for ln in r.stderr.splitlines() if not ln.startswith("warning:")] == ["(run with -v for tracebacks)"]

    # The table still works, and so does checking a recipe.
    assert broken_site.run("list", env=WIDE).returncode == 0
    check = broken_site.run("check", RECIPE, env=WIDE)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(f"# {RECIPE}: resolved recipe (valid)")
    assert len(warnings_of(check.stderr)) == len(BROKEN)

    # -v adds the tracebacks.
    verbose = broken_site.run("-v", "list", "--json", env=WIDE)
    assert verbose.returncode == 0
    assert verbose.stderr.count("Traceback (most recent call last)") == len(BROKEN)
    assert "module body exploded" in verbose.stderr

    # Strict mode fails on the first broken plugin, with its original exception.
    strict = broken_site.run("check", RECIPE, env={"GANFW_STRICT_PLUGINS": "1"})
    assert strict.returncode not in (0, 2)
    assert "Traceback" in strict.stderr
    assert "module body exploded" in strict.stderr  # broken_body_raises sorts first

    # Every one disabled, by the environment or by the option: a clean run.
    every = ",".join(_plugin(c) for c in BROKEN)
    quiet = broken_site.run("list", env={"GANFW_DISABLE_PLUGINS": every})
    assert quiet.returncode == 0 and quiet.stderr == ""
    options = [arg for c in BROKEN for arg in ("--disable-plugin", _plugin(c))]
    quiet = broken_site.run(*options, "check", RECIPE)
    assert quiet.returncode == 0 and quiet.stderr == ""


@pytest.mark.parametrize("case", BROKEN)
def test_one_broken_plugin(case: str, plugin_site: PluginSite):
    _add_broken(plugin_site, case)
    name, expected = _plugin(case), BROKEN[case][1]

    r = plugin_site.run("list", "--json", env=WIDE)
    assert r.returncode == 0
    _assert_builtins_listed(r.json)
    (line,) = warnings_of(r.stderr)
    assert line.startswith(f"warning: plugin {name!r} (package ganfw-{case} 9.8.7) skipped: ")
    assert expected in line
    assert "Traceback" not in r.stderr

    strict = plugin_site.run("list", env={"GANFW_STRICT_PLUGINS": "1"})
    assert strict.returncode not in (0, 2), strict.stdout
    assert "Traceback (most recent call last)" in strict.stderr
    assert expected in strict.stderr  # the original exception, as Python prints it

    # Disabled (by the environment for half the cases, by the option for the other half).
    if list(BROKEN).index(case) % 2:
        disabled = plugin_site.run("list", "--json", env={"GANFW_DISABLE_PLUGINS": f"schedules, {name}"})
        assert names_of(disabled.json, "schedule") == set()
    else:
        disabled = plugin_site.run("--disable-plugin", name, "list", "--json")
    assert disabled.returncode == 0 and disabled.stderr == ""
    _assert_builtins_listed(disabled.json)


def test_warning_is_one_line_at_80_columns(plugin_site: PluginSite):
    _add_broken(plugin_site, "body-raises")
    r = plugin_site.run("list")
    assert len(r.stderr.splitlines()) == 2, r.stderr  # the warning and the -v hint


def test_brackets_in_a_plugin_message_survive(plugin_site: PluginSite):
    source = HOOK.format(body='    raise ValueError("see [docs] and [/x]")')
    plugin_site.add("ganfw-brackets", "1.0", {"brackets_mod": source}, {"brackets": "brackets_mod"})
    r = plugin_site.run("list", "--json", env=WIDE)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "see [docs] and [/x]" in r.stderr


@pytest.mark.parametrize(
    "api, declared",
    [
        (None, "declares no GANFW_API (written for API 1)"),
        (1, "declares GANFW_API = 1"),
        ("2", "declares GANFW_API = '2'"),
    ],
    ids=["none", "1", "string"],
)
def test_a_plugin_for_another_api_version_is_skipped_in_one_line(api, declared, plugin_site: PluginSite, tmp_path):
    plugin_site.add("ganfw-old", "1.2.3", {"old_mod": loss_plugin_source("old-loss", api=api)}, {"old": "old_mod"})
    expected = (
        f"warning: plugin 'old' (package ganfw-old 1.2.3) skipped: {declared}; this ganfw's plugin API is "
        f"{ganfw.API_VERSION} (docs/plugins.md, 'Plugin API versions')"
    )
    r = plugin_site.run("list", "--json", env=WIDE)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    _assert_builtins_listed(r.json)
    assert "old-loss" not in names_of(r.json, "loss")
    assert warnings_of(r.stderr) == [expected]

    recipe = tmp_path / "r.toml"
    recipe.write_text(f'extends = "{RECIPES / "mnist_mlp.toml"}"\n[loss]\nname = "old-loss"\n')
    check = plugin_site.run("check", str(recipe), env=WIDE)
    assert check.returncode == 2 and warnings_of(check.stderr) == [expected]
    assert "unknown loss 'old-loss'" in check.stderr

    strict = plugin_site.run("list", env={"GANFW_STRICT_PLUGINS": "1"})
    assert strict.returncode not in (0, 2) and f"PluginError: plugin 'old': {declared}" in strict.stderr


def test_the_version_is_checked_before_any_hook_runs(plugin_site: PluginSite):
    """A plugin written for API 1 whose hook would fail is reported for its version alone."""
    old_hook = HOOK.replace("GANFW_API = 2\n", "").format(body='    raise ValueError("hook exploded")')
    plugin_site.add("ganfw-older", "0.9", {"older_mod": old_hook}, {"older": "older_mod"})
    r = plugin_site.run("list", env=WIDE)
    (line,) = warnings_of(r.stderr)
    assert "plugin 'older' (package ganfw-older 0.9) skipped: declares no GANFW_API (written for API 1)" in line
    assert "hook exploded" not in r.stderr


# --------------------------------------------------------------------------------------------
# 3. Name clashes, qualified names, duplicate plugin names


@pytest.fixture
def clash_site(plugin_site: PluginSite) -> PluginSite:
    plugin_site.add(
        "ganfw-extra-losses",
        "1.5.0",
        {"extra_losses": loss_plugin_source("non-saturating", "pairwise")},
        {"extra": "extra_losses"},
    )
    return plugin_site


def test_clash_is_shown_by_list(clash_site: PluginSite):
    r = clash_site.run("list", "--json")
    assert r.returncode == 0 and r.stderr == ""
    ns = [c for c in r.json if c["kind"] == "loss" and c["name"] == "non-saturating"]
    assert sorted((c["qualified_name"], c["package"], c["clash"]) for c in ns) == [
        ("extra:non-saturating", "ganfw-extra-losses", True),
        ("losses:non-saturating", "ganfw", True),
    ]
    assert all(not c["clash"] for c in r.json if c["name"] != "non-saturating")

    table = clash_site.run("list", env=WIDE).stdout
    assert table.count("non-saturating (clash)") == 2
    assert (
        "clash: loss 'non-saturating' is offered by several plugins; recipes must write one of: "
        "extra:non-saturating, losses:non-saturating\n" in table
    )
    # Asking for one by its qualified name.
    one = clash_site.run("list", "extra:non-saturating", "--json").json
    assert [c["package"] for c in one] == ["ganfw-extra-losses"]


def test_clashing_name_in_a_recipe_is_an_error_and_qualified_names_work(clash_site: PluginSite, tmp_path):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'extends = "{RECIPES / "mnist_mlp.toml"}"\n[loss]\nname = "non-saturating"\n')
    r = clash_site.run("check", str(recipe))
    assert r.returncode == 2
    (line,) = r.stderr.splitlines()
    assert line == (
        f"error: {recipe}: loss.name: loss 'non-saturating' is offered by several plugins: "
        "extra (ganfw-extra-losses), losses (ganfw); write 'extra:non-saturating' or 'losses:non-saturating'"
    )
    assert "Traceback" not in r.both

    for qualified in ("losses:non-saturating", "extra:non-saturating"):
        ok = clash_site.run("check", str(recipe), "--set", f"loss.name={qualified}")
        assert ok.returncode == 0, ok.stderr
        assert f'[loss]\nname = "{qualified}"\n' in ok.stdout
    # Only the built-in has params; the unqualified non-clashing name still works.
    assert clash_site.run("check", str(recipe), "--set", "loss.name=pairwise").returncode == 0
    bad = clash_site.run("check", str(recipe), "--set", "loss.name=nobody:non-saturating")
    assert bad.returncode == 2
    assert "unknown loss 'nobody:non-saturating'" in bad.stderr
    assert "losses:non-saturating" in bad.stderr and "extra:non-saturating" in bad.stderr


def test_same_plugin_name_from_two_distributions_is_reported(plugin_site: PluginSite):
    first = plugin_site.add_path("first")
    second = plugin_site.add_path("second")
    plugin_site.add(
        "ganfw-alpha", "1.0", {"alpha_mod": loss_plugin_source("alpha-loss")}, {"shared": "alpha_mod"}, dist_dir=first
    )
    plugin_site.add(
        "ganfw-beta", "2.0", {"beta_mod": loss_plugin_source("beta-loss")}, {"shared": "beta_mod"}, dist_dir=second
    )
    r = plugin_site.run("list", "--json", env=WIDE)
    assert r.returncode == 0
    losses = names_of(r.json, "loss")
    assert "alpha-loss" in losses and "beta-loss" not in losses  # first on sys.path wins...
    (line,) = warnings_of(r.stderr)  # ...and the other one is reported
    assert line == (
        "warning: plugin 'shared' (package ganfw-beta 2.0) skipped: the plugin name is already taken by ganfw-alpha 1.0"
    )
    strict = plugin_site.run("list", env={"GANFW_STRICT_PLUGINS": "1"})
    assert strict.returncode not in (0, 2)
    assert "PluginError" in strict.stderr and "already taken by ganfw-alpha 1.0" in strict.stderr
    assert plugin_site.run("--disable-plugin", "shared", "list").stderr == ""


def test_third_party_cannot_take_a_builtin_plugin_name(plugin_site: PluginSite):
    # PYTHONPATH comes before site-packages, yet the built-in 'losses' keeps its name.
    plugin_site.add("ganfw-hijack", "6.6.6", {"hijack_mod": loss_plugin_source("hijacked")}, {"losses": "hijack_mod"})
    r = plugin_site.run("list", "--json", env=WIDE)
    assert r.returncode == 0
    assert names_of(r.json, "loss") == BUILTIN_LOSSES
    (line,) = warnings_of(r.stderr)
    assert line == (
        "warning: plugin 'losses' (package ganfw-hijack 6.6.6) skipped: "
        f"the plugin name is already taken by ganfw {ganfw.__version__}"
    )


# --------------------------------------------------------------------------------------------
# 4. Every command works beside broken and clashing plugins, and names the culprits


def mlp_recipe(path, root):
    """A tiny recipe with small MLP networks (a few steps on real MNIST)."""
    return tiny_recipe(
        path,
        root,
        generator={"name": "mlp", "params": {"latent_dim": 8, "hidden": [16]}},
        discriminator={"name": "mlp", "params": {"hidden": [16]}},
    )


GRUMPY = """
from ganfw import ComponentSpec, hookimpl

GANFW_API = 2

class Grumpy:
    def __init__(self, params, image_shape):
        raise ValueError("grumpy refuses\\n  to be built")

@hookimpl
def ganfw_generators():
    return [ComponentSpec(name="grumpy", kind="generator", summary="raises when built",
                          factory="grumpy_mod:Grumpy")]
"""


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> PluginSite:
    """Every broken plugin of BROKEN; two plugins offering a loss named 'twin'; a plugin whose loss
    factory does not import (ghost) and one whose generator raises when built (grumpy)."""
    site = PluginSite(tmp_path_factory.mktemp("hostile") / "site")
    for case in BROKEN:
        _add_broken(site, case)
    for twin in ("a", "b"):
        site.add(
            f"ganfw-twin-{twin}",
            "1.0",
            {f"twin_{twin}_mod": loss_plugin_source("twin")},
            {f"twin_{twin}": f"twin_{twin}_mod"},
        )
    site.add("ganfw-ghost", "0.5", {"ghost_mod": loss_plugin_source("ghost")}, {"ghost": "ghost_mod"})
    site.add("ganfw-grumpy", "0.7", {"grumpy_mod": GRUMPY}, {"grumpy": "grumpy_mod"})
    return site


def _assert_broken_ones_named(stderr: str) -> None:
    """One warning per broken plugin, naming it and its package; no traceback."""
    lines = warnings_of(stderr)
    assert len(lines) == len(BROKEN), stderr
    for case in BROKEN:
        assert sum(f"plugin {_plugin(case)!r} (package ganfw-{case} 9.8.7) skipped: " in ln for ln in lines) == 1
    assert "Traceback" not in stderr


def test_every_command_works_beside_broken_and_clashing_plugins(hostile_site: PluginSite, tmp_path, mnist_root):
    recipe = mlp_recipe(tmp_path / "tiny.toml", mnist_root)

    listed = hostile_site.run("list", env=WIDE)
    assert listed.returncode == 0
    _assert_broken_ones_named(listed.stderr)
    assert (
        "clash: loss 'twin' is offered by several plugins; recipes must write one of: twin_a:twin, twin_b:twin"
        in listed.stdout
    )

    check = hostile_site.run("check", str(recipe), env=WIDE)
    assert check.returncode == 0, check.stderr
    _assert_broken_ones_named(check.stderr)

    run = hostile_site.run("run", str(recipe), "--out", str(tmp_path / "run"), "--quiet", env=WIDE)
    assert run.returncode == 0, run.stderr
    _assert_broken_ones_named(run.stderr)

    sample = hostile_site.run("sample", str(tmp_path / "run"), "-n", "4", "--out", str(tmp_path / "s.png"), env=WIDE)
    assert sample.returncode == 0, sample.stderr
    _assert_broken_ones_named(sample.stderr)
    assert (tmp_path / "s.png").stat().st_size > 0

    made = hostile_site.run("new-plugin", "fresh", "--dir", str(tmp_path / "fresh"), env=WIDE)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "fresh" / "pyproject.toml").is_file()


@pytest.mark.parametrize(
    "args, error",
    [
        (
            ["check", "{recipe}", "--set", "loss.name=twin"],
            "{recipe}: loss.name (from --set loss.name=twin): loss 'twin' is offered by several plugins: "
            "twin_a (ganfw-twin-a), twin_b (ganfw-twin-b); write 'twin_a:twin' or 'twin_b:twin'",
        ),
        (
            ["run", "{recipe}", "--set", "loss.name=ghost", "--out", "{tmp}/ghost-run"],
            "[loss] loss 'ghost' (plugin ghost, package ganfw-ghost 0.5): cannot import its factory "
            "'nowhere.module:Thing': ModuleNotFoundError: No module named 'nowhere'",
        ),
        (
            [
                "run",
                "{recipe}",
                "--set",
                "generator.name=grumpy",
                "--set",
                "generator.params={{}}",
                "--out",
                "{tmp}/grumpy-run",
            ],
            "[generator] generator 'grumpy' (plugin grumpy, package ganfw-grumpy 0.7) failed to build: "
            "ValueError: grumpy refuses to be built",
        ),
        (
            ["new-plugin", _plugin("hook-raises"), "--dir", "{tmp}/taken"],
            f"plugin name '{_plugin('hook-raises')}' is already taken by the installed ganfw-hook-raises 9.8.7; choose another",
        ),
    ],
    ids=["clashing-name", "factory-import-fails", "factory-raises", "taken-plugin-name"],
)
def test_a_culprit_is_named_in_one_line(args, error, hostile_site: PluginSite, tmp_path, mnist_root):
    recipe = mlp_recipe(tmp_path / "tiny.toml", mnist_root)
    fill = {"recipe": recipe, "tmp": tmp_path}
    r = hostile_site.run(*[a.format(**fill) for a in args], env=WIDE)
    assert r.returncode == 2
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert errors == ["error: " + error.format(**fill)]
    assert "Traceback" not in r.stderr
    if args[0] == "run":  # -v shows what the plugin raised
        verbose = hostile_site.run("-v", *[a.format(**fill) for a in args], env=WIDE)
        assert "Traceback (most recent call last)" in verbose.stderr and verbose.returncode == 2


# --------------------------------------------------------------------------------------------
# The registry in-process (faster for the finer points)

_counter = itertools.count()


def _add(site: PluginSite, source: str, plugin: str | None = None) -> str:
    n = next(_counter)
    plugin = plugin or f"inproc{n}"
    site.add(f"ganfw-inproc-{n}", "1.0", {f"inproc_mod_{n}": source}, {plugin: f"inproc_mod_{n}"})
    importlib.invalidate_caches()
    return plugin


def test_registry_resolve_and_names(site):
    plugin = _add(site, loss_plugin_source("non-saturating", "fancy"))
    reg = load_registry()
    assert reg.problems == []
    assert reg.resolve("loss", "fancy").plugin == plugin
    assert reg.resolve("loss", f"{plugin}:fancy").spec.name == "fancy"
    assert reg.resolve("loss", "losses:non-saturating").package == "ganfw"
    assert f"{plugin}:non-saturating" in reg.names("loss") and "losses:non-saturating" in reg.names("loss")
    assert "fancy" in reg.names("loss") and "non-saturating" not in reg.names("loss")
    assert set(reg.clashes()) == {("loss", "non-saturating")}
    with pytest.raises(LookupProblem, match="offered by several plugins"):
        reg.resolve("loss", "non-saturating")
    with pytest.raises(
        LookupProblem,
        match=r"unknown generator 'fancy'; available: cdcgan, cmlp, cresnet, cstylegan2, dcgan, mlp, resnet, stylegan2$",
    ):
        reg.resolve("generator", "fancy")
    with pytest.raises(
        LookupProblem,
        match=r"unknown metric 'fancy'; available: class-coverage, conditional-accuracy, fid, inception-score, kid, precision-recall, sliced-wasserstein$",
    ):
        reg.resolve("metric", "fancy")
    with pytest.raises(LookupProblem, match=r"unknown metric 'fid'; available: \(none installed\)"):
        load_registry(disabled={"metrics"}).resolve("metric", "fid")


def test_registry_disabled_and_strict(site):
    plugin = _add(site, HOOK.format(body='    raise KeyError("nope")'))
    reg = load_registry()
    (problem,) = reg.problems
    assert problem.plugin == plugin and "KeyError" in problem.message
    assert "Traceback" in problem.traceback and "raise KeyError" in problem.traceback
    assert load_registry(disabled={plugin}).problems == []
    with pytest.raises(KeyError, match="nope"):
        load_registry(strict=True)
    site_env = {"GANFW_DISABLE_PLUGINS": f" {plugin} ,losses"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in site_env.items():
            mp.setenv(k, v)
        reg = load_registry()
        assert reg.problems == [] and reg.of_kind("loss") == []
        mp.setenv("GANFW_STRICT_PLUGINS", "yes")
        mp.delenv("GANFW_DISABLE_PLUGINS")
        with pytest.raises(KeyError):
            load_registry()


def test_hook_name_typo_is_reported(site):
    plugin = _add(site, loss_plugin_source("typo", hook="ganfw_loss"))
    reg = load_registry()
    (problem,) = reg.problems
    assert problem.plugin == plugin
    assert problem.message == "ganfw_loss() is not a ganfw hook; did you mean ganfw_losses()?"
    with pytest.raises(PluginError, match="ganfw_loss"):
        load_registry(strict=True)


def test_same_component_twice_from_one_plugin_is_reported(site):
    plugin = _add(site, loss_plugin_source("twice", "twice"))
    reg = load_registry()
    (problem,) = reg.problems
    assert problem.plugin == plugin and "returned 'twice' twice" in problem.message
    assert "twice" not in reg.names("loss")


def test_hook_with_wrong_signature_and_multiline_message(site):
    wrong = _add(
        site, "GANFW_API = 2\nfrom ganfw import hookimpl\n@hookimpl\ndef ganfw_losses(config):\n    return []\n"
    )
    multi = _add(site, 'raise RuntimeError("first line\\n  second line")\n')
    reg = load_registry()
    by_plugin = {p.plugin: p for p in reg.problems}
    assert set(by_plugin) == {wrong, multi}
    assert by_plugin[wrong].message.startswith("cannot register")
    assert "config" in by_plugin[wrong].message
    assert by_plugin[multi].message.endswith("RuntimeError: first line second line")
    assert all("\n" not in p.line() for p in reg.problems)


def test_plugin_calling_sys_exit_does_not_end_the_cli(site):
    plugin = _add(site, "import sys\nsys.exit(3)\n")
    reg = load_registry()
    assert [p.plugin for p in reg.problems] == [plugin]
    assert "SystemExit" in reg.problems[0].message
    assert reg.of_kind("loss")


# --------------------------------------------------------------------------------------------
# 7. ganfw.specs validation


@dataclass(frozen=True)
class GoodParams:
    width: int = param(8, "channels", min=1)
    hidden: list[int] = param([4, 8], "widths", min=1)
    mode: Literal["a", "b"] = param("a", "mode")
    scale: float | None = param(None, "optional scale", min=0.0)


def spec(**overrides) -> ComponentSpec:
    kw = {"name": "my-comp", "kind": "loss", "summary": "a component", "factory": "pkg.mod:Thing"}
    kw.update(overrides)
    return ComponentSpec(**kw)


@pytest.mark.parametrize("name", ["dcgan", "non-saturating", "n_critic", "wgan2", "a-b_c"])
def test_spec_good_names(name):
    assert spec(name=name).name == name


@pytest.mark.parametrize(
    "name", ["", "DCGAN", "my plugin", "plugin:name", "-lead", "trail-", "a--b", "2fast", "dcgan\n", None, 5]
)
def test_spec_bad_names(name):
    with pytest.raises(SpecError, match="is not lower-case words"):
        spec(name=name)


@pytest.mark.parametrize("kind", ["losses", "Loss", "", None, ["loss"]])
def test_spec_bad_kind(kind):
    with pytest.raises(SpecError, match="is not one of generator, discriminator, loss"):
        spec(kind=kind)


@pytest.mark.parametrize("summary", ["", "   ", "two\nlines", "cr\rline", None])
def test_spec_bad_summary(summary):
    with pytest.raises(SpecError, match="summary must be one non-empty line"):
        spec(summary=summary)


@pytest.mark.parametrize("factory", ["pkg.mod:Thing", "mod:Thing", "a.b.c:Outer.inner", "_m:_f"])
def test_spec_good_factory(factory):
    assert spec(factory=factory).factory == factory


@pytest.mark.parametrize(
    "factory",
    [
        "pkg.mod.Thing",
        "pkg.mod:",
        ":Thing",
        "pkg..mod:Thing",
        "pkg.mod.:Thing",
        "pkg.mod:Thing.",
        "pkg/mod:Thing",
        "1pkg:Thing",
        "pkg:mod:Thing",
        "pkg.mod:Thing\n",
        " pkg:Thing",
        None,
    ],
)
def test_spec_bad_factory(factory):
    with pytest.raises(SpecError, match="is not of the form 'package.module:attribute'"):
        spec(factory=factory)


def test_spec_params_declaration():
    s = spec(params=GoodParams)
    assert s.default_params() == GoodParams(8, [4, 8], "a", None)
    assert spec().default_params() is None

    @dataclass
    class NoDefault:
        x: int

    @dataclass
    class BadType:
        x: tuple = param((1, 2), "a pair")

    @dataclass
    class BareList:
        x: list = param([], "no item type")

    @dataclass
    class BadDefault:
        x: int = param(1.5, "not an int")

    @dataclass
    class OutOfRange:
        x: int = param(0, "positive", min=1)

    class NotADataclass:
        x: int = 1

    cases = [
        (NoDefault, "my-comp: parameter 'x' has no default"),
        (BadType, "unsupported declared type tuple"),
        (BareList, "declare the item type"),
        (BadDefault, "x: bad default: expected an integer, got float 1.5"),
        (OutOfRange, "x: bad default: 0 is out of range (must be >= 1)"),
        (NotADataclass, "params must be a dataclass type"),
        (GoodParams(), "params must be a dataclass type"),  # an instance, not the type
    ]
    for cls, message in cases:
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
            spec(params=cls)


def test_spec_params_with_unresolvable_annotation():
    namespace: dict = {}
    exec(
        "from __future__ import annotations\nfrom dataclasses import dataclass\n"
        "@dataclass\nclass P:\n    x: Missing = 1\n",
        namespace,
    )
    with pytest.raises(SpecError, match="cannot resolve the declared types: NameError"):
        spec(params=namespace["P"])


def test_spec_is_frozen():
    s = spec()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.name = "other"  # type: ignore[misc]
    assert list(KINDS) == [
        "generator",
        "discriminator",
        "loss",
        "schedule",
        "dataset",
        "metric",
        "augmentation",
        "callback",
        "lr-schedule",
    ]


# --------------------------------------------------------------------------------------------
# 7. ganfw.params


@pytest.mark.parametrize(
    "value, tp, expected",
    [
        (3, int, 3),
        (3, float, 3.0),
        (2.5, float, 2.5),
        (True, bool, True),
        ("x", str, "x"),
        ("b", Literal["a", "b"], "b"),
        (2, Literal[1, 2], 2),
        ([1, 2], list[int], [1, 2]),
        ([1, 2.5], list[float], [1.0, 2.5]),
        ([], list[int], []),
        (4, Optional[int], 4),  # noqa: UP045 - the old spelling is supported too
        (4, int | None, 4),
        ([1], list[int] | None, [1]),
        (["a"], list[Literal["a", "b"]], ["a"]),
    ],
)
def test_check_value_accepts(value, tp, expected):
    got = check_value("k", value, tp)
    assert got == expected and type(got) is type(expected)
    if isinstance(expected, list):
        assert all(type(a) is type(b) for a, b in zip(got, expected))


@pytest.mark.parametrize(
    "value, tp, message",
    [
        ("3", int, 'k: expected an integer, got the string "3"'),
        (3.0, int, "k: expected an integer, got float 3.0"),
        (True, int, "k: expected an integer, got true"),
        (False, float, "k: expected a number, got false"),
        ("1e-3", float, 'k: expected a number, got the string "1e-3"'),
        (float("nan"), float, "k: expected a finite number, got nan"),
        (float("inf"), float, "k: expected a finite number, got inf"),
        (-float("inf"), float, "k: expected a finite number, got -inf"),
        (10**400, float, "k: expected a finite number, got an integer too large for a float"),
        (1, bool, "k: expected true or false, got int 1"),
        (1, str, "k: expected a string, got int 1"),
        ({}, str, "k: expected a string, got a table"),
        ("c", Literal["a", "b"], 'k: expected one of "a" | "b", got the string "c"'),
        (True, Literal[1, 2], "k: expected one of 1 | 2, got true"),
        (1.0, Literal[1, 2], "k: expected one of 1 | 2, got float 1.0"),
        ([1], Literal["a"], 'k: expected one of "a", got an array'),
        (3, list[int], "k: expected list[int], got int 3"),
        ([1, "2"], list[int], 'k[1]: expected an integer, got the string "2"'),
        ("x", Optional[int], 'k: expected an integer, got the string "x"'),  # noqa: UP045
        ([1, "2"], list[int] | None, 'k[1]: expected an integer, got the string "2"'),
        ([1], int | str, "k: expected int | str, got an array"),
    ],
)
def test_check_value_rejects(value, tp, message):
    with pytest.raises(ParamError) as info:
        check_value("k", value, tp)
    assert str(info.value) == message


def test_check_value_unsupported_type():
    with pytest.raises(TypeError, match="unsupported declared type"):
        check_value("k", {}, dict)


@dataclass(frozen=True)
class Ranged:
    n: int = param(1, "count", min=1)
    rate: float = param(0.5, "rate", min=0.0, max=1.0)
    lr: float = param(1e-3, "learning rate", min=0.0, min_exclusive=True)
    pair: list[float] = param([0.5, 0.9], "two values in [0, 1]", min=0.0, max=1.0, length=2)
    maybe: int | None = param(None, "optional", min=0)
    mode: Literal["x", "y"] = param("x", "mode")


def test_build_defaults_and_values():
    assert build(Ranged, {}) == Ranged()
    got = build(Ranged, {"n": 3, "rate": 1, "lr": 2, "pair": [0, 1], "maybe": 0, "mode": "y"})
    assert got == Ranged(3, 1.0, 2.0, [0.0, 1.0], 0, "y")
    assert type(got.rate) is float and type(got.pair[0]) is float
    # defaults of lists are copied per instance
    a, b = Ranged(), Ranged()
    assert a.pair == b.pair and a.pair is not b.pair


@pytest.mark.parametrize(
    "values, message",
    [
        ({"n": 0}, "n: 0 is out of range (must be >= 1)"),
        ({"rate": 1.5}, "rate: 1.5 is out of range (must be >= 0.0 and <= 1.0)"),
        ({"rate": -0.1}, "rate: -0.1 is out of range (must be >= 0.0 and <= 1.0)"),
        ({"lr": 0}, "lr: 0.0 is out of range (must be > 0.0)"),
        ({"lr": -1.0}, "lr: -1.0 is out of range (must be > 0.0)"),
        ({"pair": [0.5, 0.9, 0.99]}, "pair: expected 2 items, got 3"),
        ({"pair": [0.5]}, "pair: expected 2 items, got 1"),
        ({"pair": [0.5, 1.5]}, "pair[1]: 1.5 is out of range (must be >= 0.0 and <= 1.0)"),
        ({"maybe": -1}, "maybe: -1 is out of range (must be >= 0)"),
        ({"mode": "z"}, 'mode: expected one of "x" | "y", got the string "z"'),
        ({"nn": 1}, "nn: unknown key 'nn'; did you mean 'n'?"),
        ({"zzzz": 1}, "zzzz: unknown key 'zzzz'; valid keys: lr, maybe, mode, n, pair, rate"),
        (5, "expected a table, got int 5"),
        ([1], "expected a table, got an array"),
    ],
)
def test_build_rejects(values, message):
    with pytest.raises(ParamError) as info:
        build(Ranged, values)
    assert str(info.value) == message


def test_build_turns_post_init_errors_into_param_errors():
    @dataclass(frozen=True)
    class Window:
        low: float = param(0.2, "low")
        high: float = param(0.8, "high")

        def __post_init__(self):
            if self.low > self.high:
                raise ValueError("low must not exceed high")

    with pytest.raises(ParamError) as info:
        build(Window, {"low": 0.9})
    assert info.value.key == "" and info.value.message == "low must not exceed high"


def test_describe_and_type_names():
    rows = {p.name: p for p in describe(Ranged)}
    assert list(rows) == ["n", "rate", "lr", "pair", "maybe", "mode"]
    assert (rows["n"].type, rows["n"].default, rows["n"].doc) == ("int", 1, "count (>= 1)")
    assert rows["rate"].doc == "rate (>= 0.0 and <= 1.0)"
    assert rows["lr"].doc == "learning rate (> 0.0)"
    assert (rows["pair"].type, rows["pair"].default) == ("list[float]", [0.5, 0.9])
    assert (rows["maybe"].type, rows["maybe"].default) == ("int | none", None)
    assert rows["mode"].type == '"x" | "y"'
    assert describe(None) == []
    assert type_name(list[Literal["a"]]) == 'list["a"]'
