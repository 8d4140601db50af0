"""Fault injection (issue 19), checkpoint metadata fuzzing: a checkpoint whose ``"ganfw"`` metadata
is random JSON (any document, or a training state with some of its values replaced by random
ones, or text that is no JSON at all). ``load_checkpoint`` and ``load_training_checkpoint`` only
ever return the checkpoint or raise the one-line ``UserError`` naming the file, never anything
else. The example counts come from the hypothesis profile; every example found stays an
``@example``."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from hypothesis import example, given
from hypothesis import strategies as st
from safetensors.torch import save_file

from ganfw.checkpoint import FORMAT, Checkpoint, load_checkpoint, load_training_checkpoint
from ganfw.errors import UserError
from tests.faults.lines import RAW_CONTROL

#: A training state as training writes it (the values' types are what the load checks want).
STATE = {
    "format": FORMAT,
    "step": 4,
    "elapsed_s": 1.5,
    "steps_per_epoch": 2,
    "image_shape": [1, 28, 28],
    "scalers": {},
    "updates": {"d": 4, "g": 4},
    "recipe": '[generator]\nname = "mlp"\n',
    "optimizers": {},
    "sampler": "generator",
    "parts": {"schedule": {}, "loss": {}, "callbacks": {}},
    "world": 1,
}
TENSORS = {"generator.weight": torch.ones(2, 3), "optim.generator.0.exp_avg": torch.zeros(2, 3)}

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),  # NaN and infinities too: json writes them as NaN, Infinity
        st.text(max_size=20),
        st.sampled_from(["", "\x00", "\x1b[2J", "[generator\n", "a = " + "[" * 3000]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=16,
)
#: A training state with some keys replaced by random values (or removed: ``None`` drops it).
damaged_states = st.dictionaries(st.sampled_from(sorted(STATE)), st.one_of(st.none(), json_values), max_size=4).map(
    lambda changes: {k: v for k, v in {**STATE, **changes}.items() if changes.get(k, v) is not None}
)
metadata = st.one_of(
    json_values.map(json.dumps),
    damaged_states.map(json.dumps),
    st.text(max_size=40),
    st.sampled_from(["[" * 100_000, '{"format": 2, "x": ' + "[" * 100_000]),
)


def write(path: Path, text: str) -> Path:
    save_file(TENSORS, str(path), metadata={"ganfw": text})
    return path


def loads_or_one_line(path: Path) -> None:
    """Both loaders return a Checkpoint or raise a UserError of one line naming ``path``."""
    for load in (load_checkpoint, load_training_checkpoint):
        try:
            assert isinstance(load(path), Checkpoint)
        except UserError as e:
            message = str(e)
            assert message.startswith(f"{path}: ") and not RAW_CONTROL.search(message), repr(message)


@given(text=metadata)
@example(text="[" * 100_000)  # json.loads raised RecursionError (before issue 19)
@example(text=json.dumps({**STATE, "recipe": "a = " + "[" * 3000}))  # and so did tomllib.loads
def test_random_checkpoint_metadata_loads_or_fails_in_one_line(tmp_path_factory, text):
    loads_or_one_line(write(tmp_path_factory.getbasetemp() / "step_00000004.safetensors", text))


def test_the_untouched_state_loads(tmp_path):
    ckpt = load_training_checkpoint(write(tmp_path / "c.safetensors", json.dumps(STATE)))
    assert ckpt.recipe == {"generator": {"name": "mlp"}} and ckpt.state["step"] == 4
