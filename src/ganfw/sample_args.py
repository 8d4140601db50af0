"""The arguments of ``ganfw sample`` and ``ganfw interpolate``, checked before torch is imported:
a wrong suffix, a count out of range or a missing run directory is answered at once, not after
seconds of importing torch and loading a generator. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

from ganfw.atomic import check_target
from ganfw.errors import UserError
from ganfw.paths import shown

#: ``ganfw sample``'s outputs: an image grid, or the images themselves (.pt, .npy).
SAMPLE_FORMATS = (".png", ".jpg", ".jpeg", ".pt", ".npy")
#: The grids among them, by suffix: Pillow's name of the format.
GRID_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
#: ``ganfw interpolate``'s outputs: an animated GIF or a PNG strip.
WALK_FORMATS = (".gif", ".png")
#: GIF frame times are whole hundredths of a second: 50 frames a second is the most it can say.
MAX_FPS = 50


def check_format(out: Path, formats: tuple[str, ...]) -> None:
    """Refuse, in one line, an ``--out`` whose suffix is not one of ``formats``."""
    if out.suffix.lower() not in formats:
        raise UserError(f"--out {shown(out)}: unsupported format {out.suffix!r}; use one of {', '.join(formats)}")


def check_source(target: Path) -> None:
    """Refuse a ``target`` (a run directory or a checkpoint file) that does not exist."""
    if not target.exists():
        raise UserError(f"{shown(target)}: no such run directory or checkpoint")


def check_sample(target: Path, out: Path) -> None:
    """``ganfw sample``'s source and output: an existing run or checkpoint, an output format of
    :data:`SAMPLE_FORMATS`, an ``out`` that can be a file (``OSError`` otherwise)."""
    check_format(out, SAMPLE_FORMATS)
    check_source(target)
    check_target(out)


def check_walk(out: Path, n: int, keyframes: int, frames: int, fps: int) -> None:
    """``ganfw interpolate``'s output and counts, refused in one line: a format other than
    :data:`WALK_FORMATS`, counts out of range, an ``out`` that cannot be a file (``OSError``)."""
    check_format(out, WALK_FORMATS)
    for flag, value, least in (
        ("--n", n, 1),
        ("--keyframes", keyframes, 2),
        ("--frames", frames, 1),
        ("--fps", fps, 1),
    ):
        if value < least:
            raise UserError(f"{flag} {value}: must be at least {least}")
    if fps > MAX_FPS:
        raise UserError(
            f"--fps {fps}: a GIF shows at most {MAX_FPS} frames a second (its frame times are "
            "whole hundredths of a second)"
        )
    check_target(out)
