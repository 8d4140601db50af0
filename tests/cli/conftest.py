"""The fixtures of the command tests: ganfw installed as a pip user installs it (not editable),
once a session, shared by every test that drives it from outside the repository."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers.cli import REPO
from tests.helpers.venv import Venv, make_venv

#: Not copied with the checkout: build outputs, caches, environments, run directories.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", "runs", ".whl"
)


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A throwaway venv with ``pip install <checkout>`` (not editable) done in it, once a session.

    pip builds in the source folder (setuptools leaves ``build/`` there, and files deleted from the
    checkout would linger in ``build/lib`` and in the wheel), so the checkout is copied first. The
    venv sees this environment's site-packages after its own (torch comes from there): ``--no-deps
    --no-index --no-build-isolation`` install ganfw alone, offline, with this environment's
    setuptools. The editable ganfw of this environment stays out of the way: its import hook is a
    meta-path finder appended after the standard path finder, which finds the venv's copy first.
    """
    root = tmp_path_factory.mktemp("pip-user")
    source = root / "checkout"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    venv = make_venv(root / "venv")
    r = venv.run("-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", str(source), cwd=root)
    assert r.returncode == 0, r.both
    shutil.rmtree(source)  # nothing may be read from the checkout copy after the install
    return venv


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    """An empty working folder outside the repository."""
    assert not tmp_path.is_relative_to(REPO)
    return tmp_path
