"""``ganfw sample``: images from a trained generator (a run directory or a checkpoint file).

A class-conditional generator draws images of one class (``--label 7``), a grid with one column
per class (``--label all``), or classes drawn uniformly (no ``--label``); its ``.npy``/``.pt``
outputs carry the labels too (see :func:`write_images`).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganfw import artifacts
from ganfw.atomic import atomic_path, write_bytes
from ganfw.checkpoint import Checkpoint, CorruptCheckpoint, latest_checkpoint, load_module, load_training_checkpoint
from ganfw.contracts import Generator
from ganfw.errors import UserError
from ganfw.plugins import Registry
from ganfw.recipe import Recipe, Tables, validate
from ganfw.rundir import RunDir
from ganfw.sample_args import GRID_FORMATS, SAMPLE_FORMATS, check_source

#: The ``--label`` that asks for every class, one column each.
ALL_CLASSES = "all"


def checkpoint_of(target: Path) -> Path:
    """``target`` itself if it is a file, else the newest checkpoint of the run directory."""
    if target.is_dir():
        path = latest_checkpoint(RunDir(target).checkpoints)
        if path is None:
            raise UserError(f"{target}: no checkpoints in this run directory")
        return path
    check_source(target)
    return target


@dataclass(frozen=True)
class SavedGenerator:
    """A generator rebuilt from a checkpoint.

    Attributes:
        generator: in eval mode; ``generator.num_classes`` is ``K`` > 0 when it is conditional.
        class_names: the training dataset's class names (empty for an unlabelled dataset or a
            checkpoint written before labels existed).
        path: the checkpoint file.
        recipe: the recipe stored with it (evaluation rebuilds the dataset from it).
    """

    generator: Generator
    class_names: tuple[str, ...]
    path: Path
    recipe: Recipe


def _labelling(ckpt: Checkpoint, path: Path) -> tuple[int, tuple[str, ...], str]:
    """``num_classes``, ``class_names`` and ``sampler`` (the tensor prefix of the generator to
    sample) from the checkpoint's JSON state; older checkpoints lack them: 0, (), "generator"."""
    k, names, prefix = (
        ckpt.state.get(key, default)
        for key, default in (("num_classes", 0), ("class_names", []), ("sampler", "generator"))
    )
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: metadata 'num_classes' is {k!r}, not a count")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) not in (0, k):
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: metadata 'class_names' is not a list of {k} names")
    if not isinstance(prefix, str) or not prefix:
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: metadata 'sampler' is {prefix!r}, not a tensor prefix")
    return k, tuple(names), prefix


def load_saved(target: Path, registry: Registry, device: str = "cpu") -> SavedGenerator:
    """The sampling generator saved in ``target`` (the one a callback such as an EMA provides,
    else G), rebuilt from the recipe stored with it, with the dataset's class names."""
    path = checkpoint_of(target)
    ckpt = load_training_checkpoint(path)  # metadata types, TOML recipe, finite weights
    recipe = validate(Tables(path, ckpt.recipe or {}, {}, {}), registry)
    num_classes, class_names, prefix = _labelling(ckpt, path)
    context: dict[str, Any] = {"image_shape": tuple(ckpt.state["image_shape"])}
    if recipe.generator.conditional:
        if not num_classes:
            raise CorruptCheckpoint(
                f"{path}: corrupt checkpoint: its generator is conditional but it records no classes "
                "(metadata 'num_classes')"
            )
        context["num_classes"] = num_classes
    generator = recipe.generator.build(**context)
    load_module(generator, ckpt, prefix, path)
    return SavedGenerator(generator.to(device).eval(), class_names, path, recipe)


def load_generator(target: Path, registry: Registry, device: str = "cpu") -> Generator:
    """The sampling generator saved in ``target``, in eval mode (see :func:`load_saved`)."""
    return load_saved(target, registry, device).generator


def check_count(n: int, image_shape: tuple[int, ...], what: str = "--n") -> None:
    """Refuse ``n`` images of ``image_shape`` that could not fit in half the machine's memory."""
    need = n * math.prod(image_shape) * 4 * 2  # float32 images, and their copy when written
    try:
        have = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if need > have // 2:
        raise UserError(
            f"{what} {n}: {n} images of shape {tuple(image_shape)} need {need / 2**30:.1f} GiB; "
            f"this machine has {have / 2**30:.1f} GiB (draw fewer)"
        )


@dataclass(frozen=True)
class Samples:
    """Images drawn from a generator.

    Attributes:
        images: (n, C, H, W) float32 in [-1, 1], on the CPU.
        labels: (n,) int64, the classes the images were drawn for (``None`` from an
            unconditional generator).
        class_names: the names of the classes ``labels`` index (empty without labels, or when the
            checkpoint records none).
    """

    images: torch.Tensor
    labels: torch.Tensor | None
    class_names: tuple[str, ...] = ()

    def save(self, out: str | os.PathLike[str], columns: int | None = None) -> Path:
        """Write the samples as ``ganfw sample`` does (:func:`write_images`): ``.png``/``.jpg`` a
        grid of ``columns`` (default square-ish), ``.pt``/``.npy`` the images and their labels. Returns
        the path written."""
        path = Path(out)
        write_images(self.images, path, self.labels, columns, self.class_names)
        return path


@torch.no_grad()
def draw(
    generator: Generator,
    n: int,
    seed: int,
    labels: torch.Tensor | None = None,
    batch: int = 1000,
    source: str = "the generator",
) -> Samples:
    """``n`` images from noise seeded by ``seed``: ``generator(z)``, or ``generator(z, labels)``
    for a conditional one, whose ``labels`` (n,) are drawn uniformly (``sample_labels``, from
    the same seeded stream, after the noise) when not given.

    An ``n`` too large for memory, or images with NaN/inf values, are a one-line
    :class:`UserError` naming ``source`` (the checkpoint, for the CLI).
    """
    check_count(n, tuple(generator.image_shape))
    rng = torch.Generator(next(generator.parameters()).device).manual_seed(seed)
    z, labels = noise(generator, n, rng, labels)
    images = render(generator, z, labels, batch, source)
    return Samples(images, None if labels is None else labels.to("cpu", torch.int64))


def noise(
    generator: Generator, n: int, rng: torch.Generator, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """What :func:`draw` feeds ``generator``, from ``rng``, on the generator's device: the
    latents (n, Z) (drawn at once: the same noise for any batch) and the labels (n,):
    ``labels`` when given, else uniform ones drawn after the noise for a conditional generator,
    else ``None``."""
    device = next(generator.parameters()).device
    z = generator.sample_latent(n, device=device, generator=rng)
    if generator.num_classes and labels is None:
        labels = generator.sample_labels(n, device=device, generator=rng)
    return z, labels


@torch.no_grad()
def render(
    generator: Generator,
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    batch: int = 1000,
    source: str = "the generator",
) -> torch.Tensor:
    """The images (n, C, H, W) in [-1, 1], on the CPU, that ``generator`` makes of the latents
    ``z`` (n, ...) on its device, ``batch`` at a time; a conditional generator needs ``labels``
    (n,), an unconditional one refuses them. NaN/inf images are a one-line :class:`UserError`
    naming ``source``."""
    n, device = len(z), next(generator.parameters()).device
    if not generator.num_classes:
        if labels is not None:
            raise ValueError("labels were given for an unconditional generator")
        images = torch.cat([generator(chunk).float().cpu() for chunk in z.split(batch)])
    else:
        if labels is None or labels.shape != (n,):
            raise ValueError(f"expected labels of shape ({n},), got {None if labels is None else tuple(labels.shape)}")
        labels = labels.to(device=device, dtype=torch.int64)
        images = torch.cat([generator(zs, ys).float().cpu() for zs, ys in zip(z.split(batch), labels.split(batch))])
    bad = (~torch.isfinite(images)).flatten(1).any(1).sum().item()
    if bad:
        raise UserError(f"{source}: the generator produced non-finite values (NaN or inf) in {bad} of {n} images")
    return images.clamp(-1, 1)


def generate(
    generator: Generator,
    n: int,
    seed: int,
    labels: torch.Tensor | None = None,
    batch: int = 1000,
    source: str = "the generator",
) -> torch.Tensor:
    """The images (n, C, H, W) of :func:`draw` (``labels``: (n,) int64 for a conditional
    generator, uniform when ``None``)."""
    return draw(generator, n, seed, labels, batch, source).images


def class_index(text: str, saved: SavedGenerator, option: str = "--label") -> int:
    """The class ``--label text`` names: an index 0..K-1 or one of the class names (``option``:
    how errors name the argument)."""
    k, names = saved.generator.num_classes, saved.class_names
    stripped = text.strip()
    if stripped.lstrip("+-").isdigit():
        if 0 <= int(stripped) < k:
            return int(stripped)
    elif stripped in names:
        return names.index(stripped)
    shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    named = f", a class name ({shown})" if names else ""
    raise UserError(
        f"{option} {text}: not a class of the generator in {saved.path}; "
        f"use a class index 0..{k - 1}{named} or {ALL_CLASSES!r}"
    )


def labels_for(
    label: str | None, n: int, saved: SavedGenerator, option: str = "--label"
) -> tuple[torch.Tensor | None, int | None]:
    """The labels (n',) that ``--label`` asks for and the columns of its PNG grid (``None``:
    square-ish). ``all``: n rounded up to a multiple of K, row after row of classes 0..K-1, K
    columns. No ``--label``: ``None`` (uniform classes, from :func:`draw`). ``option``: how
    errors name the argument."""
    k = saved.generator.num_classes
    if label is None:
        return None, None
    if not k:
        raise UserError(
            f"{option} {label}: the generator in {saved.path} is not conditional "
            f"(it draws no particular class); leave {option} out"
        )
    if label.strip() == ALL_CLASSES:
        return torch.arange(k).repeat(math.ceil(n / k)), k
    return torch.full((n,), class_index(label, saved, option), dtype=torch.int64), None


def draw_saved(
    saved: SavedGenerator, n: int, seed: int, label: str | None, option: str = "--label"
) -> tuple[Samples, int | None]:
    """``n`` images from ``saved``'s generator for ``label`` (see :func:`labels_for`: a class,
    ``all``, or ``None`` for uniform classes), with the class names of their labels, and the
    columns of their PNG grid (``None``: square-ish)."""
    labels, columns = labels_for(label, n, saved, option)
    samples = draw(saved.generator, n if labels is None else len(labels), seed, labels, source=str(saved.path))
    return replace(samples, class_names=saved.class_names if samples.labels is not None else ()), columns


def labels_path(out: Path) -> Path:
    """Where the labels of a ``.npy`` output go: ``sevens.npy`` -> ``sevens.labels.npy``."""
    return out.with_suffix(".labels.npy")


def write_images(
    images: torch.Tensor,
    out: Path,
    labels: torch.Tensor | None = None,
    columns: int | None = None,
    class_names: tuple[str, ...] = (),
) -> None:
    """Save (N, C, H, W) images: ``.png``, ``.jpg`` or ``.jpeg`` as a grid of ``columns``
    (default square-ish), ``.pt``/``.npy`` as float32. With ``labels`` (N,): ``.pt`` holds a
    dict ``{"images", "labels", "class_names"}``, ``.npy`` gets the labels (int64) in
    :func:`labels_path` (which is removed when there are none)."""
    suffix = out.suffix.lower()
    if suffix in GRID_FORMATS:
        nrow = columns or math.ceil(math.sqrt(len(images)))
        artifacts.save_grid(images, out, nrow=nrow, image_format=GRID_FORMATS[suffix])
    elif suffix == ".pt":
        value: Any = images.contiguous()
        if labels is not None:
            value = {"images": value, "labels": labels.to(torch.int64), "class_names": list(class_names)}
        buffer = io.BytesIO()  # torch.save reports a full disk as a RuntimeError: write the bytes ourselves
        torch.save(value, buffer)
        write_bytes(out, buffer.getbuffer())
    elif suffix == ".npy":
        _save_npy(images.numpy().astype(np.float32), out)
        if labels is not None:
            _save_npy(labels.numpy().astype(np.int64), labels_path(out))
        else:  # an older sample's labels would be read as these images' (ganfw evaluate)
            labels_path(out).unlink(missing_ok=True)
    else:
        raise UserError(f"{out}: unsupported output format {out.suffix!r}; use one of {', '.join(SAMPLE_FORMATS)}")


def _save_npy(array: np.ndarray, out: Path) -> None:
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def sample_to_file(target: Path, registry: Registry, *, n: int, out: Path, seed: int, label: str | None) -> str:
    """``ganfw sample``: draw from the generator saved in ``target`` and write ``out``; returns
    the line to print (how many images, of which classes, where)."""
    samples, columns = draw_saved(load_saved(target, registry), n, seed, label)
    samples.save(out, columns)
    count = len(samples.images)
    what = f"{count} images"
    if columns:
        what += f" ({count // columns} of each of the {columns} classes, one column each)"
    elif label is not None:
        what += f" of class {label}"
    elif samples.labels is not None:
        what += " of classes drawn uniformly"
    where = f" (labels in {labels_path(out)})" if samples.labels is not None and out.suffix.lower() == ".npy" else ""
    return f"wrote {what} to {out}{where}"
