"""Running ganfw as users do, and fake installed plugin distributions.

A fake distribution is a ``<name>-<version>.dist-info/`` folder (``METADATA`` and
``entry_points.txt``) next to the plugin's module files, in a directory that the test puts on
``PYTHONPATH``: ``importlib.metadata`` discovers it exactly as it discovers an installed wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from ganfw.cli import main

#: The checkout the suite belongs to, and its shipped recipes.
REPO = Path(__file__).resolve().parents[2]
RECIPES = REPO / "recipes"


#: Environment variables that change which plugins load; cleared for every CLI run.
PLUGIN_ENV = ("GANFW_STRICT_PLUGINS", "GANFW_DISABLE_PLUGINS")


def make_distribution(
    site: Path,
    name: str,
    version: str,
    modules: dict[str, str],
    entry_points: dict[str, str] | None = None,
    *,
    dist_dir: Path | None = None,
) -> Path:
    """Write a fake installed distribution into ``site`` and return its dist-info folder.

    Args:
        site: a directory that goes on ``sys.path`` / ``PYTHONPATH``.
        name, version: the distribution's ``Name`` and ``Version`` (METADATA).
        modules: module name (dotted names become packages) -> source (dedented).
        entry_points: ``ganfw`` entry-point name -> module; default: each module under its own
            name's last part.
        dist_dir: where the dist-info folder goes, if not ``site`` (two distributions of the same
            name must live in different sys.path entries).
    """
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        parts = module.split(".")
        folder = site.joinpath(*parts[:-1])
        for i in range(1, len(parts)):
            pkg = site.joinpath(*parts[:i])
            pkg.mkdir(parents=True, exist_ok=True)
            (pkg / "__init__.py").touch()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{parts[-1]}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    if entry_points is None:
        entry_points = {m.rsplit(".", 1)[-1]: m for m in modules}
    info = (dist_dir or site) / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=False)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    lines = "".join(f"{ep} = {target}\n" for ep, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[ganfw]\n{lines}", encoding="utf-8")
    return info


def loss_plugin_source(*names: str, kind: str = "loss", hook: str = "ganfw_losses", api: object = 2) -> str:
    """Source of a plugin module whose ``hook`` returns one spec per name (no torch), declaring
    ``GANFW_API = api`` (``None``: no declaration, as a plugin written for API 1)."""
    specs = ", ".join(
        f'ComponentSpec(name={n!r}, kind={kind!r}, summary="third-party {n}", factory="nowhere.module:Thing")'
        for n in names
    )
    return f"""
        from ganfw import ComponentSpec, hookimpl
        {"" if api is None else f"GANFW_API = {api!r}"}

        @hookimpl
        def {hook}():
            return [{specs}]
    """


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self):
        return json.loads(self.stdout)

    @property
    def both(self) -> str:
        return self.stdout + self.stderr


@dataclass
class PluginSite:
    """A directory of fake plugin distributions and a way to run the CLI with it on the path."""

    root: Path
    extra_paths: list[Path] = field(default_factory=list)

    def add(self, name: str, version: str, modules: dict[str, str], entry_points=None, **kw) -> Path:
        return make_distribution(self.root, name, version, modules, entry_points, **kw)

    def add_path(self, name: str) -> Path:
        """Another sys.path entry (after ``root``) for distributions that must not share one."""
        path = self.root.parent / name
        path.mkdir(parents=True, exist_ok=True)
        self.extra_paths.append(path)
        return path

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join(str(p) for p in [self.root, *self.extra_paths])

    def run(self, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO) -> Result:
        return run_cli(*args, env=env, pythonpath=self.pythonpath, cwd=cwd)


#: A terminal width wide enough that rich never wraps a line; ``ganfw`` prints through rich,
#: which wraps at 80 columns when stderr is not a terminal (see test_warning_is_one_line_at_80_columns).
WIDE = {"COLUMNS": "1000"}


def run_cli(
    *args: str, env: dict[str, str] | None = None, pythonpath: str | None = None, cwd: Path = REPO, timeout: int = 60
) -> Result:
    """Run ``python -m ganfw ARGS`` in a subprocess, with plugin env vars cleared.

    ``COLUMNS`` is removed from the environment unless ``env`` sets it.
    """
    drop = {*PLUGIN_ENV, "PYTHONPATH", "COLUMNS", "LINES"}
    full_env = {k: v for k, v in os.environ.items() if k not in drop}
    if pythonpath:
        full_env["PYTHONPATH"] = pythonpath
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "ganfw", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``ganfw ARGS`` in-process; return (exit status, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = e.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err
