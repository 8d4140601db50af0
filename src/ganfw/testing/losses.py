"""Contract checks for adversarial losses."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ganfw.contracts import Discriminator, ImageShape, Loss
from ganfw.testing.contract import check_gradients, check_scalar, devices, expect, random_images

#: Logit batches a loss must handle: name -> n -> logits (n,). Sigmoid losses written without the
#: stable ``softplus`` forms overflow on the extreme ones.
LOGITS: dict[str, Callable[[int], Tensor]] = {
    "typical logits": lambda n: torch.randn(n, generator=torch.Generator().manual_seed(n)) * 3,
    "extreme logits": lambda n: torch.tensor([60.0, -60.0] * n)[:n],
    "zero logits": lambda n: torch.zeros(n),
}


class ProbeDiscriminator(Discriminator):
    """A small smooth discriminator to try regularisers on: flatten, dense to 16, tanh, dense to
    one logit. Images (N, C, H, W) -> logits (N,); its input gradient has a non-zero gradient with
    respect to every parameter (tanh has curvature), as penalties need."""

    def __init__(self, image_shape: ImageShape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        with torch.random.fork_rng(devices=[]):  # the same probe every time, global RNG untouched
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(image_shape), 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, images: Tensor) -> Tensor:
        """(N, C, H, W) -> (N,)."""
        return self.net(images).squeeze(1)


def check_loss(loss: Loss, image_shape: ImageShape = (1, 28, 28)) -> None:
    """Check a built loss on every device.

    * it is a :class:`ganfw.contracts.Loss` whose ``has_regularizer`` is a bool;
    * ``d_loss(real (N,), fake (M,))`` and ``g_loss(fake (M,))`` (N != M) are finite scalars on
      the logits' device, on typical, extreme (+-60) and zero logits, with finite gradients
      reaching every logit batch they take;
    * when ``has_regularizer``: ``regularizer(D, real, fake)`` on images of ``image_shape`` is a
      finite scalar that gives D's parameters finite gradients and leaves its inputs untouched.
    """
    loss = copy.deepcopy(loss)
    expect(isinstance(loss, Loss), f"is a {type(loss).__name__}, not a ganfw.contracts.Loss")
    expect(isinstance(loss.has_regularizer, bool), f"has_regularizer is {loss.has_regularizer!r}, not a bool")
    for device in devices():
        for case, make in LOGITS.items():
            real = make(5).to(device).requires_grad_(True)
            fake = make(7).to(device).requires_grad_(True)
            d_loss = loss.d_loss(real, fake)
            check_scalar(f"d_loss on {case}", d_loss, device)
            check_gradients(f"d_loss on {case}", d_loss, (real, fake), every=True)
            g_loss = loss.g_loss(fake)
            check_scalar(f"g_loss on {case}", g_loss, device)
            check_gradients(f"g_loss on {case}", g_loss, (fake,), every=True)
        if loss.has_regularizer:
            _check_regularizer(loss, image_shape, device)


def _check_regularizer(loss: Loss, image_shape: ImageShape, device: torch.device) -> None:
    probe = ProbeDiscriminator(image_shape).to(device)
    real, fake = random_images(4, image_shape, seed=1).to(device), random_images(4, image_shape, seed=2).to(device)
    real_before, fake_before = real.clone(), fake.clone()
    value = loss.regularizer(probe, real, fake)
    check_scalar("regularizer", value, device)
    check_gradients("regularizer", value, list(probe.parameters()), every=False)
    expect(torch.equal(real, real_before) and torch.equal(fake, fake_before), "regularizer changed its input images")
