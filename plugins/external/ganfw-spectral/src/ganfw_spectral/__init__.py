"""Plugin ``spectral``: what ganfw's built-ins lack for stable GAN training.

* discriminator ``sn-dcgan``: the spectrally normalised CNN discriminator of Miyato et al. 2018;
* loss ``non-saturating-r1``: the non-saturating loss with the R1 gradient penalty of
  Mescheder et al. 2018.

This module holds the hooks and params only (no torch: ``ganfw list`` imports it); the
components live in ``ganfw_spectral.discriminator`` and ``ganfw_spectral.losses``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw import ComponentSpec, hookimpl, param

#: The plugin API (``ganfw.contracts``) this plugin is written for.
GANFW_API = 2


@dataclass(frozen=True)
class SNDCGANParams:
    widths: list[int] = param([64, 128, 256], "channels of each stage: a 3x3 conv, then a 4x4 stride-2 conv", min=1)
    top_width: int = param(512, "channels of the last 3x3 conv, before the dense layer", min=1)
    slope: float = param(0.1, "LeakyReLU negative slope", min=0.0)
    power_iterations: int = param(1, "power-iteration steps per training forward pass", min=1)


@dataclass(frozen=True)
class NonSaturatingR1Params:
    gamma: float = param(10.0, "weight of the R1 penalty: (gamma / 2) * E ||grad D(real)||^2", min=0.0)
    every: int = param(
        1, "compute R1 on every n-th D step only, scaled by n (lazy regularisation; 16 in StyleGAN2)", min=1
    )


@hookimpl
def ganfw_discriminators() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="sn-dcgan",
            kind="discriminator",
            summary="Spectrally normalised CNN discriminator (Miyato et al. 2018)",
            factory="ganfw_spectral.discriminator:SNDCGANDiscriminator",
            params=SNDCGANParams,
        )
    ]


@hookimpl
def ganfw_losses() -> list[ComponentSpec]:
    return [
        ComponentSpec(
            name="non-saturating-r1",
            kind="loss",
            summary="Non-saturating loss with the R1 penalty on real images (Mescheder et al. 2018)",
            factory="ganfw_spectral.losses:NonSaturatingR1",
            params=NonSaturatingR1Params,
        )
    ]
