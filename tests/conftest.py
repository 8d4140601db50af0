"""The suite's set-up: fixtures shared by every test, markers, and the real datasets found only
when a selected test reads them.

The tests mirror the package (``tests/training`` for ``ganfw.training``, ``tests/plugins/<name>``
for a built-in plugin, ``tests/cli`` for commands, ``tests/faults`` for fault injection); shared
helpers live in ``tests/helpers``. Markers: ``mnist`` (the test reads the real MNIST files: the
session finds them, or downloads them once, before it starts), ``distributed`` (several processes
under torchrun), ``slow`` (a real training run of a shipped recipe or a package install). A test
that asks for the ``mnist_root`` fixture is marked ``mnist`` without saying so.

Hypothesis runs derandomized, without an example database (the same examples every run): the
``ci`` profile. ``GANFW_FUZZ=explore`` selects the ``explore`` profile instead: fresh random
draws and 2,000 examples per fuzzer, for developers before they submit.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest.register_assert_rewrite("tests.helpers")

from tests.helpers.cli import PLUGIN_ENV, PluginSite  # noqa: E402 - after the rewrite registration
from tests.helpers.data import DataMissing, session_data_root  # noqa: E402

pytest_plugins = ["tests.helpers.data", "tests.helpers.evaluation", "tests.helpers.conditional", "tests.helpers.venv"]

settings.register_profile("ci", derandomize=True, database=None, deadline=None, max_examples=200, print_blob=True)
settings.register_profile(
    "explore",
    derandomize=False,
    database=None,
    deadline=None,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("explore" if os.environ.get("GANFW_FUZZ") == "explore" else "ci")

#: Markers of this suite (``pytest -m "not mnist"`` runs where MNIST is not at hand).
MARKERS = {
    "mnist": "reads the real MNIST files (found or downloaded once before the session starts)",
    "distributed": "runs several processes under torchrun",
    "slow": "trains a shipped recipe for real, or installs the package into a throwaway venv",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # One thread a worker, and for the processes it starts: two workers on two cores never
        # fight over them (OpenMP threads spinning beside another process's slow it down tenfold).
        import torch

        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that use ``mnist_root`` as ``mnist``."""
    for item in items:
        if "mnist_root" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mnist)


def pytest_collection_finish(session: pytest.Session) -> None:
    """When a selected test reads MNIST: find it (downloading it into the user cache once, when it
    is nowhere and the machine is online) and export its root as ``GANFW_DATA`` for the CLI runs
    in subprocesses; without it, stop the session here with one line saying where to put the
    files (a ``UsageError``: ``ERROR: ...``, exit status 4)."""
    if not any(item.get_closest_marker("mnist") for item in session.items):
        return
    try:
        os.environ["GANFW_DATA"] = str(session_data_root("MNIST"))
    except DataMissing as e:
        raise pytest.UsageError(str(e)) from None


@pytest.fixture
def plugin_site(tmp_path: Path) -> PluginSite:
    """An empty site directory for fake plugin distributions (see :func:`tests.helpers.cli.make_distribution`)."""
    return PluginSite(tmp_path / "site")


@pytest.fixture
def site(plugin_site: PluginSite, monkeypatch: pytest.MonkeyPatch, clean_plugin_env: None) -> Iterator[PluginSite]:
    """``plugin_site`` on this process's sys.path; modules it imports are forgotten afterwards."""
    monkeypatch.syspath_prepend(str(plugin_site.root))
    yield plugin_site
    root = str(plugin_site.root)
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[name]


@pytest.fixture
def clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No GANFW_STRICT_PLUGINS / GANFW_DISABLE_PLUGINS from the outer environment."""
    for name in PLUGIN_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def fresh_process_probes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the precision probes of a fresh process: none remembered from a busy one
    an earlier test took (``ganfw.precision`` keeps those for the process)."""
    from ganfw import precision

    monkeypatch.setattr(precision, "_UNTRUSTED", {})
