"""Where a checkpoint is written and read.

A checkpoint is ONE safetensors file, written atomically (temp file + rename), holding every
tensor of the training state - network weights and buffers (``generator.*``,
``discriminator.*``), optimiser moments (``optim.<net>.<param index>.<name>``), RNG states and
the fixed sample noise (``extra.*``) - and, in the file's metadata under ``"ganfw"``, a JSON
document with the rest: counters, schedule state, optimiser hyper-parameters, loss-scaler state
and the resolved recipe. A file is therefore self-contained: ``ganfw sample ckpt.safetensors``
needs nothing else.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ganfw.atomic import atomic_path
from ganfw.errors import UserError

#: The format written; :data:`READABLE`: the formats read (format 2 kept callbacks by position:
#: ganfw.training.old_checkpoints renames its keys).
FORMAT = 3
READABLE = (2, 3)

#: The JSON state of a training checkpoint: key -> the type(s) its value must have, by format.
_COMMON_STATE: dict[str, type | tuple[type, ...]] = {
    "step": int,
    "elapsed_s": (int, float),
    "steps_per_epoch": int,
    "image_shape": list,
    "scalers": dict,
    "updates": dict,
    "recipe": str,
    "optimizers": dict,
    "sampler": str,
}
_TRAINING_STATE: dict[int, dict[str, type | tuple[type, ...]]] = {
    2: {**_COMMON_STATE, "schedule": dict, "loss": dict, "augment": dict, "callbacks": list},
    3: {**_COMMON_STATE, "parts": dict, "world": int},
}
#: Tensors holding learned numbers (weights, buffers, optimiser moments): all must be finite.
_LEARNED = ("generator.", "discriminator.", "callbacks.", "optim.")
#: What Adam (every network's optimiser) keeps for each parameter it has stepped: the step count
#: and the two moments, each of the parameter's shape (``max_exp_avg_sq`` too with ``amsgrad``).
ADAM_STEP, ADAM_MOMENTS = "step", ("exp_avg", "exp_avg_sq")


class CorruptCheckpoint(UserError):
    """A checkpoint file that cannot be trusted; ``--resume`` falls back to an older one."""


_NAME = re.compile(r"^step_(\d{8,})\.safetensors$")


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}.safetensors"


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first (by step)."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: Path) -> Path | None:
    found = list_checkpoints(directory)
    return found[-1] if found else None


@dataclass
class Checkpoint:
    """The contents of a checkpoint file: ``tensors`` by key and the JSON ``state``."""

    tensors: dict[str, torch.Tensor]
    state: dict[str, Any]
    #: The embedded recipe as TOML tables (set by :func:`load_training_checkpoint`).
    recipe: dict[str, Any] | None = None

    def module_state(self, prefix: str) -> dict[str, torch.Tensor]:
        """The ``state_dict`` of the module saved under ``prefix`` (``"generator"``)."""
        head = prefix + "."
        return {k[len(head) :]: v for k, v in self.tensors.items() if k.startswith(head)}

    def optimizer_state(self, name: str) -> dict[str, Any]:
        """The ``state_dict`` of optimiser ``name``, tensors and hyper-parameters rejoined."""
        head = f"optim.{name}."
        per_param: dict[int, dict[str, Any]] = {}
        for key, value in self.tensors.items():
            if key.startswith(head):
                index, _, field = key[len(head) :].partition(".")
                per_param.setdefault(int(index), {})[field] = value
        saved = self.state["optimizers"][name]
        for index, scalars in saved["scalars"].items():
            per_param.setdefault(int(index), {}).update(scalars)
        return {"state": per_param, "param_groups": saved["param_groups"]}


def pack_optimizer(name: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Put the optimiser's tensors into ``tensors``; return its JSON part."""
    sd = optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, fields in sd["state"].items():
        for field, value in fields.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{name}.{index}.{field}"] = value
            else:
                scalars.setdefault(str(index), {})[field] = value
    return {"param_groups": sd["param_groups"], "scalars": scalars}


def save_checkpoint(
    path: Path,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    extra: dict[str, torch.Tensor],
    state: dict[str, Any],
) -> None:
    """Write a checkpoint atomically: a crash mid-write leaves any older file untouched."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v for k, v in module.state_dict().items()})
    state = dict(state, format=FORMAT, optimizers={n: pack_optimizer(n, o, tensors) for n, o in optimizers.items()})
    tensors.update({f"extra.{k}": v for k, v in extra.items()})
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata={"ganfw": json.dumps(state)})
        except SafetensorError as e:  # safetensors' own error for what the OS refused: a full disk
            raise os_error(e, tmp) from e


def os_error(error: SafetensorError, path: Path) -> OSError:
    """The ``OSError`` behind a failed safetensors write (``I/O error: No space left on device
    (os error 28)``), naming ``path``; ``EIO`` with safetensors' message when it names none."""
    found = re.search(r"os error (\d+)|code: (\d+)", str(error))
    if found is None:
        return OSError(errno.EIO, " ".join(str(error).split()), str(path))
    code = int(found.group(1) or found.group(2))
    return OSError(code, os.strerror(code), str(path))


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint; a missing, corrupt or foreign file is a one-line :class:`UserError`."""
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
        state = json.loads(meta["ganfw"])
    except (SafetensorError, OSError, ValueError, KeyError, RecursionError) as e:
        reason = (
            "no ganfw metadata" if isinstance(e, KeyError) else f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        )
        raise CorruptCheckpoint(f"{path}: not a readable ganfw checkpoint ({reason})") from None
    if not isinstance(state, dict):
        raise CorruptCheckpoint(
            f"{path}: corrupt checkpoint: its metadata is a JSON {type(state).__name__}, not an object"
        )
    if state.get("format") not in READABLE:
        raise UserError(
            f"{path}: checkpoint format {_brief(state.get('format'))} is not supported (this ganfw reads "
            f"{' and '.join(map(str, READABLE))})"
        )
    return Checkpoint(tensors, state)


def _brief(value: Any, length: int = 60) -> str:
    """``repr(value)``, cut to ``length`` characters: a value read from a file, for a message."""
    text = repr(value)
    return text if len(text) <= length else text[: length - 3] + "..."


def load_training_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint written by training and check what it holds: the metadata's types, a
    recipe that parses as TOML, finite weights and optimiser moments. Any fault is a one-line
    :class:`CorruptCheckpoint` naming the file."""
    ckpt = load_checkpoint(path)
    for key, kind in _TRAINING_STATE[ckpt.state["format"]].items():
        value = ckpt.state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CorruptCheckpoint(
                f"{path}: corrupt checkpoint: metadata {key!r} is {type(value).__name__}, "
                f"expected {getattr(kind, '__name__', 'a number')}"
            )
    shape = ckpt.state["image_shape"]
    if len(shape) != 3 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: image_shape {_brief(shape)} is not 3 positive integers")
    try:
        ckpt.recipe = tomllib.loads(ckpt.state["recipe"])
    except (tomllib.TOMLDecodeError, RecursionError) as e:
        reason = e if isinstance(e, tomllib.TOMLDecodeError) else "nested too deeply"
        raise CorruptCheckpoint(f"{path}: corrupt checkpoint: its embedded recipe is not TOML ({reason})") from None
    for key, tensor in ckpt.tensors.items():
        if key.startswith(_LEARNED) and tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CorruptCheckpoint(f"{path}: corrupt checkpoint: tensor {key} holds non-finite values (NaN or inf)")
    return ckpt


def load_module(module: nn.Module, ckpt: Checkpoint, prefix: str, path: Path) -> None:
    """Load the tensors saved under ``prefix`` into ``module``, every key and shape checked first
    (a missing, extra or wrong-shaped tensor is a :class:`CorruptCheckpoint` naming the file)."""
    saved, expected = ckpt.module_state(prefix), module.state_dict()
    missing, extra = sorted(expected.keys() - saved.keys()), sorted(saved.keys() - expected.keys())
    if missing or extra:
        what = f"lacks {prefix}.{missing[0]}" if missing else f"has an unexpected {prefix}.{extra[0]}"
        count = len(missing) + len(extra)
        raise CorruptCheckpoint(
            f"{path}: corrupt checkpoint: it {what}" + (f" (and {count - 1} more)" if count > 1 else "")
        )
    for key, tensor in expected.items():
        if saved[key].shape != tensor.shape or saved[key].dtype.is_floating_point != tensor.dtype.is_floating_point:
            raise CorruptCheckpoint(
                f"{path}: corrupt checkpoint: tensor {prefix}.{key} is {saved[key].dtype} "
                f"{tuple(saved[key].shape)}, the {prefix} of its recipe has {tensor.dtype} {tuple(tensor.shape)}"
            )
    module.load_state_dict(saved)


def check_optimizer(ckpt: Checkpoint, name: str, params: list[torch.Tensor], path: Path) -> dict[str, Any]:
    """The ``state_dict`` of optimiser ``name`` (Adam), checked against ``params``: each
    parameter's state it holds has the step count and every moment Adam reads, each a tensor of
    the parameter's shape (a :class:`CorruptCheckpoint` otherwise, so that ``--resume`` falls back
    to an older checkpoint rather than failing inside the optimiser's step)."""
    try:
        state = ckpt.optimizer_state(name)
        amsgrad = any(group.get("amsgrad") for group in state["param_groups"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise CorruptCheckpoint(
            f"{path}: corrupt checkpoint: optimiser {name!r} state unreadable ({type(e).__name__}: {e})"
        ) from None
    moments = (*ADAM_MOMENTS, "max_exp_avg_sq") if amsgrad else ADAM_MOMENTS
    for index, fields in state["state"].items():
        if not 0 <= index < len(params):
            raise CorruptCheckpoint(
                f"{path}: corrupt checkpoint: optim.{name}.{index} is the state of a parameter "
                f"the {name} does not have (it has {len(params)})"
            )
        missing = [field for field in (ADAM_STEP, *moments) if field not in fields]
        if missing:
            raise CorruptCheckpoint(f"{path}: corrupt checkpoint: it lacks optim.{name}.{index}.{missing[0]}")
        for field in moments:
            value = fields[field]
            if not isinstance(value, torch.Tensor) or value.shape != params[index].shape:
                raise CorruptCheckpoint(
                    f"{path}: corrupt checkpoint: optim.{name}.{index}.{field} does not match "
                    f"the {name}'s parameter {index}"
                )
    return state


def prune_checkpoints(directory: Path, keep: int) -> None:
    """Delete all but the ``keep`` newest checkpoints."""
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
