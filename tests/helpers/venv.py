"""A throwaway virtual environment to pip-install plugin packages into, as their users would.

Installing torch into a fresh venv is too slow for a test, so the new venv gets a ``.pth`` file
that adds this interpreter's site-packages after its own, processing their ``.pth`` files too
(ganfw itself is installed editable through one). A plugin installed with
``pip install --no-deps --no-build-isolation --no-index -e`` then lives in the throwaway venv
only, while torch, ganfw, setuptools, pip and pytest come from this environment.
The ``throwaway_venv`` fixture is registered for the whole suite by ``conftest.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.cli import PLUGIN_ENV, Result


@dataclass(frozen=True)
class Venv:
    """A venv at ``path`` whose ``python`` sees this environment's packages after its own."""

    path: Path

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def run(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 120) -> Result:
        """``python ARGS`` in the venv, with plugin variables, PYTHONPATH and COLUMNS cleared."""
        drop = {*PLUGIN_ENV, "PYTHONPATH", "COLUMNS", "LINES"}
        full_env = {k: v for k, v in os.environ.items() if k not in drop}
        full_env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1", **(env or {})})
        proc = subprocess.run(
            [str(self.python), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def install_editable(self, project: Path) -> None:
        """``pip install -e project`` into this venv only (its build uses this environment's setuptools)."""
        r = self.run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(project))
        assert r.returncode == 0, r.both

    def ganfw(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
        return self.run("-m", "ganfw", *args, cwd=cwd, env=env)

    def pytest(self, project: Path) -> Result:
        """Run a project's own test suite (its pyproject's pytest settings), without a cache folder."""
        return self.run("-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=project, timeout=300)


def make_venv(path: Path) -> Venv:
    """Create the venv (without pip of its own) and link this environment's site-packages in."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=60)
    venv = Venv(path)
    site = venv.run("-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout.strip()
    parents = dict.fromkeys(sysconfig.get_path(key) for key in ("purelib", "platlib"))
    lines = "; ".join(f"site.addsitedir({p!r})" for p in parents)
    (Path(site) / "_throwaway_parent.pth").write_text(f"import site; {lines}\n", encoding="utf-8")
    check = venv.run("-c", "import setuptools, pip, pytest, ganfw, sys; print(sys.prefix)")
    assert check.returncode == 0 and Path(check.stdout.strip()) == path, check.both
    return venv


@pytest.fixture
def throwaway_venv(tmp_path: Path) -> Venv:
    """A fresh :class:`Venv` in ``tmp_path / "venv"``."""
    return make_venv(tmp_path / "venv")
