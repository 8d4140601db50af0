"""Contract checks for adversarial losses: their terms, statistics and state, called in an order
the engine never uses (G's loss first), so that a loss cannot lean on the order of calls."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

from ganfw.contracts import ImageShape, Loss
from ganfw.testing.contract import (
    check_gradients,
    check_log,
    check_scalar,
    check_tensor,
    devices,
    expect,
    seeded,
    through_json,
)
from ganfw.testing.penalties import check_penalties

#: Logit batches a loss must handle: name -> n -> logits (n,). Sigmoid losses written without the
#: stable ``softplus`` forms overflow on the extreme ones.
LOGITS: dict[str, Callable[[int], Tensor]] = {
    "typical logits": lambda n: torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3,
    "extreme logits": lambda n: torch.tensor([60.0, -60.0] * n)[:n],
    "zero logits": lambda n: torch.zeros(n),
}

#: The keys of :meth:`ganfw.contracts.Loss.statistics` (each a 0-dim tensor in [0, 1]).
STATISTICS = frozenset({"d_real", "d_fake", "acc_real", "acc_fake"})

#: The order the check calls the loss in: G's loss first (the engine calls D's first), each twice.
CALL_ORDER = ("g", "d", "g", "d")


def check_loss(loss: Loss, image_shape: ImageShape = (1, 28, 28)) -> None:
    """Check a built loss on every device.

    * it is a :class:`ganfw.contracts.Loss` whose ``g_needs_real`` is a bool;
    * called g, d, g, d on real (N,) and fake (M,) logits (N != M; typical, extreme +-60 and zero
      logits): ``g_loss(real or None, fake)`` (``None`` unless ``g_needs_real``) and
      ``d_loss(real, fake)`` return a finite scalar on the logits' device or a dict of them by
      name, whose sum has finite gradients reaching every logit batch it takes (D's: both;
      G's: the fakes); each call gives what the same call gives on a fresh copy loaded with the
      ``state_dict()`` the loss had (under the same seed): no caching between calls, no state
      outside ``state_dict()``;
    * ``statistics(real, fake)`` is exactly ``d_real``, ``d_fake``, ``acc_real``, ``acc_fake``, each
      a 0-dim tensor in [0, 1];
    * ``log()`` is a dict of finite numbers; ``state_dict()`` survives JSON and
      ``load_state_dict``;
    * each of ``penalties()`` keeps its contract (:func:`ganfw.testing.check_penalty`) on images
      of ``image_shape``.
    """
    expect(isinstance(loss, Loss), f"is a {type(loss).__name__}, not a ganfw.contracts.Loss")
    expect(isinstance(loss.g_needs_real, bool), f"g_needs_real is {loss.g_needs_real!r}, not a bool")
    pristine = copy.deepcopy(loss)
    for device in devices():
        for case, make in LOGITS.items():
            real, fake = make(5).to(device), make(7).to(device)
            _check_calls(pristine, real, fake, case)
            _check_statistics(copy.deepcopy(pristine), real, fake, case)
    check_penalties(copy.deepcopy(pristine), image_shape)


def _check_calls(pristine: Loss, real: Tensor, fake: Tensor, case: str) -> None:
    """Call a copy of the loss in :data:`CALL_ORDER`; replay each call on a fresh copy loaded with
    the state the loss had before it, and require the same terms."""
    loss = copy.deepcopy(pristine)
    calls = []
    for i, player in enumerate(CALL_ORDER):
        state = through_json(f"loss on {case}, before call {i + 1} ({', '.join(CALL_ORDER)})", loss.state_dict())
        calls.append((i, player, state, loss_terms(loss, player, real, fake, case)))
    for i, player, state, terms in calls:
        twin = copy.deepcopy(pristine)
        twin.load_state_dict(state)
        again = loss_terms(twin, player, real, fake, case)
        expect(
            again.keys() == terms.keys() and all(torch.equal(again[k], terms[k]) for k in terms),
            f"{player}_loss on {case}, call {i + 1} of {', '.join(CALL_ORDER)}, differs from the same call on a "
            "fresh loss loaded with the state_dict() it had: it depends on the order of calls or on state outside "
            "state_dict()",
        )
    check_log(f"loss on {case}", loss.log())
    final = through_json(f"loss on {case}", loss.state_dict())
    twin = copy.deepcopy(pristine)
    twin.load_state_dict(final)
    expect(twin.state_dict() == final, f"loss on {case}: a fresh loss loaded with state_dict() reports another state")


def loss_terms(loss: Loss, player: str, real: Tensor, fake: Tensor, case: str) -> dict[str, Tensor]:
    """Call ``d_loss`` (``player`` "d") or ``g_loss`` ("g") as the engine does, on copies of the
    logits that require gradients, under a fixed seed; check the value and its gradients; return
    its terms by name, detached."""
    real, fake = real.detach().clone().requires_grad_(True), fake.detach().clone().requires_grad_(True)
    name = f"{player}_loss on {case}"
    with seeded(0 if player == "g" else 1, real.device):
        if player == "d":
            value = loss.d_loss(real, fake)
        else:
            value = loss.g_loss(real.detach() if loss.g_needs_real else None, fake)
    terms = _terms(name, value, real.device)
    inputs = (real, fake) if player == "d" else (fake,)
    check_gradients(name, torch.stack(list(terms.values())).sum(), inputs, every=True)
    return {k: v.detach() for k, v in terms.items()}


def _terms(name: str, value: Any, device: torch.device) -> dict[str, Tensor]:
    """A loss value (a scalar, or named scalars) as a dict of terms, each checked."""
    if not isinstance(value, Mapping):
        check_scalar(name, value, device)
        return {"": value}
    expect(value, f"{name} returned an empty dict of terms")
    for key, term in value.items():
        expect(
            isinstance(key, str) and key and not any(c.isspace() or c == "/" for c in key),
            f"{name}: term name {key!r} is not a non-empty string without spaces or '/'",
        )
        check_scalar(f"{name}, term {key!r}", term, device)
    return dict(value)


def _check_statistics(loss: Loss, real: Tensor, fake: Tensor, case: str) -> None:
    stats = loss.statistics(real.clone().requires_grad_(True), fake.clone().requires_grad_(True))
    keys = sorted(stats) if isinstance(stats, dict) else stats
    expect(
        isinstance(stats, dict) and set(stats) == STATISTICS,
        f"statistics() on {case} returned {keys!r}, expected a dict with exactly {sorted(STATISTICS)}",
    )
    for key, value in stats.items():
        check_tensor(f"statistics()[{key!r}] on {case}", value, (), low=0.0, high=1.0)
