"""Building a recipe's generator and discriminator for a dataset, and holding them to their
contracts before the first step (used by training and by ``ganfw check``).

Shapes: images (N, C, H, W) in [-1, 1]; labels (N,) int64 in [0, K); z (N, Z).
"""

from __future__ import annotations

import torch
from torch import nn

from ganfw.blame import blame, call_checked
from ganfw.contracts import Dataset, Discriminator, Generator
from ganfw.errors import UserError
from ganfw.recipe import ComponentChoice, ComponentError


def build_network(choice: ComponentChoice, dataset: Dataset, shape: tuple[int, int, int]) -> nn.Module:
    """Build G or D; a conditional one gets ``num_classes`` and needs a labelled dataset."""
    if not choice.conditional:
        return choice.build(image_shape=shape)
    if dataset.num_classes == 0:
        raise UserError(
            f"{choice.who} is class-conditional, but the dataset has no labels "
            "(pick an unconditional one, or a labelled dataset)"
        )
    return choice.build(image_shape=shape, num_classes=dataset.num_classes)


@torch.no_grad()
def check_networks(
    choices: tuple[ComponentChoice, ComponentChoice],
    G: Generator,
    D: Discriminator,
    shape: tuple[int, int, int],
    device: torch.device,
) -> None:
    """Hold G and D (built from ``choices``) to their contracts on two samples of the dataset's
    ``shape`` (C, H, W) before training (eval mode, no RNG drawn from the training streams): a
    broken component stops here with one line naming it."""
    g_choice, d_choice = choices
    rng = torch.Generator().manual_seed(0)
    with blame(g_choice, "sample_latent"):
        z = G.sample_latent(2, device=None, generator=rng).to(device)
    labels = torch.zeros(2, dtype=torch.int64, device=device)
    expected = (2, *shape)
    modes = G.training, D.training
    G.eval(), D.eval()
    try:
        fake = call_checked(g_choice, G, *((z, labels) if G.num_classes else (z,)))
        if tuple(fake.shape) != expected or not fake.is_floating_point():
            raise ComponentError(
                f"{g_choice.who} broke the generator contract: "
                f"forward({'z, labels' if G.num_classes else 'z'}) returned "
                f"{fake.dtype} {tuple(fake.shape)}, expected floats of shape {expected}"
            )
        if fake.abs().max() > 1 + 1e-3:
            raise ComponentError(
                f"{g_choice.who} broke the generator contract: images must lie in "
                f"[-1, 1], got values up to {fake.abs().max().item():.3g}"
            )
        logits = call_checked(d_choice, D, *((fake, labels) if D.num_classes else (fake,)))
        if tuple(logits.shape) != (2,):
            raise ComponentError(
                f"{d_choice.who} broke the discriminator contract: "
                f"forward({'images, labels' if D.num_classes else 'images'}) returned shape "
                f"{tuple(logits.shape)}, expected (2,)"
            )
    finally:
        G.train(modes[0])
        D.train(modes[1])
