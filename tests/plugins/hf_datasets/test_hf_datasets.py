"""The ``hf-dataset`` dataset on datasets built locally with the real ``datasets`` library: a
DatasetDict saved with ``save_to_disk`` (an Image feature, a ClassLabel), and a folder of
Parquet files loaded by name with ``load_dataset``; read by index and streamed."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch
from PIL import Image

from ganfw.errors import UserError
from ganfw.testing import check_component
from ganfw_plugins.hf_datasets import HFDatasetParams, ganfw_datasets
from ganfw_plugins.hf_datasets.dataset import HFDataset, HFStream, hf_dataset
from tests.plugins.torchvision_sets.formats import pixels, resized
from tests.plugins.torchvision_sets.recipes import checked, tiny_recipe
from tests.plugins.torchvision_sets.streams import rows_of, through_workers

CLASSES = ["cat", "dog", "eel"]
FEATURES = datasets.Features({"picture": datasets.Image(), "kind": datasets.ClassLabel(names=CLASSES)})
#: The centre square of the 12x10 images.
BOX = (1, 0, 11, 10)


def png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def table(images: np.ndarray, labels: np.ndarray) -> datasets.Dataset:
    rows = {"picture": [{"bytes": png(a), "path": None} for a in images], "kind": labels.tolist()}
    return datasets.Dataset.from_dict(rows, features=FEATURES)


@pytest.fixture(autouse=True)
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's cache in the test's folder, and no network."""
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)


@pytest.fixture
def written(tmp_path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``tmp_path/saved``: a DatasetDict of 10 training and 4 test images (12x10 PNGs) with
    classes; ``tmp_path/parquet``: the same as Parquet files. Returns the images and labels."""
    splits = {
        "train": (pixels(10, 10, 12, 20), np.arange(10) % 3),
        "test": (pixels(4, 10, 12, 21), np.array([2, 1, 0, 2])),
    }
    tables = {name: table(*split) for name, split in splits.items()}
    datasets.DatasetDict(tables).save_to_disk(str(tmp_path / "saved"))
    for name, split in tables.items():
        split.to_parquet(str(tmp_path / "parquet" / f"{name}.parquet"))
    return splits


def build(tmp_path: Path, limit: int | None = None, **params) -> HFDataset | HFStream:
    where = {"path": str(tmp_path / "saved")} if "name" not in params else {}
    return hf_dataset(HFDatasetParams(image_column="picture", **where, **params), limit=limit)


def test_a_saved_dataset_is_read_by_index_with_its_classes(tmp_path: Path, written) -> None:
    dataset = build(tmp_path, label_column="kind", resolution=8)
    assert isinstance(dataset, HFDataset) and dataset.indexable and not dataset.iterable
    assert dataset.key.startswith("hf-disk-") and dataset.key.endswith("-8")
    assert dataset.class_names == tuple(CLASSES) and len(dataset) == 10
    images = dataset.load()
    assert torch.equal(images, resized(written["train"][0], 8, BOX))
    assert dataset.load_labels().tolist() == written["train"][1].tolist()
    assert torch.equal(dataset[3][0], images[3]) and dataset[3][1] == written["train"][1][3]
    held = dataset.held_out()
    assert held.name == "test" and held.labels.tolist() == written["test"][1].tolist()
    assert torch.equal(held.images, resized(written["test"][0], 8, BOX))


def test_grayscale_unlabelled_and_limited(tmp_path: Path, written) -> None:
    dataset = build(tmp_path, channels=1, resolution=10, limit=4)
    assert dataset.image_shape == (1, 10, 10) and dataset.key.endswith("-10-gray")
    assert dataset.class_names == () and dataset.load_labels() is None and len(dataset) == 4
    gray = np.stack([np.asarray(Image.fromarray(a).convert("L").crop(BOX)) for a in written["train"][0][:4]])
    assert torch.equal(dataset.load(), (torch.from_numpy(gray)[:, None].float() - 127.5) / 127.5)
    assert dataset.held_out().labels is None and len(dataset.held_out().images) == 4


def test_a_dataset_by_name_goes_through_load_dataset(tmp_path: Path, written) -> None:
    name = str(tmp_path / "parquet")
    dataset = build(tmp_path, name=name, label_column="kind", resolution=8)
    assert dataset.key == f"hf-{name}-8" and dataset.class_names == tuple(CLASSES)
    assert torch.equal(dataset.load(), resized(written["train"][0], 8, BOX))
    assert dataset.held_out().labels.tolist() == written["test"][1].tolist()


def test_a_stream_is_deterministic_disjoint_between_shards_and_shuffled_per_epoch(tmp_path: Path, written) -> None:
    dataset = build(tmp_path, label_column="kind", resolution=8, streaming=True, shuffle_buffer=4)
    assert isinstance(dataset, HFStream) and dataset.iterable and not dataset.indexable and len(dataset) == 10
    reference = dataset.load()
    assert torch.equal(reference, resized(written["train"][0], 8, BOX))
    epoch0 = rows_of(dataset.iterate(0, 1, 0, 7), reference)
    assert sorted(epoch0) == list(range(10)) and epoch0 == rows_of(dataset.iterate(0, 1, 0, 7), reference)
    epoch1 = rows_of(dataset.iterate(0, 1, 1, 7), reference)
    assert sorted(epoch1) == list(range(10)) and epoch1 != epoch0
    for shards in (2, 3):
        parts = [rows_of(dataset.iterate(s, shards, 0, 7), reference) for s in range(shards)]
        assert sorted(sum(parts, [])) == list(range(10)) and all(parts)
    labels = [label for _, label in dataset.iterate(0, 1, 0, 7)]
    assert labels == [written["train"][1][row] for row in epoch0]


def test_dataloader_workers_divide_a_rank_share(tmp_path: Path, written) -> None:
    dataset = build(tmp_path, resolution=8, streaming=True)
    reference = dataset.load()
    shares = [rows_of(through_workers(dataset, shard, 2), reference) for shard in range(2)]
    assert sorted(shares[0] + shares[1]) == list(range(10))


def test_a_limited_stream_shuffles_its_first_images(tmp_path: Path, written) -> None:
    dataset = build(tmp_path, label_column="kind", resolution=8, streaming=True, limit=6)
    assert len(dataset) == 6 and dataset.load_labels().tolist() == written["train"][1][:6].tolist()
    reference = dataset.load()
    parts = [rows_of(dataset.iterate(s, 2, 3, 1), reference) for s in range(2)]
    assert sorted(parts[0] + parts[1]) == list(range(6)) and len(parts[0]) == 3
    via_workers = [rows_of(through_workers(dataset, s, 2), reference) for s in range(2)]
    assert sorted(via_workers[0] + via_workers[1]) == list(range(6))


def test_a_stream_by_name_needs_a_size_when_its_info_has_none(tmp_path: Path, written) -> None:
    params = {"name": str(tmp_path / "parquet"), "resolution": 8, "streaming": True}
    with pytest.raises(UserError, match="does not say how many images split 'train' holds: set data.params.size"):
        len(build(tmp_path, **params))
    dataset = build(tmp_path, size=10, **params)
    assert len(dataset) == 10  # (iterate: as for a saved dataset; datasets pauses 5 s after a Parquet stream)
    assert torch.equal(dataset.load(), resized(written["train"][0], 8, BOX))
    assert torch.equal(dataset.held_out().images, resized(written["test"][0], 8, BOX))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "needs exactly one of data.params.path"),
        ({"path": "x", "name": "y"}, "needs exactly one of data.params.path"),
        ({"path": "{tmp}/nowhere"}, "nowhere is not a folder"),
        ({"path": "{tmp}/parquet"}, "holds no dataset saved with save_to_disk"),
        ({"path": "{tmp}/saved", "image_column": "image"}, "has no column 'image' .*it has picture, kind"),
        ({"path": "{tmp}/saved", "label_column": "picture"}, "'picture' .* is a Image.*not a ClassLabel"),
        ({"path": "{tmp}/saved", "split": "validation"}, "has no split 'validation' \\(it has train, test\\)"),
        ({"name": "{tmp}/nowhere"}, "datasets.load_dataset\\(.*nowhere.*\\) failed"),
    ],
)
def test_bad_params_are_one_line(params: dict, message: str, tmp_path: Path, written) -> None:
    params = {"image_column": "picture", **{k: v.replace("{tmp}", str(tmp_path)) for k, v in params.items()}}
    with pytest.raises(UserError, match=message) as caught:
        len(hf_dataset(HFDatasetParams(**params)))
    assert "\n" not in str(caught.value)


def test_without_the_library_it_says_which_extra_to_install(tmp_path: Path, written, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(UserError, match=r"pip install 'ganfw\[hf\]'"):
        len(build(tmp_path))


@pytest.mark.parametrize("streaming", [False, True])
def test_the_spec_passes_the_contract_checks(streaming: bool, tmp_path: Path, written) -> None:
    params = {
        "path": str(tmp_path / "saved"),
        "image_column": "picture",
        "label_column": "kind",
        "streaming": streaming,
    }
    check_component(ganfw_datasets()[0], params=params, data_limit=6)


def test_a_tiny_recipe_passes_ganfw_check(tmp_path: Path, written, capsys, clean_plugin_env) -> None:
    params = {"path": str(tmp_path / "saved"), "image_column": "picture", "label_column": "kind", "streaming": True}
    resolved = checked(capsys, tiny_recipe(tmp_path / "r.toml", "hf-dataset", params))
    assert resolved["data"]["name"] == "hf-dataset" and resolved["data"]["params"]["streaming"] is True
