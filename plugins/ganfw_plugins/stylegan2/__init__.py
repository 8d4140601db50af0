"""Plugin ``stylegan2``: the StyleGAN2 generator and discriminator of Karras et al. 2020 ("Analyzing
and improving the image quality of StyleGAN"), and their class-conditional variants
``cstylegan2`` (a label embedding concatenated to z in the mapping network; a projection of D's
features on a mapped label, as NVlabs/stylegan2-ada-pytorch's conditional configuration does).

Square images of side 4..7 times a power of two (28, 32, 64, 128, 256, ...), grey or RGB. At the
defaults and 32x32 RGB, G has 19,947,539 parameters and the residual D 21,507,073, exactly
stylegan2-ada-pytorch's networks at channel base 16384, 512 channels at most, 2 mapping layers
(training/networks.py; docs/families.md). The generator's ``mapping`` ((N, Z), labels -> w
(N, L, W)) and ``synthesis`` (w -> images) are what the ``path-length`` penalty regularises.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class StyleGAN2GeneratorParams:
    latent_dim: int = param(512, "length of the noise vector z", min=1)
    w_dim: int = param(512, "length of the intermediate latent w (the mapping network's width)", min=1)
    mapping_layers: int = param(
        2,
        "dense layers of the mapping network z -> w (2: stylegan2-ada's auto and CIFAR-10 settings; the paper: 8)",
        min=1,
    )
    mapping_lr: float = param(
        0.01, "learning-rate multiplier of the mapping layers (equalised learning rate)", min=0.0, min_exclusive=True
    )
    channel_base: int = param(
        16384, "channels at resolution r: min(channel_base // r, channel_max); shrink both for small experiments", min=1
    )
    channel_max: int = param(512, "the most channels of any layer", min=1)
    truncation: float = param(
        1.0,
        "truncation psi: in eval mode (grids, evaluation, ganfw sample) w becomes w_avg + psi * (w - w_avg), "
        "w_avg its running average over training; 1: off. Training never truncates",
        min=0.0,
        max=1.0,
    )


@dataclass(frozen=True)
class StyleGAN2DiscriminatorParams:
    channel_base: int = param(
        16384, "channels at resolution r: min(channel_base // r, channel_max); shrink both for small experiments", min=1
    )
    channel_max: int = param(512, "the most channels of any layer", min=1)
    residual: bool = param(
        True, "residual blocks (StyleGAN2's D); false: plain blocks, the reference's CIFAR-10 setting ('orig')"
    )
    mbstd_group: int = param(
        4,
        "minibatch standard deviation over groups of this many images (CIFAR-10 reference: 32); a batch that "
        "it does not divide uses its greatest common divisor with the batch size",
        min=1,
    )
    mbstd_channels: int = param(1, "feature groups of the minibatch standard deviation (0: off)", min=0)


@dataclass(frozen=True)
class ConditionalStyleGAN2DiscriminatorParams(StyleGAN2DiscriminatorParams):
    mapping_layers: int = param(8, "dense layers that map a label's embedding to the projection vector", min=1)
    mapping_lr: float = param(0.01, "learning-rate multiplier of the label mapping layers", min=0.0, min_exclusive=True)


def _spec(kind: str, name: str, summary: str, factory: str, params: type, conditional: bool) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        kind=kind,
        summary=summary,
        factory=f"ganfw_plugins.stylegan2.{factory}",
        params=params,
        conditional=conditional,
    )


@hookimpl
def ganfw_generators() -> list[ComponentSpec]:
    return [
        _spec(
            "generator",
            "stylegan2",
            "StyleGAN2: mapping network, modulated convolutions, noise inputs, skip outputs (Karras et al. 2020)",
            "generator:StyleGAN2Generator",
            StyleGAN2GeneratorParams,
            conditional=False,
        ),
        _spec(
            "generator",
            "cstylegan2",
            "Conditional StyleGAN2: a label embedding concatenated to z in the mapping network",
            "generator:StyleGAN2Generator",
            StyleGAN2GeneratorParams,
            conditional=True,
        ),
    ]


@hookimpl
def ganfw_discriminators() -> list[ComponentSpec]:
    return [
        _spec(
            "discriminator",
            "stylegan2",
            "StyleGAN2 discriminator: residual blocks, minibatch standard deviation, conv and dense head",
            "discriminator:StyleGAN2Discriminator",
            StyleGAN2DiscriminatorParams,
            conditional=False,
        ),
        _spec(
            "discriminator",
            "cstylegan2",
            "Conditional StyleGAN2 discriminator: its features projected on a mapped label embedding",
            "discriminator:StyleGAN2Discriminator",
            ConditionalStyleGAN2DiscriminatorParams,
            conditional=True,
        ),
    ]
