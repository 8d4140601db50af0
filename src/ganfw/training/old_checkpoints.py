"""Reading checkpoints of format 2 (ganfw 0.1.0): callbacks kept by position.

Format 2 keyed a callback's modules ``callbacks.<i>.<name as the recipe spelled it>.<module>.*``
and its state as the ``i``-th item of ``"callbacks"``, kept the loss's, schedule's and
augmentation's states under their own keys and the observers' under ``"observers"``, and saved
rank 0's random streams only (``extra.rng_cpu``, ``extra.rng_noise``, ``extra.rng_cuda``).
:func:`upgrade` renames all of it to the keys of format 3 (``callbacks.ema.*``, ``"parts"``,
``extra.rng.0.*``), so a run of 0.1.0 resumes exactly and samples under this release.
"""

from __future__ import annotations

import re
from typing import Any

from ganfw.checkpoint import Checkpoint, CorruptCheckpoint
from ganfw.training.parts import Parts

_CALLBACK_PREFIX = re.compile(r"^callbacks\.(\d+)\.[^.]+\.")
_STREAMS = {
    "extra.rng_cpu": "extra.rng.0.cpu",
    "extra.rng_noise": "extra.rng.0.noise",
    "extra.rng_cuda": "extra.rng.0.cuda",
}


def upgrade(ckpt: Checkpoint, parts: Parts) -> Checkpoint:
    """``ckpt`` as format 3 (unchanged if it is), its callbacks matched by position with the
    run's ``parts.callbacks`` (a recipe that resumes lists the same callbacks)."""
    if ckpt.state.get("format", 2) != 2:
        return ckpt
    keys = [part.key for part in parts.callbacks]
    state = dict(ckpt.state)
    saved = state.pop("callbacks")
    if len(saved) != len(keys):
        raise CorruptCheckpoint(f"the checkpoint holds {len(saved)} callback states for {len(keys)} callbacks")
    tensors = {_renamed(key, keys): value for key, value in ckpt.tensors.items()}
    part_states: dict[str, Any] = {"loss": state.pop("loss"), "schedule": state.pop("schedule")}
    augment = state.pop("augment")
    if parts.augment is not None:
        part_states["augment"] = augment
    part_states.update(zip(keys, saved))
    part_states.update({f"observers.{name}": s for name, s in state.pop("observers", {}).items()})
    state.update(parts=part_states, world=1, sampler=_renamed(state["sampler"] + ".", keys)[:-1])
    return Checkpoint(tensors, state, ckpt.recipe)


def _renamed(key: str, callbacks: list[str]) -> str:
    """A tensor key (or module prefix) of format 2 under its format-3 name."""
    if key in _STREAMS:
        return _STREAMS[key]
    match = _CALLBACK_PREFIX.match(key)
    if match is None or int(match.group(1)) >= len(callbacks):
        return key
    return f"{callbacks[int(match.group(1))]}." + key[match.end() :]
