"""Where the files come from: missing ones said in one line naming the folder and the files,
torchvision's real download (from a local HTTP server, then offline), and files that fail
torchvision's checksums."""

from __future__ import annotations

import functools
import http.server
import socket
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
import torchvision

from ganfw.errors import UserError
from ganfw_plugins.torchvision_sets import CelebAParams, CifarParams, LSUNParams, STL10Params
from ganfw_plugins.torchvision_sets.celeba import CelebA
from ganfw_plugins.torchvision_sets.cifar import CIFAR10, CIFAR100
from ganfw_plugins.torchvision_sets.lsun import LSUN
from ganfw_plugins.torchvision_sets.stl10 import STL10

from .formats import md5, unit, write_cifar10

#: Each dataset built without its files (download off), the folder and a file the message names.
MISSING = {
    "cifar10": (lambda root: CIFAR10(CifarParams(download=False), root), "cifar-10-batches-py", "data_batch_1"),
    "cifar100": (lambda root: CIFAR100(CifarParams(download=False), root), "cifar-100-python", "meta"),
    "stl10": (lambda root: STL10(STL10Params(download=False), root), "stl10_binary", "unlabeled_X.bin"),
    "celeba": (lambda root: CelebA(CelebAParams(download=False), root), "celeba", "list_eval_partition.txt"),
    "lsun": (lambda root: LSUN(LSUNParams(categories=["tower"]), root), "lsun", "tower_val_lmdb"),
}


@pytest.mark.parametrize("name", MISSING)
def test_missing_files_are_one_line_naming_the_folder_and_files(name: str, tmp_path: Path) -> None:
    build, folder, file = MISSING[name]
    with pytest.raises(UserError) as caught:
        len(build(str(tmp_path)))
    message = str(caught.value)
    assert "\n" not in message and f"{tmp_path / folder} (root from data.root" in message
    assert file in message and "put " in message and "GANFW_DATA" in message
    assert ("https://github.com/fyu/lsun" if name == "lsun" else "data.params.download = false") in message


def test_a_partial_folder_says_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    write_cifar10(tmp_path, monkeypatch)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(UserError, match=r"; missing: test_batch$"):
        CIFAR10(CifarParams(download=False), root=str(tmp_path)).load()


def test_a_file_that_fails_its_checksum_is_one_line(tmp_path: Path, monkeypatch) -> None:
    write_cifar10(tmp_path, monkeypatch)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\x00")  # one byte changed
    with pytest.raises(UserError, match=r"^cannot read CIFAR-10 from .*Dataset not found or corrupted.*MD5 sum"):
        CIFAR10(CifarParams(download=True), root=str(tmp_path)).load()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTP server on 127.0.0.1 serving a folder: (its URL, the folder)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    httpd.shutdown()
    thread.join()


def test_download_fetches_and_unpacks_the_archive_with_torchvision(tmp_path: Path, monkeypatch, server) -> None:
    url, served = server
    written = write_cifar10(tmp_path / "made", monkeypatch)
    archive = served / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "made" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "url", f"{url}/cifar-10-python.tar.gz")
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "tgz_md5", md5(archive))
    dataset = CIFAR10(CifarParams(download=True), root=str(tmp_path / "data"))
    assert torch.equal(dataset.load(), unit(written["train"].images))
    assert (tmp_path / "data" / "cifar-10-batches-py" / "batches.meta").is_file()


def test_a_failed_download_is_one_line_and_leaves_no_folder(tmp_path: Path, monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    root = tmp_path / "fresh"
    with pytest.raises(UserError) as caught:
        CIFAR10(CifarParams(download=True), root=str(root)).load()
    message = str(caught.value)
    assert "\n" not in message and "download failed" in message and "Name or service not known" in message
    assert "put data_batch_1" in message and "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in message
    assert not root.exists()
