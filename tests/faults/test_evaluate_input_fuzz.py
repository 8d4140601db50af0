"""Fault injection (issue 19), fuzzing what ``ganfw evaluate`` reads from a file of images:
``.npy`` and ``.pt`` arrays of random shapes, dtypes and values (NaN, infinities, out of range),
with labels of random shapes and dtypes beside them, other objects saved with ``torch.save``, PNG
pictures of random sizes and modes, PNG headers claiming absurd sizes, and random bytes under each
suffix. Reading returns images (N, C, H, W) float32 in [-1, 1] (and (N,) int64 labels), or raises
the one-line ``UserError`` naming the file, nothing else. The example counts come from the
hypothesis profile; every example found stays an ``@example``."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from PIL import Image

from ganfw.errors import UserError
from ganfw.evaluation.images import read_labelled_images
from ganfw.sampling import labels_path
from tests.faults.lines import RAW_CONTROL

#: The image shape (C, H, W) the files are read against.
SHAPE = (1, 8, 8)
DTYPES = ["uint8", "int8", "int32", "int64", "float16", "float32", "float64", "bool", "complex64"]
FILLS = ["in-range", "unit", "uint8-range", "nan", "inf", "huge", "zeros"]

#: Array shapes: the ones the reader takes (any N), and others near them.
shapes = st.one_of(
    st.integers(0, 4).map(lambda n: (n, *SHAPE)),
    st.integers(0, 4).map(lambda n: (n, *SHAPE[1:])),
    st.lists(st.integers(0, 9), min_size=0, max_size=5).map(tuple),
)


def fill(shape: tuple[int, ...], dtype: str, how: str, seed: int) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` filled ``how`` (from a seeded generator)."""
    rng = np.random.default_rng(seed)
    values = {
        "in-range": rng.uniform(-1, 1, shape),
        "unit": rng.uniform(0, 1, shape),
        "uint8-range": rng.integers(0, 256, shape),
        "nan": np.full(shape, np.nan),
        "inf": np.full(shape, -np.inf),
        "huge": np.full(shape, 1e30),
        "zeros": np.zeros(shape),
    }[how]
    with np.errstate(all="ignore"):
        return values.astype(dtype)


arrays = st.builds(fill, shapes, st.sampled_from(DTYPES), st.sampled_from(FILLS), st.integers(0, 2**16))


def png_header(width: int, height: int, depth: int, colour: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` pixels, with one tiny compressed row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 9)) + chunk(b"IEND", b"")
    )


def png_picture(width: int, height: int, mode: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


pngs = st.one_of(
    st.builds(png_picture, st.integers(1, 60), st.integers(1, 60), st.sampled_from(["L", "RGB", "RGBA", "P", "1"])),
    st.builds(
        png_header,
        st.integers(0, 2**31 - 1),
        st.integers(0, 2**31 - 1),
        st.sampled_from([1, 2, 4, 8, 16, 3]),
        st.sampled_from([0, 2, 3, 4, 6, 1]),
    ),
)


def pt_bytes(value: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


pt_values = st.one_of(
    arrays.map(torch.from_numpy),
    st.builds(lambda x, y: {"images": torch.from_numpy(x), "labels": torch.from_numpy(y)}, arrays, arrays),
    st.sampled_from([[1, 2], 3, "images", {"images": 1}, {"labels": torch.zeros(2)}, None]),
)
files = st.one_of(
    st.tuples(st.just(".npy"), arrays.map(lambda a: (a, None))),
    st.tuples(st.just(".npy"), st.tuples(arrays, arrays)),
    st.tuples(st.just(".pt"), pt_values.map(pt_bytes)),
    st.tuples(st.just(".png"), pngs),
    st.tuples(st.sampled_from([".npy", ".pt", ".png"]), st.binary(max_size=64)),
)


def write(folder: Path, suffix: str, content: object) -> Path:
    path = folder / f"images{suffix}"
    labels_path(path).unlink(missing_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:  # .npy: (images, labels or None)
        images, labels = content
        np.save(path, images)
        if labels is not None:
            np.save(labels_path(path), labels)
    return path


def reads_or_one_line(path: Path) -> None:
    try:
        images, labels = read_labelled_images(path, SHAPE)
    except UserError as e:
        named = str(e).startswith((f"{path}: ", f"{labels_path(path)}: "))  # the images or their labels
        assert named and not RAW_CONTROL.search(str(e)), repr(str(e))
        return
    assert images.dtype == torch.float32 and images.shape[1:] == SHAPE and len(images) > 0
    assert images.min() >= -1 and images.max() <= 1
    assert labels is None or (labels.dtype == torch.int64 and labels.shape == (len(images),) and labels.min() >= 0)


@given(file=files)
@example(file=(".png", png_header(60000, 60000, 8, 0)))  # found by this test: Pillow's DecompressionBombError
@example(file=(".pt", b"c\x80\x00"))  # found by this test: torch.load raised UnicodeDecodeError
@example(file=(".pt", b"t"))  # found by this test: torch.load raised IndexError
def test_random_files_to_evaluate_read_or_fail_in_one_line(tmp_path_factory, file):
    reads_or_one_line(write(tmp_path_factory.getbasetemp(), *file))
