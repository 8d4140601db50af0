"""What an image folder holds, before any image is decoded: its image files, their classes, the
held-out share and the folder's key. Nothing here opens an image."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from ganfw.plugin import UserError

#: File name endings taken as images (any case).
SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Listing:
    """The image files of a folder.

    Attributes:
        folder: the folder, resolved (absolute, symlinks followed).
        files: the image files' paths relative to ``folder`` (POSIX separators), sorted.
        labels: one class index per file, or -1 for each when unlabelled.
        class_names: the class sub-folders' names, sorted; empty when unlabelled.
    """

    folder: Path
    files: tuple[str, ...]
    labels: tuple[int, ...]
    class_names: tuple[str, ...]

    @property
    def key(self) -> str:
        """``image-folder-`` and 8 hex digits of a hash of the folder and its file list: the same
        folder with the same files has the same key, on every machine that mounts it there."""
        digest = hashlib.sha256(os.fsencode("\n".join((str(self.folder), *self.files)))).hexdigest()
        return f"image-folder-{digest[:8]}"


def resolve_folder(path: str) -> Path:
    """The recipe's ``data.params.path`` as an existing folder (resolved: absolute, links
    followed), or a one-line error, also when the OS refuses to look (a name too long, a loop of
    links, no permission)."""
    if not path.strip():
        raise UserError("image-folder needs data.params.path: the folder of your PNG/JPEG images")
    try:
        folder = Path(os.path.realpath(Path(path).expanduser()))
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise UserError(f"image folder {folder} {what} (data.params.path = {path!r})")
        os.listdir(folder)
    except (OSError, ValueError) as e:  # ValueError: a NUL byte
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise UserError(f"image folder {path!r} cannot be read: {reason} (data.params.path)") from None
    return folder


def list_folder(folder: Path, labelled: bool) -> Listing:
    """The PNG/JPEG files below ``folder`` (recursively, following links to folders once; names
    starting with ``.`` skipped). When ``labelled``, every file sits in a first-level sub-folder
    and there are at least two, the sub-folders are the classes; otherwise the files are
    unlabelled. Raises a :class:`UserError` when there is none."""
    files = tuple(sorted(_image_files(folder)))
    if not files:
        raise UserError(f"no PNG or JPEG images in {folder} (searched recursively; data.params.path)")
    classes = sorted({f.split("/", 1)[0] for f in files})
    if not labelled or len(classes) < 2 or any("/" not in f for f in files):
        return Listing(folder, files, (-1,) * len(files), ())
    index = {name: i for i, name in enumerate(classes)}
    return Listing(folder, files, tuple(index[f.split("/", 1)[0]] for f in files), tuple(classes))


def _image_files(folder: Path) -> list[str]:
    found, seen = [], set()
    for directory, subdirectories, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:  # a link back up the tree: walk each folder once
            subdirectories[:] = []
            continue
        seen.add(real)
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        relative = Path(directory).relative_to(folder)
        found += [(relative / n).as_posix() for n in names if _is_image_file(directory, n)]
    return found


def _is_image_file(directory: str, name: str) -> bool:
    """Whether ``name`` in ``directory`` is taken as an image: not hidden, a PNG/JPEG ending, a
    regular file (or a link to one: a FIFO or a device of that name is never opened)."""
    return (
        not name.startswith(".") and name.lower().endswith(SUFFIXES) and os.path.isfile(os.path.join(directory, name))
    )


def split(listing: Listing, fraction: float) -> tuple[list[int], list[int]]:
    """(training, held-out) indices into ``listing.files``, each in a fixed pseudo-random order
    (by a hash of the file's relative path). Each class gives its first ``round(fraction * n)``
    files in that order, keeping at least one for training, to the held-out part: the split
    depends only on the file names, and adding a file moves at most one other."""
    order = sorted(range(len(listing.files)), key=lambda i: hashlib.sha256(os.fsencode(listing.files[i])).digest())
    held = []
    for label in sorted(set(listing.labels)):
        members = [i for i in order if listing.labels[i] == label]
        held += members[: min(len(members) - 1, int(fraction * len(members) + 0.5))]
    held_set = set(held)
    return [i for i in order if i not in held_set], [i for i in order if i in held_set]
