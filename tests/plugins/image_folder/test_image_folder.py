"""The ``image-folder`` dataset: a temporary folder of generated PNGs and JPEGs of different sizes
and modes in class sub-folders (two of them corrupt), as the in-memory and the streaming path
see it."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganfw.errors import UserError
from ganfw.testing import check_component
from ganfw_plugins.image_folder import ImageFolderParams, ganfw_datasets
from ganfw_plugins.image_folder.dataset import ImageFolder, decode

CLASSES = ("blue", "gray", "green", "red")
PER_CLASS = 10
SIZES = [(40, 30), (30, 40), (32, 32), (64, 48), (17, 23), (100, 60), (28, 28), (50, 50), (36, 70), (45, 33)]


def colour(name: str, k: int) -> tuple[int, int, int]:
    """Image ``k`` of class ``name``: one solid colour, unique in the folder."""
    v = 20 + 20 * k
    return {"red": (240, v, 0), "green": (0, 240, v), "blue": (v, 0, 240), "gray": (v, v, v)}[name]


def save(path: Path, name: str, k: int) -> None:
    """A solid image of ``colour(name, k)`` in one of several modes and formats (by ``k``)."""
    rgb, size = colour(name, k), SIZES[k]
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    if name == "gray":
        mode = "L" if jpeg else ["L", "LA", "I;16", "L"][k % 4]
        image = {
            "L": Image.new("L", size, rgb[0]),
            "LA": Image.new("LA", size, (rgb[0], 255)),
            "I;16": Image.fromarray(np.full(size[::-1], rgb[0] * 257, dtype=np.uint16)),
        }[mode]
    else:
        image = Image.new("RGB", size, rgb)
        image = (
            image
            if jpeg
            else [image, image.convert("RGBA"), image.convert("P", palette=Image.Palette.ADAPTIVE), image][k % 4]
        )
    image.save(path, format="JPEG" if jpeg else "PNG", quality=95)


def jpeg_bytes(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (*size[::-1], 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> dict[str, tuple[int, int, int]]:
    """``tmp_path/images/<class>/<k>.<png|jpg|JPEG>``: 40 readable images, plus a truncated JPEG
    and a garbage PNG, a text file and hidden files. Returns the relative path -> colour of each
    readable image."""
    root = tmp_path / "images"
    colours = {}
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for k in range(PER_CLASS):
            path = root / name / f"{k}.{['png', 'jpg', 'JPEG'][k % 3]}"
            save(path, name, k)
            colours[f"{name}/{path.name}"] = colour(name, k)
    (root / "red" / "truncated.jpg").write_bytes(jpeg_bytes()[:-400])
    (root / "green" / "garbage.png").write_bytes(b"\x89PNG this is not an image at all" * 10)
    (root / "gray" / "notes.txt").write_text("not an image")
    (root / "blue" / "._0.png").write_bytes(b"AppleDouble")  # hidden: not listed
    return colours


def build(path: Path, limit: int | None = None, **params) -> ImageFolder:
    return ImageFolder(ImageFolderParams(path=str(path), **params), limit=limit)


def identify(images: torch.Tensor, colours: dict[str, tuple[int, int, int]]) -> list[str]:
    """Which image of the folder each of ``images`` (M, 3, S, S) in [-1, 1] is: the nearest
    colour, checked to be within JPEG's error."""
    table = torch.tensor(list(colours.values()), dtype=torch.float32)
    means = images.mean(dim=(2, 3)) * 127.5 + 127.5
    distance = (means[:, None, :] - table[None]).abs().amax(dim=2)
    best = distance.argmin(dim=1)
    assert (distance[torch.arange(len(images)), best] < 6).all(), "an image is no file's colour"
    names = list(colours)
    return [names[i] for i in best.tolist()]


# --- what is listed and how it is split -------------------------------------------------------


def test_class_sub_folders_are_the_labels(folder, tmp_path) -> None:
    dataset = build(tmp_path / "images")
    assert dataset.class_names == CLASSES and dataset.num_classes == 4
    images, labels = dataset.load(), dataset.load_labels()
    assert images.shape == (len(labels), 3, 32, 32) and images.dtype == torch.float32
    assert labels.dtype == torch.int64
    for name, label in zip(identify(images, folder), labels.tolist()):
        assert name.split("/")[0] == CLASSES[label]


def test_the_held_out_share_is_disjoint_deterministic_and_per_class(folder, tmp_path) -> None:
    dataset = build(tmp_path / "images", held_out=0.2)
    train, held = identify(dataset.load(), folder), dataset.held_out()
    held_names = identify(held.images, folder)
    assert not set(train) & set(held_names)
    assert sorted(train + held_names) == sorted(folder)  # every readable image, once
    # 20% of each class's 10 or 11 files (corrupt ones included in the count, then skipped).
    assert torch.bincount(held.labels, minlength=4).tolist() in ([2, 2, 2, 2], [2, 2, 1, 2], [2, 2, 2, 1], [2, 2, 1, 1])
    assert [n.split("/")[0] for n in held_names] == [CLASSES[i] for i in held.labels.tolist()]
    again = build(tmp_path / "images", held_out=0.2)
    assert torch.equal(again.held_out().images, held.images) and torch.equal(again.load(), dataset.load())


def test_no_held_out_share(folder, tmp_path) -> None:
    dataset = build(tmp_path / "images", held_out=0.0)
    assert dataset.held_out() is None
    assert len(dataset.load()) == 40


def test_limit_takes_training_images_only(folder, tmp_path) -> None:
    full, limited = build(tmp_path / "images"), build(tmp_path / "images", limit=6)
    assert len(limited.load()) <= 6 and len(limited) == len(limited.load())
    assert torch.equal(limited.held_out().images, full.held_out().images)
    with pytest.raises(ValueError):
        build(tmp_path / "images", limit=0)


def test_unlabelled_folders(folder, tmp_path) -> None:
    images = tmp_path / "images"
    off = build(images, labels="none")
    assert off.class_names == () and off.load_labels() is None and off.held_out().labels is None
    assert off[0][1] == -1
    (images / "stray.png").write_bytes((images / "red" / "0.png").read_bytes())  # an image outside the classes
    assert build(images).class_names == ()
    single = tmp_path / "one"
    (single / "only").mkdir(parents=True)
    save(single / "only" / "0.png", "red", 0)
    save(single / "only" / "1.png", "red", 1)
    assert build(single).class_names == ()  # one sub-folder is no set of classes


def test_the_key_follows_the_folder_and_its_files(folder, tmp_path) -> None:
    images = tmp_path / "images"
    key = build(images).key
    assert key.startswith("image-folder-") and len(key) == len("image-folder-") + 8
    assert build(images, image_size=16, channels=1, held_out=0.5).key == key  # the data, not its view
    (tmp_path / "link").symlink_to(images)
    assert build(tmp_path / "link").key == key  # the resolved path
    save(images / "red" / "new.png", "red", 3)
    assert build(images).key != key


# --- decoding --------------------------------------------------------------------------------


def test_grayscale_and_rgb(folder, tmp_path) -> None:
    rgb, gray = build(tmp_path / "images"), build(tmp_path / "images", channels=1, image_size=16)
    assert rgb.image_shape == (3, 32, 32) and gray.image_shape == (1, 16, 16)
    gray_images = gray.load()
    assert gray_images.shape == (len(gray_images), 1, 16, 16)
    colours = [folder[n] for n in identify(rgb.load(), folder)]
    expected = torch.tensor([(0.299 * r + 0.587 * g + 0.114 * b) for r, g, b in colours]) / 127.5 - 1
    assert (gray_images.mean(dim=(1, 2, 3)) - expected).abs().max() < 6 / 127.5
    assert gray_images.min() >= -1 and gray_images.max() <= 1


def test_every_mode_decodes_to_its_colour(tmp_path) -> None:
    for k in range(4):  # L, LA, I;16 (16-bit) and RGB, RGBA, P
        for name in ("gray", "red"):
            save(tmp_path / f"{name}{k}.png", name, k)
            pixels = decode(tmp_path / f"{name}{k}.png", 8, 3)
            assert pixels.shape == (3, 8, 8) and pixels.dtype == torch.uint8
            assert pixels.flatten(1).float().mean(1).tolist() == list(colour(name, k)), (name, k)


def test_short_side_resized_then_centre_cropped(tmp_path) -> None:
    wide = np.zeros((32, 96), dtype=np.uint8)
    wide[:, 32:64] = 255  # black | white | black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    pixels = decode(tmp_path / "wide.png", 16, 1)
    assert pixels.shape == (1, 16, 16)
    assert (pixels[:, :, 1:-1] == 255).all() and (pixels > 200).all()  # the filter's edge: a trace of black
    tall = np.zeros((192, 64, 3), dtype=np.uint8)
    tall[64:128] = (0, 0, 255)  # red-free stripes above and below a blue middle
    tall[:64, :, 0] = tall[128:, :, 0] = 255
    Image.fromarray(tall).save(tmp_path / "tall.jpg", quality=100)
    pixels = decode(tmp_path / "tall.jpg", 32, 3).float()
    assert pixels.shape == (3, 32, 32)
    assert pixels[0].max() < 12 and pixels[2].min() > 240


def test_transparency_lies_on_white(tmp_path) -> None:
    Image.new("RGBA", (10, 10), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    assert (decode(tmp_path / "clear.png", 4, 3) == 255).all()


# --- broken and empty folders ------------------------------------------------------------------


def test_corrupt_files_are_skipped_with_one_warning(folder, tmp_path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="ganfw_plugins.image_folder")
    dataset = build(tmp_path / "images")
    total = len(dataset.load()) + len(dataset.held_out().images)
    assert total == 40
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    line = warnings[0].getMessage()
    assert "\n" not in line and "skipped 2 of 42 image files" in line and str(tmp_path / "images") in line
    assert line.endswith(("red/truncated.jpg, green/garbage.png", "green/garbage.png, red/truncated.jpg"))
    listed = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(listed) == 2
    assert any("red/truncated.jpg" in m and "truncated" in m for m in listed)
    assert any("green/garbage.png" in m for m in listed)


def test_a_truncated_png_is_skipped(tmp_path, caplog) -> None:
    for k in range(2):
        save(tmp_path / f"{k}.png", "red", k)
    noise = np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "2.png")
    whole = (tmp_path / "2.png").read_bytes()
    (tmp_path / "2.png").write_bytes(whole[: len(whole) // 2])  # half its pixels gone
    dataset = build(tmp_path, held_out=0.0)
    assert len(dataset.load()) == 2 and len(dataset) == 2
    assert ["skipped 1 of 3" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [True]


def test_a_folder_without_images_is_one_error(tmp_path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("no images")
    with pytest.raises(UserError, match=f"^no PNG or JPEG images in {tmp_path / 'empty'} ") as caught:
        build(tmp_path / "empty")
    assert "\n" not in str(caught.value)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"junk")
    (tmp_path / "broken" / "b.jpg").write_bytes(b"junk")
    dataset = build(tmp_path / "broken")  # listing opens no image ...
    with pytest.raises(UserError, match=f"^none of the .* image files in {tmp_path / 'broken'} can be read"):
        dataset.load()  # ... the first decoding finds none readable


def test_a_missing_or_unset_path_is_one_error(tmp_path) -> None:
    with pytest.raises(UserError, match="needs data.params.path"):
        build(Path(" "))
    with pytest.raises(UserError, match=f"image folder {tmp_path / 'nowhere'} does not exist"):
        build(tmp_path / "nowhere")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(UserError, match="is not a folder"):
        build(tmp_path / "file.png")


@pytest.mark.parametrize("name, reason", [("n" * 5000, "File name too long"), ("a\0b", "embedded null byte")])
def test_a_path_the_os_cannot_take_is_one_error(tmp_path, name, reason) -> None:
    """A name too long, or a NUL byte (which a recipe refuses before: this is the Python API)."""
    with pytest.raises(UserError) as caught:
        build(tmp_path / name)
    assert str(caught.value).endswith(f"cannot be read: {reason} (data.params.path)") and "\0" not in str(caught.value)


# --- streaming ---------------------------------------------------------------------------------


def test_items_are_the_loaded_images(folder, tmp_path) -> None:
    dataset = build(tmp_path / "images")
    assert dataset.indexable
    images, labels = dataset.load(), dataset.load_labels()
    assert len(dataset) == len(images)
    for i in (0, 7, len(dataset) - 1):
        image, label = dataset[i]
        assert torch.equal(image, images[i]) and label == labels[i].item()
    with pytest.raises(IndexError):
        dataset[len(dataset)]


def test_a_dataloader_with_workers_streams_it(folder, tmp_path) -> None:
    dataset = build(tmp_path / "images", image_size=8)
    loader = torch.utils.data.DataLoader(dataset, batch_size=8, num_workers=2)
    batches = list(loader)
    assert torch.equal(torch.cat([b[0] for b in batches]), dataset.load())
    assert torch.equal(torch.cat([b[1] for b in batches]), dataset.load_labels())


def test_a_file_broken_after_the_check_is_replaced_not_fatal(folder, tmp_path, caplog) -> None:
    dataset = build(tmp_path / "images", held_out=0.0)
    images = dataset.load()
    first = identify(images[:1], folder)[0]
    (tmp_path / "images" / first).write_bytes(b"gone bad")
    image, _ = dataset[0]
    assert torch.equal(image, images[1])
    assert any("became unreadable" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_the_spec_passes_the_contract_checks(folder, tmp_path) -> None:
    (spec,) = ganfw_datasets()
    check_component(spec, params={"path": str(tmp_path / "images"), "image_size": 16}, data_limit=12)
    check_component(spec, params={"path": str(tmp_path / "images"), "channels": 1, "labels": "none"})
