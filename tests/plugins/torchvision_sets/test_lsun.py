"""LSUN read through torchvision's class from small lmdb databases in LSUN's layout (WebP
images keyed by hex ids), its key lists cached outside the working directory."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from ganfw.testing import check_component
from ganfw_plugins.torchvision_sets import LSUNParams, ganfw_datasets
from ganfw_plugins.torchvision_sets.lsun import LSUN

from .formats import resized, write_lsun


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user cache of the test's own, and a working directory that must stay empty."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    return tmp_path / "cache" / "ganfw" / "lsun"


def build(root: Path, categories: list[str], limit: int | None = None, resolution: int = 32) -> LSUN:
    return LSUN(LSUNParams(categories=categories, resolution=resolution), root=str(root), limit=limit)


def test_one_category_is_unlabelled_with_its_val_set_held_out(tmp_path: Path, cache: Path) -> None:
    written = write_lsun(tmp_path / "lsun", {"bedroom": (5, 3)})
    dataset = build(tmp_path, ["bedroom"])
    assert dataset.key == "lsun-bedroom-32" and dataset.class_names == ()
    # 80x60 scenes: the centre 60x60 square (x from 10 to 70), resized.
    assert torch.equal(dataset.load(), resized(written["bedroom_train"].images, 32, (10, 0, 70, 60)))
    assert dataset.load_labels() is None
    held = dataset.held_out()
    assert held.labels is None and held.name == "held-out"
    assert torch.equal(held.images, resized(written["bedroom_val"].images, 32, (10, 0, 70, 60)))
    assert os.listdir(".") == [] and len(os.listdir(cache)) == 2  # a key list per database, in the cache


def test_several_categories_are_the_classes(tmp_path: Path, cache: Path) -> None:
    written = write_lsun(tmp_path / "lsun", {"bedroom": (4, 2), "tower": (3, 2)})
    dataset = build(tmp_path, ["bedroom", "tower"], resolution=60)
    assert dataset.key == "lsun-bedroom+tower-60" and dataset.class_names == ("bedroom", "tower")
    assert dataset.load_labels().tolist() == [0, 0, 0, 0, 1, 1, 1]
    expected = torch.cat([resized(written[f"{c}_train"].images, 60, (10, 0, 70, 60)) for c in ("bedroom", "tower")])
    assert torch.equal(dataset.load(), expected)
    assert dataset[5][1] == 1 and torch.equal(dataset[5][0], expected[5])
    assert dataset.held_out().labels.tolist() == [0, 0, 1, 1]
    assert build(tmp_path, ["bedroom", "tower"], limit=5).load_labels().tolist() == [0, 0, 0, 0, 1]


def test_a_stale_cached_key_list_is_listed_again(tmp_path: Path, cache: Path) -> None:
    write_lsun(tmp_path / "lsun", {"bedroom": (5, 2)})
    # What torchvision left from a database once at the same path: two keys, one not in this one.
    letters = "".join(c for c in str(tmp_path / "lsun" / "bedroom_train_lmdb") if c.isascii() and c.isalpha())
    cache.mkdir(parents=True)
    (cache / f"_cache_{letters}").write_bytes(pickle.dumps([b"gone", b"also-gone"]))
    dataset = build(tmp_path, ["bedroom"])
    assert len(dataset) == 5 and dataset.load().shape == (5, 3, 32, 32)
    assert len(pickle.loads((cache / f"_cache_{letters}").read_bytes())) == 5


def test_dataloader_workers_open_their_own_databases(tmp_path: Path, cache: Path) -> None:
    write_lsun(tmp_path / "lsun", {"bedroom": (3, 1), "tower": (3, 1)})
    dataset = build(tmp_path, ["bedroom", "tower"], resolution=16)
    expected = dataset.load()  # opens the databases in this process first
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, num_workers=2)
    images, labels = zip(*loader)
    assert torch.equal(torch.cat(images), expected) and torch.cat(labels).tolist() == [0, 0, 0, 1, 1, 1]


def test_the_spec_passes_the_contract_checks(tmp_path: Path, cache: Path) -> None:
    write_lsun(tmp_path / "lsun", {"church_outdoor": (3, 1), "bridge": (2, 1)})
    spec = next(s for s in ganfw_datasets() if s.name == "lsun")
    params = {"categories": ["church_outdoor", "bridge"], "resolution": 16}
    check_component(spec, params=params, data_root=str(tmp_path), data_limit=4)
