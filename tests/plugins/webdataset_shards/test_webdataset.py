"""The ``webdataset`` dataset on tar shards written by the real ``webdataset.ShardWriter``:
read in order, streamed per rank and per DataLoader worker, shuffled per epoch."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import webdataset
from PIL import Image

from ganfw.errors import UserError
from ganfw.testing import check_component
from ganfw_plugins.webdataset_shards import WebDatasetParams, ganfw_datasets
from ganfw_plugins.webdataset_shards.dataset import WebDataset
from tests.plugins.torchvision_sets.formats import pixels, resized
from tests.plugins.torchvision_sets.recipes import checked, tiny_recipe
from tests.plugins.torchvision_sets.streams import rows_of, through_workers

CLASSES = ["cat", "dog", "eel"]
N = 23
#: The centre square of the 12x10 images.
BOX = (1, 0, 11, 10)


def encoded(image: np.ndarray, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=format, quality=95)
    return buffer.getvalue()


@pytest.fixture
def shards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray]:
    """``tmp_path/train-00000{0..4}.tar`` (23 samples of a 12x10 PNG and a class, 5 a shard, and
    one sample without an image) and ``tmp_path/test-000000.tar`` (4 samples); the user cache in
    the test's folder. Returns the images and labels written."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    written = {"train": pixels(N, 10, 12, 30), "test": pixels(4, 10, 12, 31)}
    written["train_labels"], written["test_labels"] = np.arange(N) % 3, np.array([1, 0, 2, 2])
    with webdataset.ShardWriter(str(tmp_path / "train-%06d.tar"), maxcount=5, verbose=0) as sink:
        for i, image in enumerate(written["train"]):
            sink.write({"__key__": f"{i:06d}", "png": encoded(image), "cls": int(written["train_labels"][i])})
            if i == 7:
                sink.write({"__key__": "note", "txt": "a sample without an image"})
    with webdataset.ShardWriter(str(tmp_path / "test-%06d.tar"), maxcount=5, verbose=0) as sink:
        for i, image in enumerate(written["test"]):
            sink.write({"__key__": f"t{i:05d}", "png": encoded(image), "cls": int(written["test_labels"][i])})
    return written


def build(tmp_path: Path, limit: int | None = None, **params) -> WebDataset:
    defaults = {
        "urls": [str(tmp_path / "train-{000000..000004}.tar")],
        "held_out": [str(tmp_path / "test-000000.tar")],
        "label_key": "cls",
        "class_names": CLASSES,
        "resolution": 8,
        "shuffle_buffer": 4,
    }
    return WebDataset(WebDatasetParams(**{**defaults, **params}), limit=limit)


def test_the_shards_are_read_in_order_with_their_classes(tmp_path: Path, shards) -> None:
    dataset = build(tmp_path)
    assert dataset.iterable and not dataset.indexable and dataset.class_names == tuple(CLASSES)
    assert dataset.key.startswith("webdataset-") and dataset.key.endswith("-8") and len(dataset) == N
    assert torch.equal(dataset.load(), resized(shards["train"], 8, BOX))
    assert dataset.load_labels().tolist() == shards["train_labels"].tolist()
    held = dataset.held_out()
    assert held.name == "held-out" and held.labels.tolist() == shards["test_labels"].tolist()
    assert torch.equal(held.images, resized(shards["test"], 8, BOX))


def test_the_count_is_cached_until_a_shard_changes(tmp_path: Path, shards) -> None:
    assert len(build(tmp_path)) == N
    (cached,) = (tmp_path / "cache" / "ganfw" / "webdataset").iterdir()
    assert json.loads(cached.read_text())["images"] == N
    cached.write_text(json.dumps({"images": 99}))  # read back, not counted again
    assert len(build(tmp_path)) == 99
    os.utime(tmp_path / "train-000004.tar", ns=(0, 0))  # a shard touched: counted again
    assert len(build(tmp_path)) == N
    assert len(build(tmp_path, size=1000)) == 1000 and len(build(tmp_path, size=1000, limit=5)) == 5


def test_a_stream_is_deterministic_disjoint_between_shards_and_shuffled_per_epoch(tmp_path: Path, shards) -> None:
    dataset = build(tmp_path)
    reference = dataset.load()
    epoch0 = rows_of(dataset.iterate(0, 1, 0, 7), reference)
    assert sorted(epoch0) == list(range(N)) and epoch0 == rows_of(dataset.iterate(0, 1, 0, 7), reference)
    assert sorted(rows_of(dataset.iterate(0, 1, 1, 7), reference)) == list(range(N))
    assert rows_of(dataset.iterate(0, 1, 1, 7), reference) != epoch0
    assert rows_of(dataset.iterate(0, 1, 0, 8), reference) != epoch0
    for n_shards in (2, 7):  # whole tar files each; more shares than files: every n-th sample
        parts = [rows_of(dataset.iterate(s, n_shards, 0, 7), reference) for s in range(n_shards)]
        assert sorted(sum(parts, [])) == list(range(N)) and all(parts)
    labels = [label for _, label in dataset.iterate(0, 1, 0, 7)]
    assert labels == [shards["train_labels"][row] for row in epoch0]


def test_dataloader_workers_divide_a_rank_share(tmp_path: Path, shards) -> None:
    dataset = build(tmp_path)
    reference = dataset.load()
    shares = [rows_of(through_workers(dataset, shard, 2), reference) for shard in range(2)]
    assert sorted(shares[0] + shares[1]) == list(range(N))


def test_limit_streams_the_first_samples(tmp_path: Path, shards) -> None:
    dataset = build(tmp_path, limit=9)
    assert len(dataset) == 9 and dataset.load_labels().tolist() == shards["train_labels"][:9].tolist()
    reference = dataset.load()
    parts = [rows_of(dataset.iterate(s, 2, 1, 3), reference) for s in range(2)]
    assert sorted(parts[0] + parts[1]) == list(range(9)) and {len(p) for p in parts} == {4, 5}


def test_shards_by_list_relative_to_the_working_directory_as_grayscale_jpegs(
    tmp_path: Path, shards, monkeypatch
) -> None:
    with webdataset.TarWriter(str(tmp_path / "jpegs.tar")) as sink:
        for i, image in enumerate(shards["test"]):
            sink.write({"__key__": f"j{i}", "jpg": encoded(image, "JPEG")})
    monkeypatch.chdir(tmp_path)
    dataset = build(tmp_path, urls=["jpegs.tar", "test-000000.tar"], label_key="", class_names=[], channels=1)
    assert dataset.image_shape == (1, 8, 8) and dataset.class_names == () and dataset.load_labels() is None
    images = dataset.load()
    assert images.shape == (8, 1, 8, 8) and torch.equal(images[4:], build(tmp_path, channels=1).held_out().images)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"urls": []}, "needs data.params.urls"),
        ({"urls": ["{tmp}/train-{000003..000006}.tar"]}, r"train-000005.tar does not exist \(data.params.urls\[0\]"),
        ({"held_out": ["{tmp}/nowhere.tar"]}, r"nowhere.tar does not exist \(data.params.held_out\[0\]"),
        ({"class_names": []}, "label_key and data.params.class_names go together"),
        ({"class_names": ["a", "b"]}, r"has cls = b?'2', not a class index 0..1"),
    ],
)
def test_bad_params_and_samples_are_one_line(params: dict, message: str, tmp_path: Path, shards) -> None:
    params = {k: [u.replace("{tmp}", str(tmp_path)) for u in v] if k != "class_names" else v for k, v in params.items()}
    with pytest.raises(UserError, match=message) as caught:
        build(tmp_path, **params).load_labels()
    assert "\n" not in str(caught.value)


def test_without_the_library_it_says_which_extra_to_install(tmp_path: Path, shards, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "webdataset", None)
    with pytest.raises(UserError, match=r"pip install 'ganfw\[webdataset\]'"):
        build(tmp_path)


def test_the_spec_passes_the_contract_checks(tmp_path: Path, shards) -> None:
    params = {"urls": [str(tmp_path / "train-{000000..000004}.tar")], "label_key": "cls", "class_names": CLASSES}
    check_component(ganfw_datasets()[0], params=params, data_limit=6)


def test_a_tiny_recipe_passes_ganfw_check(tmp_path: Path, shards, capsys, clean_plugin_env) -> None:
    params = {"urls": [str(tmp_path / "train-{000000..000004}.tar")], "size": N}
    resolved = checked(capsys, tiny_recipe(tmp_path / "r.toml", "webdataset", params))
    assert resolved["data"]["name"] == "webdataset" and resolved["data"]["params"]["size"] == N
