"""Atomic file writes: write to a temporary file beside the target, then rename over it.

A reader (or a run killed half-way) sees either the old file or the new one, never a torn one.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it is given the mode a plain ``open`` would
    (0666 less the umask), fsync'd and renamed to ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched. An ``OSError``
    about the temporary file, or about no file (a write that failed: a full disk, a file size
    limit), is raised naming ``path``.
    """
    path = Path(path)
    check_target(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:  # a read-only or full file system, no permission
        raise naming(e, path) from None
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fchmod(f.fileno(), 0o666 & ~current_umask())  # mkstemp made it 0600
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename in (None, tmp):
            raise naming(e, path) from e
        raise


def naming(error: OSError, path: Path) -> OSError:
    """``error`` (of its own type) about ``path``, the file the user asked for, rather than the
    temporary file beside it. A writer that gave no reason (numpy's ``1000 requested and 218
    written``) wrote short: its reason is said to be that."""
    if error.strerror is None:
        return OSError(errno.EIO, f"could not be written whole ({error}; is the disk full?)", str(path))
    return type(error)(error.errno, error.strerror, str(path))


def check_target(path: Path) -> None:
    """Make sure ``path`` can be written as a file: create its folder; a directory at ``path``
    or a file in the way of its folder is an ``OSError`` naming it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in reversed(path.parents) if os.path.lexists(p) and not p.is_dir()), path.parent)
        what = "is a file" if blocker.exists() else "is a symbolic link that leads nowhere (or in a loop)"
        raise NotADirectoryError(errno.ENOTDIR, f"{what}, not a directory", str(blocker)) from None
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))


def current_umask() -> int:
    """This process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str | Path, data: bytes | memoryview) -> None:
    """Atomically replace ``path`` with ``data``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | Path, text: str) -> None:
    """Atomically replace ``path`` with ``text`` (UTF-8)."""
    write_bytes(path, text.encode("utf-8"))
