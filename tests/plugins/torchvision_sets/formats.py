"""Small datasets written in exactly the formats torchvision reads (CIFAR's python pickles,
STL-10's binaries, CelebA's aligned JPEGs and text files, LSUN's lmdb), with seeded pixels, and
torchvision's published MD5 sums replaced by those of the written files (the classes check them).

Every writer returns what it wrote: images (N, H, W, 3) uint8 and their labels, per split.
:func:`unit` and :func:`resized` give the images expected from them, computed with Pillow
independently of the plugin's conversion."""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


@dataclass(frozen=True)
class Written:
    """One split as written: images (N, H, W, 3) uint8, labels (N,) int64 (-1: unlabelled)."""

    images: np.ndarray
    labels: np.ndarray


def pixels(n: int, height: int, width: int, seed: int) -> np.ndarray:
    """(n, height, width, 3) uint8: seeded noise over a per-image colour, so images differ."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (n, 1, 1, 3))
    return ((base + rng.integers(-40, 41, (n, height, width, 3))) % 256).astype(np.uint8)


def unit(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 in [-1, 1]."""
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 127.5) / 127.5


def resized(images: np.ndarray, size: int, box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """The region ``box`` (left, top, right, bottom; ``None``: whole) of each (H, W, 3) image
    resized to size x size by Pillow's bicubic filter, as (N, 3, size, size) float32 in [-1, 1]."""
    out = [np.asarray(Image.fromarray(a).resize((size, size), Image.Resampling.BICUBIC, box=box)) for a in images]
    return unit(np.stack(out))


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _pickle(path: Path, content: dict) -> None:
    path.write_bytes(pickle.dumps(content, protocol=2))


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> CIFAR's rows (N, 3072): the red plane, then green, then blue."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def write_cifar10(root: Path, monkeypatch: pytest.MonkeyPatch, per_batch: int = 3, test: int = 4) -> dict:
    """``root/cifar-10-batches-py``: five training batches of ``per_batch`` images, a test batch
    and ``batches.meta``. Returns ``{"train": Written, "test": Written}``."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    splits = {"train": Written(pixels(5 * per_batch, 32, 32, 1), np.arange(5 * per_batch) % 10)}
    splits["test"] = Written(pixels(test, 32, 32, 2), (np.arange(test) * 3) % 10)
    for b in range(5):
        rows = slice(b * per_batch, (b + 1) * per_batch)
        batch = {"labels": splits["train"].labels[rows].tolist(), "data": _cifar_rows(splits["train"].images[rows])}
        _pickle(folder / f"data_batch_{b + 1}", {"batch_label": f"training batch {b + 1} of 5", **batch})
    test_batch = {"labels": splits["test"].labels.tolist(), "data": _cifar_rows(splits["test"].images)}
    _pickle(folder / "test_batch", {"batch_label": "testing batch 1 of 1", **test_batch})
    _pickle(
        folder / "batches.meta", {"label_names": CIFAR10_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}
    )
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[f"data_batch_{b}", md5(folder / f"data_batch_{b}")] for b in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(folder / "batches.meta")})
    return splits


def write_cifar100(root: Path, monkeypatch: pytest.MonkeyPatch, train: int = 12, test: int = 5) -> dict:
    """``root/cifar-100-python``: ``train``, ``test`` (fine and coarse labels) and ``meta``."""
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    splits = {
        "train": Written(pixels(train, 32, 32, 3), (np.arange(train) * 7) % 100),
        "test": Written(pixels(test, 32, 32, 4), (np.arange(test) * 11) % 100),
    }
    for name, split in splits.items():
        content = {"fine_labels": split.labels.tolist(), "coarse_labels": (split.labels // 5).tolist()}
        _pickle(folder / name, {**content, "data": _cifar_rows(split.images), "batch_label": name})
    fine = [f"class{k:02d}" for k in range(100)]
    _pickle(folder / "meta", {"fine_label_names": fine, "coarse_label_names": [f"super{k}" for k in range(20)]})
    cls = torchvision.datasets.CIFAR100
    monkeypatch.setattr(cls, "train_list", [["train", md5(folder / "train")]])
    monkeypatch.setattr(cls, "test_list", [["test", md5(folder / "test")]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(folder / "meta")})
    return splits


STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _stl_binary(path: Path, images: np.ndarray) -> None:
    """STL-10's ``*_X.bin``: each image's three planes, each stored column by column."""
    path.write_bytes(images.transpose(0, 3, 2, 1).tobytes())


def write_stl10(root: Path, monkeypatch: pytest.MonkeyPatch, train: int = 6, unlabeled: int = 7, test: int = 5) -> dict:
    """``root/stl10_binary``: ``train_X/y.bin``, ``test_X/y.bin``, ``unlabeled_X.bin`` (96x96,
    labels stored 1..10) and ``class_names.txt``."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    splits = {
        "train": Written(pixels(train, 96, 96, 5), np.arange(train) % 10),
        "unlabeled": Written(pixels(unlabeled, 96, 96, 6), np.full(unlabeled, -1)),
        "test": Written(pixels(test, 96, 96, 7), (np.arange(test) * 3) % 10),
    }
    for name, split in splits.items():
        _stl_binary(folder / f"{name}_X.bin", split.images)
        if name != "unlabeled":
            (folder / f"{name}_y.bin").write_bytes((split.labels + 1).astype(np.uint8).tobytes())
    (folder / "class_names.txt").write_text("\n".join(STL10_CLASSES) + "\n")
    cls = torchvision.datasets.STL10
    names = ["train_X.bin", "train_y.bin", "unlabeled_X.bin"]
    monkeypatch.setattr(cls, "train_list", [[n, md5(folder / n)] for n in names])
    monkeypatch.setattr(cls, "test_list", [[n, md5(folder / n)] for n in ["test_X.bin", "test_y.bin"]])
    return splits


#: CelebA's partition codes: list_eval_partition.txt says 0, 1 or 2 for each image.
CELEBA_PARTITION = {"train": 0, "valid": 1, "test": 2}


def write_celeba(root: Path, monkeypatch: pytest.MonkeyPatch, counts: tuple[int, int, int] = (6, 3, 4)) -> dict:
    """``root/celeba``: ``img_align_celeba/NNNNNN.jpg`` (178x218) and the five text files,
    ``counts`` images in train, valid and test. Returns the JPEGs as decoded, per split."""
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    n = sum(counts)
    images = pixels(n, 218, 178, 8)
    partition = np.repeat([0, 1, 2], counts)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    decoded = []
    for name, image in zip(names, images):
        Image.fromarray(image).save(folder / "img_align_celeba" / name, quality=100)
        decoded.append(np.asarray(Image.open(folder / "img_align_celeba" / name).convert("RGB")))
    _celeba_texts(folder, names, partition)
    cls = torchvision.datasets.CelebA
    files = [(i, m if f.endswith(".zip") else md5(folder / f), f) for i, m, f in cls.file_list]  # the zip: unchecked
    monkeypatch.setattr(cls, "file_list", files)
    decoded = np.stack(decoded)
    return {s: Written(decoded[partition == c], np.full(counts[c], -1)) for s, c in CELEBA_PARTITION.items()}


def _celeba_texts(folder: Path, names: list[str], partition: np.ndarray) -> None:
    """The five annotation files, in CelebA's space-separated layouts."""
    n = len(names)
    attributes = ["5_o_Clock_Shadow", "Smiling", "Male"]
    (folder / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, p in zip(names, partition)))
    (folder / "identity_CelebA.txt").write_text("".join(f"{f} {i % 3 + 1}\n" for i, f in enumerate(names)))
    rows = "".join(
        f"{f} " + " ".join("1" if (i + k) % 2 else "-1" for k in range(3)) + "\n" for i, f in enumerate(names)
    )
    (folder / "list_attr_celeba.txt").write_text(f"{n}\n{' '.join(attributes)}\n{rows}")
    bbox = "".join(f"{f} 95 71 226 313\n" for f in names)
    (folder / "list_bbox_celeba.txt").write_text(f"{n}\nimage_id x_1 y_1 width height\n{bbox}")
    points = "".join(f"{f} 69 109 106 113 77 142 73 152 108 154\n" for f in names)
    header = "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y"
    (folder / "list_landmarks_align_celeba.txt").write_text(f"{n}\n{header}\n{points}")


def write_lsun(root: Path, categories: dict[str, tuple[int, int]], size: tuple[int, int] = (80, 60)) -> dict:
    """``root/<category>_train_lmdb`` and ``_val_lmdb`` for each category (``{name: (train,
    val)}``): lmdb databases of lossless WebP images (``size`` = (W, H)) keyed by hex ids, as
    LSUN's export ships them. Returns ``{"<category>_<split>": Written}`` in key order."""
    import lmdb

    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for c, (category, counts) in enumerate(categories.items()):
        for s, (split, n) in enumerate(zip(("train", "val"), counts)):
            images = pixels(n, size[1], size[0], 10 + 2 * c + s)
            keys = [hashlib.sha1(f"{category}{split}{i}".encode()).hexdigest().encode() for i in range(n)]
            env = lmdb.open(str(root / f"{category}_{split}_lmdb"), map_size=2**26)
            with env.begin(write=True) as txn:
                for key, image in zip(keys, images):
                    buffer = io.BytesIO()
                    Image.fromarray(image).save(buffer, format="WEBP", lossless=True)
                    txn.put(key, buffer.getvalue())
            env.close()
            order = np.argsort(keys)  # lmdb iterates its keys sorted
            written[f"{category}_{split}"] = Written(images[order], np.full(n, c))
    return written
