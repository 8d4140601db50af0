"""Fixtures of the trackers' tests: the tracked run (trained once a session) and an environment
that keeps in-process W&B and MLflow offline and out of the home directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugins.trackers.runs import DROPPED, TrackedRun, tracked_run, tracker_env


@pytest.fixture(scope="session")
def tracker_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """W&B's config, cache, data and artifact folders for the session (the same for every test:
    wandb reads them once a process)."""
    return tmp_path_factory.mktemp("tracker-home")


@pytest.fixture(autouse=True)
def offline_trackers(tracker_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`tracker_env` for this process, without :data:`DROPPED`."""
    for name in DROPPED:
        monkeypatch.delenv(name, raising=False)
    for name, value in tracker_env(tracker_home).items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def tracked(tmp_path_factory: pytest.TempPathFactory, mnist_root: Path) -> TrackedRun:
    """The run of :func:`tracked_run`."""
    return tracked_run(tmp_path_factory.mktemp("tracked"), mnist_root)
