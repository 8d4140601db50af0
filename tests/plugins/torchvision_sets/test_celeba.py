"""CelebA read through torchvision's class from a small ``celeba/`` folder in its exact layout:
aligned 178x218 JPEGs and the five annotation files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ganfw.testing import check_component
from ganfw_plugins.torchvision_sets import CelebAParams, ganfw_datasets
from ganfw_plugins.torchvision_sets.celeba import CelebA

from .formats import resized, write_celeba


def build(root: Path, limit: int | None = None, **params) -> CelebA:
    return CelebA(CelebAParams(download=False, **params), root=str(root), limit=limit)


def test_the_largest_centre_square_resized_to_64_by_default(tmp_path: Path, monkeypatch) -> None:
    written = write_celeba(tmp_path, monkeypatch)
    dataset = build(tmp_path)
    assert dataset.key == "celeba-64" and dataset.image_shape == (3, 64, 64)
    assert dataset.class_names == () and dataset.load_labels() is None
    assert torch.equal(dataset.load(), resized(written["train"].images, 64, (0, 20, 178, 198)))
    held = dataset.held_out()
    assert held.name == "test" and held.labels is None
    assert torch.equal(held.images, resized(written["test"].images, 64, (0, 20, 178, 198)))


def test_a_crop_is_cut_from_the_centre_first(tmp_path: Path, monkeypatch) -> None:
    written = write_celeba(tmp_path, monkeypatch)
    dataset = build(tmp_path, resolution=32, crop=108)
    assert dataset.key == "celeba-32-crop108"
    assert torch.equal(dataset.load(), resized(written["train"].images, 32, (35, 55, 143, 163)))


def test_the_valid_split_can_be_held_out(tmp_path: Path, monkeypatch) -> None:
    written = write_celeba(tmp_path, monkeypatch)
    dataset = build(tmp_path, held_out="valid", limit=2)
    assert dataset.key == "celeba-64-valid" and len(dataset) == 2
    held = dataset.held_out()
    assert held.name == "held-out"
    assert torch.equal(held.images, resized(written["valid"].images, 64, (0, 20, 178, 198)))
    assert torch.equal(dataset[1][0], resized(written["train"].images[1:2], 64, (0, 20, 178, 198))[0])


@pytest.mark.parametrize("crop", [0, 140])
def test_the_spec_passes_the_contract_checks(crop: int, tmp_path: Path, monkeypatch) -> None:
    write_celeba(tmp_path, monkeypatch)
    spec = next(s for s in ganfw_datasets() if s.name == "celeba")
    params = {"download": False, "resolution": 32, "crop": crop}
    check_component(spec, params=params, data_root=str(tmp_path), data_limit=3)
