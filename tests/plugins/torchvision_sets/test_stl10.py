"""STL-10 read through torchvision's class from small files in its exact binary format."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganfw.testing import check_component
from ganfw_plugins.torchvision_sets import STL10Params, ganfw_datasets
from ganfw_plugins.torchvision_sets.stl10 import STL10

from .formats import STL10_CLASSES, resized, unit, write_stl10


def build(root: Path, **params) -> STL10:
    return STL10(STL10Params(download=False, **params), root=str(root))


def test_the_unlabelled_split_resized_to_48_is_the_default(tmp_path: Path, monkeypatch) -> None:
    written = write_stl10(tmp_path, monkeypatch)
    dataset = build(tmp_path)
    assert dataset.key == "stl10-48" and dataset.image_shape == (3, 48, 48)
    assert dataset.class_names == () and dataset.load_labels() is None
    assert torch.equal(dataset.load(), resized(written["unlabeled"].images, 48))
    held = dataset.held_out()  # the labelled test split, unlabelled like the training images
    assert held.name == "test" and held.labels is None
    assert torch.equal(held.images, resized(written["test"].images, 48))


def test_the_labelled_split_at_96_is_read_pixel_for_pixel(tmp_path: Path, monkeypatch) -> None:
    written = write_stl10(tmp_path, monkeypatch)
    dataset = build(tmp_path, split="train", resolution=96)
    assert dataset.key == "stl10-96-train" and dataset.class_names == tuple(STL10_CLASSES)
    assert torch.equal(dataset.load(), unit(written["train"].images))
    assert dataset.load_labels().tolist() == written["train"].labels.tolist()
    assert dataset.held_out().labels.tolist() == written["test"].labels.tolist()
    assert dataset[2][1] == written["train"].labels[2]


def test_train_and_unlabelled_together_are_unlabelled(tmp_path: Path, monkeypatch) -> None:
    written = write_stl10(tmp_path, monkeypatch)
    dataset = build(tmp_path, split="train+unlabeled", resolution=96)
    assert dataset.key == "stl10-96-train+unlabeled" and dataset.class_names == ()
    assert len(dataset) == len(written["train"].images) + len(written["unlabeled"].images)
    assert dataset[len(dataset) - 1][1] == -1
    assert torch.equal(dataset[0][0], unit(written["train"].images[:1])[0])


@pytest.mark.parametrize("split", ["unlabeled", "train"])
def test_the_spec_passes_the_contract_checks(split: str, tmp_path: Path, monkeypatch) -> None:
    write_stl10(tmp_path, monkeypatch)
    spec = next(s for s in ganfw_datasets() if s.name == "stl10")
    check_component(spec, params={"download": False, "split": split}, data_root=str(tmp_path), data_limit=4)
