"""What every check in :mod:`ganfw.testing` shares: the error it raises and the tensor tests."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor


class ContractError(AssertionError):
    """A component breaks a promise of :mod:`ganfw.contracts`.

    The message names the component and the promise. It is an ``AssertionError``, so pytest
    reports it as a plain test failure.
    """


def expect(condition: Any, message: str) -> None:
    """Raise :class:`ContractError` with ``message`` unless ``condition`` holds."""
    if not condition:
        raise ContractError(message)


@contextlib.contextmanager
def about(label: str) -> Iterator[None]:
    """Prefix the message of a :class:`ContractError` raised inside with ``label``; any other
    exception (the component crashed) gets ``label`` as a note, keeping its traceback."""
    try:
        yield
    except ContractError as e:
        raise ContractError(f"{label}: {e}") from None
    except Exception as e:
        e.add_note(f"(while checking {label})")
        raise


def check_tensor(
    name: str,
    value: Any,
    shape: tuple[int, ...],
    *,
    dtype: torch.dtype | None = None,
    low: float | None = None,
    high: float | None = None,
) -> None:
    """``value`` is a tensor of ``shape`` (and ``dtype``), every entry finite and in [low, high]."""
    expect(isinstance(value, Tensor), f"{name} is a {type(value).__name__}, not a tensor")
    expect(tuple(value.shape) == tuple(shape), f"{name} has shape {tuple(value.shape)}, expected {tuple(shape)}")
    if dtype is not None:
        expect(value.dtype == dtype, f"{name} has dtype {value.dtype}, expected {dtype}")
    expect(bool(torch.isfinite(value).all()), f"{name} has non-finite values")
    if value.numel() == 0:
        return
    if low is not None:
        expect(value.min().item() >= low, f"{name} goes below {low} (min {value.min().item():.6g})")
    if high is not None:
        expect(value.max().item() <= high, f"{name} goes above {high} (max {value.max().item():.6g})")


def check_scalar(name: str, value: Any, device: torch.device) -> None:
    """``value`` is a finite floating-point scalar tensor (shape ``()``) on ``device``."""
    check_tensor(name, value, ())
    expect(value.is_floating_point(), f"{name} has dtype {value.dtype}, expected a floating-point scalar")
    expect(value.device.type == device.type, f"{name} is on {value.device}, expected {device}")


def check_gradients(what: str, value: Tensor, inputs: Sequence[Tensor], *, every: bool) -> None:
    """The gradients of ``value`` (named ``what``) with respect to ``inputs`` are finite; ``every``:
    each input gets one, else at least one does. The graph of ``value`` is kept."""
    expect(value.requires_grad, f"{what} does not depend on its inputs (detached?)")
    grads = torch.autograd.grad(value, inputs, allow_unused=True, retain_graph=True)
    present = [g for g in grads if g is not None]
    if every:
        expect(len(present) == len(grads), f"{what}: some of its inputs get no gradient (detached?)")
    else:
        expect(present, f"{what}: none of its inputs gets a gradient")
    expect(all(bool(torch.isfinite(g).all()) for g in present), f"{what}: non-finite gradients")


def is_finite_number(value: Any) -> bool:
    """An int or float (not a bool) that is finite: what metrics.jsonl can hold."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def devices() -> list[torch.device]:
    """Where components must run: the CPU always, CUDA when available."""
    return [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


def random_images(n: int, image_shape: tuple[int, ...], seed: int = 0) -> Tensor:
    """(n, C, H, W) float32 uniform in [-1, 1], the same for a given seed."""
    rng = torch.Generator().manual_seed(seed)
    return torch.rand(n, *image_shape, generator=rng) * 2 - 1


def check_log(where: str, log: Any) -> None:
    """``log`` (what a ``log()`` returned) is a dict of finite numbers by name: what
    metrics.jsonl can hold."""
    expect(
        isinstance(log, dict) and all(isinstance(k, str) and is_finite_number(v) for k, v in log.items()),
        f"{where}: log() returned {log!r}, not a dict of finite numbers by name",
    )


def through_json(where: str, state: Any) -> dict[str, Any]:
    """``state`` (what a ``state_dict()`` returned) after a JSON round trip, which checkpoints
    put it through: it must be a dict that JSON keeps unchanged."""
    expect(isinstance(state, dict), f"{where}: state_dict() returned {type(state).__name__}, not a dict")
    try:
        text = json.dumps(state)
    except (TypeError, ValueError) as e:
        raise ContractError(f"{where}: state_dict() is not JSON-serialisable: {e}") from None
    restored = json.loads(text)
    expect(restored == state, f"{where}: state_dict() {state!r} changes through JSON (tuples? non-str keys?)")
    return restored


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Run the block with torch's global generators (the CPU's and ``device``'s) seeded with
    ``seed``, and restore them afterwards: a component's randomness is then repeatable."""
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
