"""Fuzzing the image folder with hostile file names (issue 19): random names of files and class
folders (control characters, line breaks, bytes that are no UTF-8, names like ``.png`` alone),
holding a PNG, garbage, nothing, or being no file at all (a FIFO, a link to ``/dev/zero``, a
folder named like an image). The dataset reads every readable PNG once and only those, or refuses
the folder in one line; it never raises anything else and never blocks. The example counts come
from the hypothesis profile; every example found stays an ``@example``."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import torch
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from ganfw.errors import UserError
from ganfw_plugins.image_folder import ImageFolderParams
from ganfw_plugins.image_folder.dataset import ImageFolder
from tests.faults.lines import RAW_CONTROL


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (6, 5), (200, 10, 10)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png_bytes()
#: What a name in the folder is: a PNG, garbage, an empty file, or no file at all.
KINDS = ("png", "garbage", "empty", "fifo", "link-to-dev-zero", "folder")

#: One path component: any text but ``/`` and NUL (no OS takes those), or bytes that are no UTF-8
#: (read back as lone surrogates), at most 200 bytes long.
names = st.one_of(
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=20),
    st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b).map(os.fsdecode),
    st.sampled_from(["\x1b[2J", "a\nb", "\u202e", " ", "-", ".hidden", "\\"]),
).filter(lambda name: name not in (".", "..") and len(os.fsencode(name)) <= 200)
suffixes = st.sampled_from([".png", ".PNG", ".jpg", ".jpeg", ".txt", ""])
#: Endings the folder takes as images, whatever the file holds (Pillow reads a PNG named .jpg).
IMAGE_SUFFIXES = (".png", ".PNG", ".jpg", ".jpeg")
entries = st.lists(
    st.tuples(st.one_of(st.none(), names), names, suffixes, st.sampled_from(KINDS)), min_size=1, max_size=6
)


def make(folder: Path, entries: list[tuple[str | None, str, str, str]]) -> set[str]:
    """Lay out ``entries`` (class folder or none, name, suffix, kind) in ``folder``; return the
    relative paths of the readable PNGs the dataset must read."""
    readable = set()
    for group, name, suffix, kind in entries:
        where = folder / group if group else folder
        if os.path.lexists(where) and not where.is_dir():  # a file already took the class's name
            continue
        where.mkdir(exist_ok=True)
        path = where / (name + suffix)
        if os.path.lexists(path):
            continue
        if kind == "png":
            path.write_bytes(PNG)
        elif kind in ("garbage", "empty"):
            path.write_bytes(b"\x89PNG garbage" if kind == "garbage" else b"")
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "link-to-dev-zero":
            path.symlink_to("/dev/zero")
        else:
            path.mkdir()
        hidden = any(part.startswith(".") for part in path.relative_to(folder).parts)
        if kind == "png" and suffix in IMAGE_SUFFIXES and not hidden:
            readable.add(path.relative_to(folder).as_posix())
    return readable


def reads_or_one_line(folder: Path, readable: set[str]) -> None:
    try:
        dataset = ImageFolder(ImageFolderParams(path=str(folder), image_size=4, held_out=0.0))
        images = dataset.load()
    except UserError as e:
        assert not readable, f"{sorted(readable)} readable, yet: {e}"
        assert not RAW_CONTROL.search(str(e)), repr(str(e))
        return
    assert images.shape == (len(readable), 3, 4, 4) and len(dataset) == len(readable)
    assert torch.all(images[:, 0] > 0.5)  # every image read is one of the red PNGs
    labels = dataset.load_labels()
    assert labels is None or (labels.shape == (len(readable),) and len(dataset.class_names) >= 2)


@given(entries=entries)
@example(entries=[(None, "caf\udce9", ".png", "png")])  # the file list's hash encoded the name strictly
@example(entries=[(None, "p", ".png", "fifo"), (None, "z", ".png", "link-to-dev-zero"), (None, "q", ".png", "png")])
def test_any_file_names_read_the_readable_pngs_or_fail_in_one_line(entries):
    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "images"
        folder.mkdir()
        reads_or_one_line(folder, make(folder, entries))
