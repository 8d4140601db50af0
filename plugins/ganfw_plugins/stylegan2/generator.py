"""The StyleGAN2 generator, plain or class-conditional (one class: the ``cstylegan2`` spec
passes ``num_classes``)."""

from __future__ import annotations

from torch import Tensor

from ganfw.plugin import Generator, ImageShape
from ganfw_plugins.stylegan2 import StyleGAN2GeneratorParams
from ganfw_plugins.stylegan2.mapping import MappingNetwork, StyleMapping
from ganfw_plugins.stylegan2.synthesis import SynthesisNetwork


class StyleGAN2Generator(Generator):
    """z (N, Z) (and labels (N,) when ``num_classes`` K > 0) -> images (N, C, H, W) in [-1, 1].

    ``forward(z, labels) == synthesis(mapping(z, labels))``:

    * ``mapping`` (:class:`~ganfw_plugins.stylegan2.mapping.StyleMapping`): z, labels -> ws
      (N, L, W), the intermediate latent w for each of the synthesis network's L inputs;
    * ``synthesis`` (:class:`~ganfw_plugins.stylegan2.synthesis.SynthesisNetwork`): ws -> images.

    ``sample_latent`` is the base class's standard normal z.
    """

    def __init__(self, params: StyleGAN2GeneratorParams, image_shape: ImageShape, num_classes: int = 0):
        super().__init__()
        self.latent_dim = params.latent_dim
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)
        self.num_classes = num_classes
        who = "generator 'cstylegan2'" if num_classes else "generator 'stylegan2'"
        self.synthesis = SynthesisNetwork(image_shape, params.w_dim, params.channel_base, params.channel_max, who)
        network = MappingNetwork(params.latent_dim, num_classes, params.w_dim, params.mapping_layers, params.mapping_lr)
        self.mapping = StyleMapping(network, self.synthesis.num_ws, params.truncation)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.synthesis(self.mapping(z, labels if self.num_classes else None))
