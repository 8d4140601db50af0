"""The ``fashion-mnist`` dataset: the real files in ../shared/data/FashionMNIST/raw, its classes
and test split, and the shared IDX code's errors and download under Fashion-MNIST's name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision

from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.fashion_mnist import ganfw_datasets
from ganfw_plugins.fashion_mnist.dataset import FashionMNIST
from ganfw_plugins.mnist import MNISTParams
from ganfw_plugins.mnist.dataset import MNIST
from tests.helpers.data import MNIST_FILES, read_idx_images, read_idx_labels, write_tiny_idx_root

OFFLINE = MNISTParams(download=False)


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self):
        pytest.fail("attempted a download")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", refuse)


def test_the_real_training_split_with_labels(fashion_mnist_root: Path) -> None:
    dataset = FashionMNIST(OFFLINE, root=str(fashion_mnist_root), limit=500)
    images, labels = dataset.load(), dataset.load_labels()
    assert dataset.image_shape == (1, 28, 28) and images.shape == (500, 1, 28, 28)
    raw = fashion_mnist_root / "FashionMNIST" / "raw"
    expected = (read_idx_images(raw / "train-images-idx3-ubyte", 500).astype(np.float32) - 127.5) / 127.5
    assert torch.equal(images[:, 0], torch.from_numpy(expected.astype(np.float32)))
    assert labels.dtype == torch.int64
    assert labels.tolist() == read_idx_labels(raw / "train-labels-idx1-ubyte", 500).tolist()
    assert set(labels.tolist()) == set(range(10))


def test_all_60000_training_images(fashion_mnist_root: Path) -> None:
    dataset = FashionMNIST(OFFLINE, root=str(fashion_mnist_root))
    assert dataset.load_split(train=True).shape == (60000, 28, 28)
    assert len(dataset.load_labels()) == 60000


def test_it_is_not_mnist(fashion_mnist_root: Path, mnist_root: Path) -> None:
    fashion = FashionMNIST(OFFLINE, root=str(fashion_mnist_root), limit=100).load()
    digits = MNIST(OFFLINE, root=str(mnist_root), limit=100).load()
    assert not torch.equal(fashion, digits)
    assert FashionMNIST.key == "fashion-mnist" != MNIST.key


def test_class_names_are_torchvisions() -> None:
    dataset = FashionMNIST(OFFLINE)
    assert dataset.class_names == (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    assert dataset.class_names == tuple(torchvision.datasets.FashionMNIST.classes)
    assert dataset.num_classes == 10


def test_held_out_is_the_test_split(fashion_mnist_root: Path) -> None:
    split = FashionMNIST(OFFLINE, root=str(fashion_mnist_root), limit=5).held_out()
    assert split.images.shape == (10000, 1, 28, 28) and split.images.dtype == torch.float32
    assert split.images.min().item() == -1.0 and split.images.max().item() == 1.0
    raw = fashion_mnist_root / "FashionMNIST" / "raw"
    assert torch.equal(
        split.images[:3, 0],
        FashionMNIST(OFFLINE, root=str(fashion_mnist_root)).load_split(False)[:3].float().sub(127.5).div(127.5),
    )
    assert split.labels.tolist() == read_idx_labels(raw / "t10k-labels-idx1-ubyte").tolist()
    assert torch.bincount(split.labels).tolist() == [1000] * 10


def test_every_spec_passes_the_contract_checks(fashion_mnist_root: Path) -> None:
    (spec,) = ganfw_datasets()
    assert load_registry().resolve("dataset", "fashion-mnist").spec.factory == spec.factory
    check_component(spec, data_root=str(fashion_mnist_root), data_limit=30, params={"download": False})


# --- the shared IDX code, under Fashion-MNIST's name and folder -----------------------------------


def test_missing_files_name_fashion_mnist_and_its_folder(tmp_path: Path, no_download: None) -> None:
    write_tiny_idx_root(tmp_path, "MNIST")  # MNIST's files are not Fashion-MNIST's
    with pytest.raises(UserError) as caught:
        FashionMNIST(OFFLINE, root=str(tmp_path)).load()
    message = str(caught.value)
    assert "\n" not in message and message.startswith("Fashion-MNIST not found in ")
    assert str(tmp_path / "FashionMNIST" / "raw") in message
    assert all(name in message for name in MNIST_FILES)


def test_a_corrupt_file_is_named(tmp_path: Path, no_download: None) -> None:
    write_tiny_idx_root(tmp_path, "FashionMNIST")
    broken = tmp_path / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte"
    broken.write_bytes(broken.read_bytes()[:-1])
    dataset = FashionMNIST(OFFLINE, root=str(tmp_path))
    assert dataset.load_labels().tolist() == [0, 1, 2]  # the training split is intact
    with pytest.raises(UserError, match=r"^corrupt Fashion-MNIST file .*t10k-labels-idx1-ubyte.*\(truncated\?\)"):
        dataset.held_out()


def test_download_fetches_fashion_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetched = []

    def fake_download(self):  # torchvision's download, offline: what it fetches lands in raw_folder
        fetched.append(type(self).__name__)
        write_tiny_idx_root(Path(self.root), "FashionMNIST")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", fake_download)
    dataset = FashionMNIST(MNISTParams(download=True), root=str(tmp_path))
    assert dataset.load_labels().tolist() == [0, 1, 2]
    assert fetched == ["FashionMNIST"]
    assert not (tmp_path / "MNIST").exists()


def test_a_failed_download_is_one_line_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self):
        Path(self.raw_folder).mkdir(parents=True)
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://example/")

    monkeypatch.setattr(torchvision.datasets.FashionMNIST, "download", offline)
    with pytest.raises(UserError, match=r"^Fashion-MNIST not found .*download failed: Error downloading") as caught:
        FashionMNIST(MNISTParams(download=True), root=str(tmp_path)).load()
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []
