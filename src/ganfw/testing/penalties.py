"""Contract checks for penalties (``Loss.penalties()``), on probe networks."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from ganfw.contracts import ImageShape, Loss, Penalty, PenaltyInputs, Stateful
from ganfw.testing.contract import check_gradients, check_scalar, devices, expect, random_images, seeded
from ganfw.testing.probes import PROBE_LATENT_DIM, ProbeDiscriminator, ProbeGenerator

#: Batch size and class count of the probe inputs (labels 0, 1, 2, 0).
_BATCH, _CLASSES = 4, 3


def check_penalties(loss: Loss, image_shape: ImageShape = (1, 28, 28)) -> None:
    """``loss.penalties()`` is a list of :class:`ganfw.contracts.Penalty` with distinct names,
    each keeping its contract (:func:`check_penalty`; a penalty's state, such as a running mean,
    may live in the loss's ``state_dict``)."""
    penalties = loss.penalties()
    expect(isinstance(penalties, (list, tuple)), f"penalties() returned {type(penalties).__name__}, not a list")
    names = [getattr(p, "name", None) for p in penalties]
    expect(len(set(names)) == len(names), f"penalties() has names {names!r}, not distinct")
    for penalty in penalties:
        check_penalty(penalty, image_shape, state_of=loss)


def check_penalty(penalty: Penalty, image_shape: ImageShape = (1, 28, 28), state_of: Stateful | None = None) -> None:
    """Check one penalty on every device.

    * it is a :class:`ganfw.contracts.Penalty` whose ``name`` is a non-empty string, ``player``
      ``"d"`` or ``"g"`` and ``every`` an int >= 1;
    * called with :class:`ganfw.contracts.PenaltyInputs` from a probe D and G on images of
      ``image_shape``, unlabelled and labelled (D called as ``D(images, labels)``, as the step
      does), it returns a finite scalar on the images' device that gives the parameters of its
      player's network (D's or G's) finite gradients, leaves its inputs untouched, and gives the
      same value when called again under the same seed - after ``state_of`` (the loss that saves
      the penalty's state in its ``state_dict``, if any) is given back the state it had before
      the first call;
    * a penalty that ``needs_labels`` raises ``ValueError`` on the unlabelled batch instead.
    """
    expect(isinstance(penalty, Penalty), f"penalty {penalty!r} is a {type(penalty).__name__}, not a Penalty")
    name = getattr(penalty, "name", None)
    expect(
        isinstance(name, str) and name and " " not in name and "/" not in name,
        f"penalty name {name!r} is not a non-empty string without spaces or '/'",
    )
    who = f"penalty {name!r}"
    expect(penalty.player in ("d", "g"), f"{who}: player is {penalty.player!r}, expected 'd' or 'g'")
    every = penalty.every
    expect(
        isinstance(every, int) and not isinstance(every, bool) and every >= 1,
        f"{who}: every is {every!r}, expected an int >= 1",
    )
    for device in devices():
        for labelled in (False, True):
            _check_call(penalty, who, image_shape, device, labelled, state_of)


def _check_call(
    penalty: Penalty, who: str, image_shape: ImageShape, device: torch.device, labelled: bool, state_of: Stateful | None
) -> None:
    where = f"{who} ({'labelled' if labelled else 'unlabelled'} batch, on {device.type})"
    inputs, networks = probe_inputs(penalty.player, image_shape, device, labelled)
    if penalty.needs_labels and not labelled:
        try:
            penalty(inputs)
        except ValueError:
            return
        expect(False, f"{where}: it needs labels, yet ran without them instead of raising ValueError")
    before = [t.detach().clone() for t in (inputs.real, inputs.fake, inputs.z)]
    state = None if state_of is None else copy.deepcopy(state_of.state_dict())
    with seeded(0, device):
        value = penalty(inputs)
    check_scalar(where, value, device)
    network = networks[penalty.player]
    check_gradients(
        f"{where}, towards the parameters of {penalty.player.upper()}", value, list(network.parameters()), every=False
    )
    after = (inputs.real, inputs.fake, inputs.z)
    expect(all(torch.equal(a.detach(), b) for a, b in zip(after, before)), f"{where} changed its input tensors")
    if state_of is not None and state is not None:
        state_of.load_state_dict(state)
    with seeded(0, device):
        again = penalty(inputs)
    expect(
        torch.equal(again.detach(), value.detach()), f"{where}: a second call under the same seed gives another value"
    )


def probe_inputs(
    player: str, image_shape: ImageShape, device: torch.device, labelled: bool
) -> tuple[PenaltyInputs, dict[str, nn.Module]]:
    """:class:`ganfw.contracts.PenaltyInputs` as the step of ``player`` builds them, from a probe
    D and G (both returned by player): ``fake`` is detached on D's step, attached to G on G's."""
    D = ProbeDiscriminator(image_shape, _CLASSES if labelled else 0).to(device)
    G = ProbeGenerator(image_shape).to(device)

    def discriminator(images: Tensor, labels: Tensor | None) -> Tensor:
        return D(images, labels)

    def generator(z: Tensor, labels: Tensor | None) -> Tensor:
        return G(z, labels)

    rng = torch.Generator().manual_seed(3)
    z = torch.randn(_BATCH, PROBE_LATENT_DIM, generator=rng).to(device)
    fake = G(z)
    labels: Any = torch.tensor([0, 1, 2, 0], device=device) if labelled else None
    inputs = PenaltyInputs(
        discriminator=discriminator,
        generator=generator,
        real=random_images(_BATCH, image_shape, seed=1).to(device),
        fake=fake.detach() if player == "d" else fake,
        real_labels=labels,
        fake_labels=labels,
        z=z,
        generator_module=G,
        num_classes=_CLASSES if labelled else 0,
    )
    return inputs, {"d": D, "g": G}
