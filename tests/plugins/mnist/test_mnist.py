"""The ``mnist`` dataset: real data from ../shared/data, and the errors users see without it."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from ganfw.contracts import Dataset, Split
from ganfw.errors import UserError
from ganfw.paths import resolve_data_root
from ganfw.testing import check_component
from ganfw_plugins.mnist import MNISTParams, ganfw_datasets
from ganfw_plugins.mnist.dataset import MNIST, resolve_root
from tests.helpers.data import MNIST_FILES, read_idx_images, read_idx_labels, write_idx, write_tiny_idx_root

OFFLINE = MNISTParams(download=False)


@pytest.fixture(scope="module")
def train_images(mnist_root: Path) -> torch.Tensor:
    return MNIST(OFFLINE, root=str(mnist_root)).load()


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to download fails the test."""

    def refuse(*args, **kwargs):
        pytest.fail("attempted a network access")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(torchvision.datasets.MNIST, "download", refuse)


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    """A root with four small, valid IDX files (see tests.helpers.data.write_tiny_idx_root)."""
    return write_tiny_idx_root(tmp_path, "MNIST")


# --- the real data ----------------------------------------------------------------------------


def test_loads_all_training_images(train_images: torch.Tensor) -> None:
    assert isinstance(MNIST(OFFLINE), Dataset)
    assert MNIST.image_shape == (1, 28, 28)
    assert train_images.shape == (60000, 1, 28, 28)
    assert train_images.dtype == torch.float32
    assert train_images.device.type == "cpu"
    assert train_images.min().item() == -1.0
    assert train_images.max().item() == 1.0


def test_values_are_the_course_scaling_of_the_raw_bytes(train_images: torch.Tensor, mnist_root: Path) -> None:
    raw = read_idx_images(mnist_root / "MNIST" / "raw" / "train-images-idx3-ubyte", 2)
    expected = (raw.astype(np.float32) - np.float32(127.5)) / np.float32(127.5)
    assert expected.dtype == np.float32
    assert torch.equal(train_images[0, 0], torch.from_numpy(expected[0]))
    assert torch.equal(train_images[1, 0], torch.from_numpy(expected[1]))
    assert raw[0].max() == 255 and raw[0].min() == 0  # the check above covers both ends


def test_limit_keeps_the_first_images(train_images: torch.Tensor, mnist_root: Path) -> None:
    first = MNIST(OFFLINE, root=str(mnist_root), limit=100).load()
    assert first.shape == (100, 1, 28, 28)
    assert torch.equal(first, train_images[:100])


def test_labels_follow_the_images_and_the_limit(mnist_root: Path) -> None:
    dataset = MNIST(OFFLINE, root=str(mnist_root), limit=300)
    labels = dataset.load_labels()
    assert labels.shape == (300,) and labels.dtype == torch.int64
    expected = read_idx_labels(mnist_root / "MNIST" / "raw" / "train-labels-idx1-ubyte", 300)
    assert labels.tolist() == expected.tolist()
    assert set(labels.tolist()) == set(range(10))  # 300 images hold every digit
    assert len(labels) == len(dataset.load())


def test_class_names_are_the_digits() -> None:
    dataset = MNIST(OFFLINE)
    assert dataset.class_names == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")
    assert dataset.num_classes == 10


def test_the_key_names_the_data() -> None:
    assert MNIST(OFFLINE).key == "mnist"


def test_held_out_is_the_whole_test_split(mnist_root: Path) -> None:
    split = MNIST(OFFLINE, root=str(mnist_root), limit=10).held_out()  # the limit is the training slice's
    assert isinstance(split, Split)
    assert split.images.shape == (10000, 1, 28, 28) and split.images.dtype == torch.float32
    raw = mnist_root / "MNIST" / "raw"
    expected = (read_idx_images(raw / "t10k-images-idx3-ubyte").astype(np.float32) - np.float32(127.5)) / np.float32(
        127.5
    )
    assert torch.equal(split.images[:, 0], torch.from_numpy(expected))
    assert split.labels.dtype == torch.int64
    assert split.labels.tolist() == read_idx_labels(raw / "t10k-labels-idx1-ubyte").tolist()


def test_held_out_is_read_only_when_asked_for(tmp_path: Path, no_network: None) -> None:
    dataset = MNIST(OFFLINE, root=str(tmp_path))  # no files: building reads nothing
    with pytest.raises(UserError, match="MNIST not found"):
        dataset.held_out()
    write_tiny_idx_root(tmp_path, "MNIST")
    split = dataset.held_out()
    assert split.labels.tolist() == [3, 4]
    assert (split.images[0] == -1).all() and (split.images[1] == 1).all()


def test_the_spec_passes_the_contract_checks(mnist_root: Path) -> None:
    (spec,) = ganfw_datasets()
    check_component(spec, data_root=str(mnist_root), data_limit=20, params={"download": False})


def test_splits_as_stored(mnist_root: Path) -> None:
    dataset = MNIST(OFFLINE, root=str(mnist_root))
    test = dataset.load_split(train=False)
    assert test.shape == (10000, 28, 28) and test.dtype == torch.uint8
    train = dataset.load_split(train=True)
    assert train.shape == (60000, 28, 28) and train.dtype == torch.uint8


def test_the_spec_factory_builds_it(mnist_root: Path) -> None:
    (spec,) = ganfw_datasets()
    dataset = spec.load_factory()(OFFLINE, root=str(mnist_root), limit=8)
    assert isinstance(dataset, MNIST)
    assert dataset.load().shape == (8, 1, 28, 28)


def test_ganfw_data_is_honoured(mnist_root: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANFW_DATA", str(mnist_root))
    dataset = MNIST(OFFLINE, limit=5)
    assert dataset.root == mnist_root
    assert dataset.load().shape == (5, 1, 28, 28)
    assert MNIST(OFFLINE, root=str(tmp_path)).root == tmp_path  # an explicit root wins


# --- where the root comes from ----------------------------------------------------------------


def test_the_root_is_the_cores_rule(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANFW_DATA", str(tmp_path))
    assert resolve_root is resolve_data_root
    dataset = MNIST(OFFLINE)
    assert (dataset.root, dataset.root_source) == resolve_data_root(None) == (tmp_path, "GANFW_DATA")
    resolved, _ = resolve_data_root("relative/data")
    assert MNIST(OFFLINE, root=str(resolved)).root == resolved  # what the engine passes is kept


def test_cache_root_without_ganfw_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GANFW_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert MNIST(OFFLINE).root == tmp_path / "xdg" / "ganfw" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert MNIST(OFFLINE).root == tmp_path / "home" / ".cache" / "ganfw" / "data"


@pytest.mark.parametrize("source", ["GANFW_DATA", "cache"])
def test_the_root_the_engine_resolved_keeps_its_source(monkeypatch, tmp_path, source, no_network):
    """The engine passes the root it resolved (``resolve_data_root``): a root that is the one
    GANFW_DATA or the user cache gives is not credited to the recipe's data.root in errors."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if source == "GANFW_DATA":
        monkeypatch.setenv("GANFW_DATA", str(tmp_path / "env"))
    else:
        monkeypatch.delenv("GANFW_DATA", raising=False)
    root, _ = resolve_data_root(None)
    dataset = MNIST(OFFLINE, root=str(root))
    assert (dataset.root, dataset.root_source) == (root, source)
    with pytest.raises(UserError) as caught:
        dataset.load()
    named = {"GANFW_DATA": "GANFW_DATA", "cache": "the user cache"}[source]
    assert f"MNIST not found in {root / 'MNIST' / 'raw'} (root from {named}; data.params.download = false)" in str(
        caught.value
    )
    other = MNIST(OFFLINE, root=str(tmp_path / "mine"))
    assert other.root_source == "data.root"
    with pytest.raises(UserError, match=r"\(root from the recipe's data\.root; "):
        other.load()


# --- errors users see ---------------------------------------------------------------------------


def test_missing_data_is_one_line_naming_root_and_files(tmp_path: Path, no_network: None) -> None:
    with pytest.raises(UserError) as caught:
        MNIST(OFFLINE, root=str(tmp_path)).load()
    message = str(caught.value)
    assert "\n" not in message
    assert str(tmp_path / "MNIST" / "raw") in message
    for name in MNIST_FILES:
        assert name in message
    assert "GANFW_DATA" in message
    assert not (tmp_path / "MNIST").exists()  # nothing created, nothing fetched


def test_missing_data_under_ganfw_data_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    monkeypatch.setenv("GANFW_DATA", str(tmp_path))
    with pytest.raises(UserError, match="GANFW_DATA") as caught:
        MNIST(OFFLINE).load_split(train=False)
    assert str(tmp_path) in str(caught.value)


def test_a_failed_download_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self):
        raise RuntimeError(
            "Error downloading train-images-idx3-ubyte.gz:\nTried https://example/, got:\n"
            "<urlopen error [Errno -2] Name or service not known>\n"
        )

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(UserError) as caught:
        MNIST(MNISTParams(download=True), root=str(tmp_path)).load()
    message = str(caught.value)
    assert "\n" not in message
    assert "download failed" in message and "Name or service not known" in message
    assert str(tmp_path / "MNIST" / "raw") in message


def test_a_failed_download_leaves_no_data_root_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def partial_then_offline(self):  # as torchvision does: make the folder, start a file, fail
        Path(self.raw_folder).mkdir(parents=True)
        (Path(self.raw_folder) / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", partial_then_offline)
    root = tmp_path / "not" / "yet"
    with pytest.raises(UserError, match="download failed"):
        MNIST(MNISTParams(download=True), root=str(root)).load()
    assert list(tmp_path.iterdir()) == []  # the whole path it created is gone
    (tmp_path / "mine").mkdir()
    with pytest.raises(UserError, match="download failed"):
        MNIST(MNISTParams(download=True), root=str(tmp_path / "mine")).load()
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and not (tmp_path / "mine" / "MNIST").exists()


def test_small_valid_files_load(tiny_root: Path, no_network: None) -> None:
    images = MNIST(OFFLINE, root=str(tiny_root)).load()
    assert images.shape == (3, 1, 28, 28)
    assert MNIST(OFFLINE, root=str(tiny_root)).load_labels().tolist() == [0, 1, 2]
    assert MNIST(OFFLINE, root=str(tiny_root), limit=2).load_labels().tolist() == [0, 1]
    assert (images[0] == -1).all() and (images[1] == 1).all()
    assert MNIST(OFFLINE, root=str(tiny_root)).load_split(train=False).shape == (2, 28, 28)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[:-100], id="truncated"),
        pytest.param(lambda b: b[:10], id="truncated-header"),
        pytest.param(lambda b: b"\x00\x00\x08\x01" + b[4:], id="bad-magic"),
        pytest.param(lambda b: b + b"\x00" * 784, id="trailing-bytes"),
    ],
)
def test_a_corrupt_file_is_named(tiny_root: Path, damage, no_network: None) -> None:
    broken = tiny_root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    broken.write_bytes(damage(broken.read_bytes()))
    with pytest.raises(UserError) as caught:
        MNIST(OFFLINE, root=str(tiny_root)).load()
    message = str(caught.value)
    assert "\n" not in message
    assert str(broken) in message


def test_wrong_image_size_is_named(tiny_root: Path) -> None:
    broken = tiny_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    write_idx(broken, np.zeros((2, 32, 32)))
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte"):
        MNIST(OFFLINE, root=str(tiny_root)).load_split(train=False)


def test_limit_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MNIST(OFFLINE, limit=0)
