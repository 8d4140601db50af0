"""CIFAR-10 and CIFAR-100 read through torchvision's classes from small files in their exact
python-pickle format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganfw.testing import check_component
from ganfw_plugins.torchvision_sets import CifarParams, ganfw_datasets
from ganfw_plugins.torchvision_sets.cifar import CIFAR10, CIFAR100

from .formats import CIFAR10_CLASSES, resized, unit, write_cifar10, write_cifar100

OFFLINE = CifarParams(download=False)


def test_cifar10_is_read_pixel_for_pixel_with_its_labels_and_names(tmp_path: Path, monkeypatch) -> None:
    written = write_cifar10(tmp_path, monkeypatch)
    dataset = CIFAR10(OFFLINE, root=str(tmp_path))
    assert dataset.image_shape == (3, 32, 32) and dataset.key == "cifar10-32"
    assert dataset.class_names == tuple(CIFAR10_CLASSES)
    assert torch.equal(dataset.load(), unit(written["train"].images))
    assert dataset.load_labels().tolist() == written["train"].labels.tolist()
    held = dataset.held_out()
    assert held.name == "test" and torch.equal(held.images, unit(written["test"].images))
    assert held.labels.tolist() == written["test"].labels.tolist()


def test_cifar100_has_its_hundred_fine_classes(tmp_path: Path, monkeypatch) -> None:
    written = write_cifar100(tmp_path, monkeypatch)
    dataset = CIFAR100(OFFLINE, root=str(tmp_path))
    assert dataset.key == "cifar100-32" and dataset.num_classes == 100
    assert dataset.class_names[:2] == ("class00", "class01")
    assert dataset.load_labels().tolist() == written["train"].labels.tolist()
    assert torch.equal(dataset.load(), unit(written["train"].images))
    assert dataset.held_out().labels.tolist() == written["test"].labels.tolist()


def test_another_resolution_is_a_bicubic_resize_with_its_own_key(tmp_path: Path, monkeypatch) -> None:
    written = write_cifar10(tmp_path, monkeypatch)
    dataset = CIFAR10(CifarParams(resolution=16, download=False), root=str(tmp_path))
    assert dataset.image_shape == (3, 16, 16) and dataset.key == "cifar10-16"
    assert torch.equal(dataset.load(), resized(written["train"].images, 16))
    assert torch.equal(dataset.held_out().images, resized(written["test"].images, 16))


def test_items_are_the_loaded_images_and_limit_keeps_the_first(tmp_path: Path, monkeypatch) -> None:
    written = write_cifar10(tmp_path, monkeypatch)
    dataset = CIFAR10(OFFLINE, root=str(tmp_path), limit=4)
    assert dataset.indexable and len(dataset) == 4
    images = dataset.load()
    assert torch.equal(images, unit(written["train"].images[:4]))
    for i in range(4):
        image, label = dataset[i]
        assert torch.equal(image, images[i]) and label == written["train"].labels[i]
    with pytest.raises(IndexError):
        dataset[4]
    assert len(dataset.held_out().images) == len(written["test"].images)  # the test split is whole


@pytest.mark.parametrize("name", ["cifar10", "cifar100"])
def test_the_specs_pass_the_contract_checks(name: str, tmp_path: Path, monkeypatch) -> None:
    (write_cifar10 if name == "cifar10" else write_cifar100)(tmp_path, monkeypatch)
    spec = next(s for s in ganfw_datasets() if s.name == name)
    check_component(spec, params={"download": False}, data_root=str(tmp_path), data_limit=5)
