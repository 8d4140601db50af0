"""Paths: where ganfw keeps files of its own outside a run directory, and the paths users give
(a recipe's, an option's), made and read so that whatever the user or the file system sends back
ends as a one-line :class:`~ganfw.errors.UserError`. This module must not import torch.

A path from a user is made with :func:`user_path` (a NUL byte is refused there: no OS call could
take it), echoed with :func:`shown` (escaped, shortened), and a small file it names (a recipe, a
run's log) is read with :func:`read_user_file`: only a regular file, or a pipe that has a writer
(``ganfw check <(cat r.toml)``), and only up to a size limit, so that a FIFO nobody writes to or
``/dev/zero`` is one line, never a hang or a machine's memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from ganfw.errors import UserError, printable

#: Paths longer than this many characters are shortened when a message shows them.
SHOWN_LENGTH = 160
#: The most bytes :func:`read_user_file` reads by default: far above any recipe, far below what
#: would strain memory.
TEXT_LIMIT = 1 << 20
#: Seconds a pipe may stay silent before :func:`read_user_file` gives up on it (a FIFO without a
#: writer never sends anything).
PIPE_WAIT_S = 5.0


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ganfw``, else ``~/.cache/ganfw`` (absolute): downloaded data, reference
    features, the precision probe's measurements."""
    return (Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "ganfw").absolute()


def resolve_data_root(root: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The data root a dataset is built with (absolute; a relative one is taken from the working
    directory) and where it came from: the recipe's ``data.root`` (``"data.root"``), else the
    ``GANFW_DATA`` environment variable, else ``user_cache_dir()/data`` (``"cache"``)."""
    if root is not None and str(root) != "":
        return user_path(root, "data.root").expanduser().absolute(), "data.root"
    env = os.environ.get("GANFW_DATA")
    if env:
        return Path(env).expanduser().absolute(), "GANFW_DATA"
    return user_cache_dir() / "data", "cache"


def shown(path: object) -> str:
    """``path`` (a ``str``, ``bytes`` or path-like) fit for a one-line message: control characters
    escaped, and the middle of a very long one left out (``/a/b...y/z (5000 characters)``)."""
    text = printable(os.fsdecode(path) if isinstance(path, (str, bytes, os.PathLike)) else str(path))
    if len(text) <= SHOWN_LENGTH:
        return text
    half = SHOWN_LENGTH // 2
    return f"{text[:half]}...{text[-half:]} ({len(text)} characters)"


def user_path(value: str | os.PathLike[str], what: str) -> Path:
    """``value``, a path a user gave (``what`` names where: ``"extends"``, ``"--out"``), as a
    :class:`~pathlib.Path`. A NUL byte, which no file name can hold and every OS call refuses,
    is a one-line :class:`UserError`; every other refusal comes from the OS when the path is
    used (see :func:`refused`)."""
    text = os.fsdecode(value)
    if "\0" in text:
        raise UserError(f"{what} {shown(text)}: a path cannot hold a NUL byte")
    return Path(text)


def refused(error: OSError, path: object = None) -> str:
    """``PATH: reason`` for an OS refusal (``File name too long``, ``Permission denied``,
    ``Too many levels of symbolic links``...): the path the error names, else ``path``."""
    named = error.filename if error.filename is not None else path
    reason = error.strerror or str(error)
    return f"{shown(named)}: {reason}" if named is not None else reason


def resolved(path: Path) -> Path:
    """``path`` made absolute with its symbolic links followed, as far as they lead: a loop of
    links or a missing part is left as it is (an OS call on the path then says what is wrong)."""
    return Path(os.path.realpath(path))


def read_user_file(path: str | os.PathLike[str], limit: int = TEXT_LIMIT) -> bytes:
    """The bytes of the file at ``path``: a regular file, or a pipe that has a writer (process
    substitution, ``/dev/stdin``), of at most ``limit`` bytes.

    Raises an ``OSError`` naming ``path`` whose ``strerror`` says why, for anything else: a
    device (``/dev/zero``), a directory, a socket, a pipe silent for :data:`PIPE_WAIT_S` (a FIFO
    nobody writes to), more than ``limit`` bytes, and whatever the OS refuses.
    """
    _refuse_kind(os.stat(path).st_mode, path, pipes=True)  # before opening: a device is never opened
    with _opened(path, os.O_RDONLY) as fd:
        mode = os.fstat(fd).st_mode
        _refuse_kind(mode, path, pipes=True)  # replaced since the stat above
        return _drain(fd, limit) if stat.S_ISFIFO(mode) else _read_regular(fd, limit)


def read_file_within(path: Path, folder: Path, limit: int) -> bytes:
    """The bytes of ``path``, a regular file inside ``folder`` (its parent folders resolved, the
    file itself not a symbolic link), of at most ``limit`` bytes: what a page meant to be shared
    may embed of a run directory (a link to a secret, a FIFO named like a sample grid are not).
    Raises an ``OSError`` naming ``path`` otherwise (``ELOOP``: "Too many levels of symbolic
    links", for a link)."""
    if not resolved(path.parent).is_relative_to(resolved(folder)):
        raise OSError(errno.EXDEV, f"is outside {shown(folder)}", str(path))
    with _opened(path, os.O_RDONLY | os.O_NOFOLLOW) as fd:
        _refuse_kind(os.fstat(fd).st_mode, path, pipes=False)
        return _read_regular(fd, limit)


@contextlib.contextmanager
def _opened(path: str | os.PathLike[str], flags: int) -> Iterator[int]:
    """A descriptor of ``path`` opened without blocking (a FIFO never waits for a writer),
    closed on the way out; an ``OSError`` inside that names no file is given ``path``."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        yield fd
    except OSError as e:
        if e.filename is None:
            raise OSError(e.errno, e.strerror, os.fsdecode(path)) from None
        raise
    finally:
        os.close(fd)


def _refuse_kind(mode: int, path: str | os.PathLike[str], pipes: bool) -> None:
    """An ``OSError`` naming ``path`` unless ``mode`` is a regular file's (or, with ``pipes``, a
    pipe's)."""
    if stat.S_ISREG(mode) or (pipes and stat.S_ISFIFO(mode)):
        return
    kinds = {
        stat.S_ISFIFO: "a pipe",
        stat.S_ISDIR: "a directory",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    kind = next((name for test, name in kinds.items() if test(mode)), "a socket")
    raise OSError(errno.EINVAL, f"is {kind}, not a file", os.fsdecode(path))


def _too_large(limit: int) -> OSError:
    return OSError(errno.EFBIG, f"larger than {limit:,} bytes, more than ganfw reads from such a file")


def _read_regular(fd: int, limit: int) -> bytes:
    os.set_blocking(fd, True)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise _too_large(limit)


def _drain(fd: int, limit: int) -> bytes:
    """Read a pipe opened without blocking until its writers close it. A FIFO nobody has opened
    for writing never reports an end (Linux hides it until a writer has come and gone), so
    silence for :data:`PIPE_WAIT_S` is the error."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + PIPE_WAIT_S
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            raise OSError(
                errno.ETIMEDOUT, f"nothing came through the pipe in {PIPE_WAIT_S:g} s (a FIFO without a writer?)"
            )
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:  # woken with nothing to read yet
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        deadline = time.monotonic() + PIPE_WAIT_S
