"""Contract checks for augmentations (what D sees instead of the images)."""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ganfw.contracts import Augmentation, Decision, ImageShape
from ganfw.testing.contract import (
    check_gradients,
    check_log,
    check_tensor,
    devices,
    expect,
    random_images,
    seeded,
    through_json,
)
from ganfw.testing.schedules import step_report

#: Steps observed before the state is saved, and after it is restored.
_STEPS = 20


def check_augmentation(augmentation: Augmentation, image_shape: ImageShape = (1, 28, 28), batch: int = 4) -> None:
    """Check a built augmentation.

    * it is a :class:`ganfw.contracts.Augmentation`;
    * on every device, ``augmentation(images)`` maps (N, C, H, W) float32 to finite float32 of the
      same shape on the same device, leaves its input untouched, gives every image a finite
      gradient (it is differentiable), and gives the same images again under the same seed (its
      randomness comes from torch's global generator, which checkpoints save);
    * after ``observe`` of a scripted run (D always right, as when it overfits), ``log()`` is a dict
      of finite numbers and ``state_dict()`` survives JSON; a fresh augmentation loaded with it
      reports the same state, augments identically and, observing the same steps, stays so.
    """
    expect(
        isinstance(augmentation, Augmentation),
        f"is a {type(augmentation).__name__}, not a ganfw.contracts.Augmentation",
    )
    for device in devices():
        _check_images(copy.deepcopy(augmentation), random_images(batch, image_shape).to(device))
    _check_resume(augmentation, random_images(batch, image_shape))


def _check_images(augmentation: Augmentation, images: Tensor) -> None:
    device = images.device
    where = f"augmentation(images) on {device.type}"
    x = images.clone().requires_grad_(True)
    with seeded(0, device):
        out = augmentation(x)
    check_tensor(where, out, tuple(images.shape), dtype=torch.float32)
    expect(out.device.type == device.type, f"{where} is on {out.device}")
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(1)).to(device)
    check_gradients(f"a projection of {where}", (out * weights).sum(), (x,), every=True)
    expect(torch.equal(x.detach(), images), f"{where} changed its input images")
    with seeded(0, device):
        again = augmentation(images)
    expect(
        torch.equal(again, out.detach()),
        f"{where} gives other images under the same seed (draw randomness from torch's global generator)",
    )


def _observe(augmentation: Augmentation, steps: range) -> None:
    for step in steps:
        augmentation.observe(step_report(step, 1.0, Decision(True, True)))
        check_log(f"augmentation, step {step}", augmentation.log())


def _check_resume(augmentation: Augmentation, images: Tensor) -> None:
    original = copy.deepcopy(augmentation)
    _observe(original, range(_STEPS))
    state = through_json("augmentation", original.state_dict())
    resumed = copy.deepcopy(augmentation)
    resumed.load_state_dict(state)
    for when, steps in (("when restored", range(0)), ("observing the same steps after", range(_STEPS, 2 * _STEPS))):
        _observe(original, steps)
        _observe(resumed, steps)
        expect(
            resumed.state_dict() == original.state_dict(),
            f"a fresh augmentation loaded with state_dict() reports another state {when}",
        )
        with seeded(1, images.device):
            expected = original(images)
        with seeded(1, images.device):
            got = resumed(images)
        expect(torch.equal(got, expected), f"a fresh augmentation loaded with state_dict() augments differently {when}")
