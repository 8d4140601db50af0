"""Plugin ``resnet``: the residual generator and discriminator of the SNGAN/BigGAN line, and their
class-conditional variants ``cresnet`` (conditional batch norm in G, a projection head in D).

At 32x32 the defaults are the SNGAN CIFAR-10 networks of Miyato et al. 2018 ("Spectral
normalization for generative adversarial networks"; pfnet-research/sngan_projection): G of
4,276,739 parameters, D of 1,053,824 (conditional on 10 classes: 4,304,387 and 1,055,104, as
Miyato & Koyama 2018, "cGANs with projection discriminator"). Other sides, from 16 to 448, take
the channel schedule of that repository's 64, 128 and 256 px models (docs/families.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ComponentSpec, hookimpl, param

GANFW_API = 2


@dataclass(frozen=True)
class ResNetGeneratorParams:
    latent_dim: int = param(128, "length of the noise vector z", min=1)
    ch: int = param(
        64,
        "base width: each stage has ch times the resolution's multiplier channels (64: the SNGAN "
        "reference, 256 channels at 32 px; shrink it for small experiments)",
        min=1,
    )


@dataclass(frozen=True)
class ResNetDiscriminatorParams:
    ch: int = param(
        64,
        "base width: each stage has ch times the resolution's multiplier channels (64: the SNGAN "
        "reference, 128 channels at 32 px; shrink it for small experiments)",
        min=1,
    )


def _spec(kind: str, name: str, summary: str, cls: str, params: type, conditional: bool) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        kind=kind,
        summary=summary,
        factory=f"ganfw_plugins.resnet.models:{cls}",
        params=params,
        conditional=conditional,
    )


@hookimpl
def ganfw_generators() -> list[ComponentSpec]:
    return [
        _spec(
            "generator",
            "resnet",
            "SNGAN/BigGAN residual generator: up-blocks with batch norm, 16 to 448 px (Miyato et al. 2018)",
            "ResNetGenerator",
            ResNetGeneratorParams,
            conditional=False,
        ),
        _spec(
            "generator",
            "cresnet",
            "Conditional residual generator: per-class batch-norm gains and biases (Miyato & Koyama 2018)",
            "ConditionalResNetGenerator",
            ResNetGeneratorParams,
            conditional=True,
        ),
    ]


@hookimpl
def ganfw_discriminators() -> list[ComponentSpec]:
    return [
        _spec(
            "discriminator",
            "resnet",
            "SNGAN residual discriminator: spectrally normalised down-blocks, global sum pooling (Miyato et al. 2018)",
            "ResNetDiscriminator",
            ResNetDiscriminatorParams,
            conditional=False,
        ),
        _spec(
            "discriminator",
            "cresnet",
            "SNGAN projection discriminator: the residual D plus <embed(y), h> (Miyato & Koyama 2018)",
            "ConditionalResNetDiscriminator",
            ResNetDiscriminatorParams,
            conditional=True,
        ),
    ]
