"""The suite sets itself up: where it looks for MNIST and Fashion-MNIST, the one download into the
user cache, and the one line that stops a session which has neither the files nor the network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torchvision

from tests.helpers.data import (
    MNIST_FILES,
    OFFLINE_ENV,
    DataMissing,
    data_places,
    download_with_plugin,
    find_data_root,
    write_tiny_idx_root,
)

TESTS = Path(__file__).resolve().parent


def places(tmp_path: Path, env: bool = True) -> list[tuple[str, Path | None]]:
    return [
        ("GANFW_DATA", tmp_path / "env" if env else None),
        ("../shared/data", tmp_path / "shared"),
        ("the user cache", tmp_path / "cache"),
    ]


def no_download(root: Path, folder: str) -> None:
    pytest.fail(f"downloaded {folder} into {root} although a place held it")


def test_the_places_are_ganfw_data_then_shared_beside_the_checkout_then_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFW_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_places(tmp_path / "checkout") == [
        ("GANFW_DATA", tmp_path / "env"),
        ("../shared/data", tmp_path / "shared" / "data"),
        ("the user cache", tmp_path / "xdg" / "ganfw" / "data"),
    ]
    monkeypatch.delenv("GANFW_DATA")
    assert data_places(tmp_path / "checkout")[0] == ("GANFW_DATA", None)


@pytest.mark.parametrize(
    ("holding", "expected"),
    [(["env", "shared", "cache"], "env"), (["shared", "cache"], "shared"), (["cache"], "cache")],
)
def test_the_first_place_holding_the_four_files_wins(tmp_path, holding, expected):
    for name in holding:
        write_tiny_idx_root(tmp_path / name, "MNIST")
    assert find_data_root("MNIST", places(tmp_path), no_download) == tmp_path / expected


def test_a_place_with_another_dataset_or_three_files_does_not_hold_it(tmp_path):
    write_tiny_idx_root(tmp_path / "env", "FashionMNIST")
    (write_tiny_idx_root(tmp_path / "shared", "MNIST") / "MNIST" / "raw" / MNIST_FILES[3]).unlink()
    write_tiny_idx_root(tmp_path / "cache", "MNIST")
    assert find_data_root("MNIST", places(tmp_path), no_download) == tmp_path / "cache"


def test_data_in_no_place_is_downloaded_once_into_the_user_cache(tmp_path):
    calls = []

    def download(root: Path, folder: str) -> None:
        calls.append((root, folder))
        write_tiny_idx_root(root, folder)

    assert find_data_root("FashionMNIST", places(tmp_path), download) == tmp_path / "cache"
    assert find_data_root("FashionMNIST", places(tmp_path), download) == tmp_path / "cache"
    assert calls == [(tmp_path / "cache", "FashionMNIST")]


def test_no_data_and_no_download_is_one_line_saying_where_to_put_the_files(tmp_path):
    def offline(root: Path, folder: str) -> None:
        raise OSError("<urlopen error [Errno -2] Name or\nservice not known>")

    with pytest.raises(DataMissing) as caught:
        find_data_root("MNIST", places(tmp_path, env=False), offline)
    assert str(caught.value) == (
        "MNIST test data not found: put the four uncompressed IDX files train-images-idx3-ubyte, "
        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte in <root>/MNIST/raw/ "
        f"with <root> one of: GANFW_DATA (not set), ../shared/data ({tmp_path / 'shared'}), "
        f"the user cache ({tmp_path / 'cache'}) "
        "(no download: <urlopen error [Errno -2] Name or service not known>)"
    )


@pytest.mark.parametrize("reader", [torchvision.datasets.MNIST, torchvision.datasets.FashionMNIST])
def test_the_download_is_the_plugins_torchvision_download(tmp_path, monkeypatch, reader):
    fetched = []

    def fake_download(self):  # torchvision's download, offline: what it fetches lands in raw_folder
        fetched.append(type(self).__name__)
        write_tiny_idx_root(Path(self.root), type(self).__name__)

    monkeypatch.delenv(OFFLINE_ENV, raising=False)
    monkeypatch.setattr(reader, "download", fake_download)
    download_with_plugin(tmp_path, reader.__name__)
    assert set(fetched) == {reader.__name__}
    assert [p.name for p in tmp_path.iterdir()] == [reader.__name__]

    monkeypatch.setenv(OFFLINE_ENV, "1")
    with pytest.raises(RuntimeError, match=f"^{OFFLINE_ENV}=1$"):
        download_with_plugin(tmp_path / "elsewhere", reader.__name__)
    assert set(fetched) == {reader.__name__} and not (tmp_path / "elsewhere").exists()


PROBE = """
    import os


    def test_probe(mnist_root):
        assert os.environ["GANFW_DATA"] == str(mnist_root)
        print("probe saw", mnist_root)
"""

#: A test that reads no dataset: it runs wherever the suite runs, MNIST or not.
PURE = """
    def test_pure():
        print("pure test ran")
"""


def run_suite_copy(tmp_path: Path, test: str = PROBE) -> subprocess.CompletedProcess[str]:
    """pytest on a throwaway checkout holding the real conftest.py and helpers package and one
    test (by default, one of MNIST), with no GANFW_DATA, an empty user cache and downloads
    forbidden."""
    checkout = tmp_path / "checkout"
    tests = checkout / "tests"
    shutil.copytree(TESTS, tests / "helpers", ignore=shutil.ignore_patterns("test_*", "__pycache__"))
    for name in ("conftest.py", "__init__.py"):
        shutil.copy(TESTS.parent / name, tests / name)
    (tests / "test_probe.py").write_text(textwrap.dedent(test), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("GANFW_DATA", "PYTEST_ADDOPTS")}
    env.update({"XDG_CACHE_HOME": str(tmp_path / "cache"), OFFLINE_ENV: "1"})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", "--rootdir", str(checkout), str(tests)],
        capture_output=True,
        text=True,
        env=env,
        cwd=checkout,
        timeout=120,
    )


def test_a_session_without_the_data_stops_at_once_with_one_line(tmp_path):
    result = run_suite_copy(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, output
    [line] = [line for line in output.splitlines() if "test data not found" in line]
    assert line.startswith("ERROR: MNIST test data not found: put the four uncompressed IDX files ")
    assert "<root>/MNIST/raw/" in line and f"../shared/data ({tmp_path / 'shared' / 'data'})" in line
    assert line.endswith(f"(no download: {OFFLINE_ENV}=1)")
    assert "probe saw" not in output
    assert not (tmp_path / "cache").exists()


def test_a_session_of_tests_that_read_no_dataset_runs_without_the_data(tmp_path):
    result = run_suite_copy(tmp_path, PURE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pure test ran" in result.stdout and "test data not found" not in result.stdout + result.stderr


def test_a_session_exports_the_root_it_found_as_ganfw_data(tmp_path):
    shared = write_tiny_idx_root(tmp_path / "shared" / "data", "MNIST")
    result = run_suite_copy(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"probe saw {shared}" in result.stdout
