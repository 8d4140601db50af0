"""The SNGAN residual generator and discriminator (Miyato et al. 2018) at any side of
:mod:`.stages`, and their class-conditional variants (Miyato & Koyama 2018).

Parameter counts at the reference configuration (32x32x3, ``latent_dim`` 128, ``ch`` 64, ten
classes for the conditional ones), against pfnet-research/sngan_projection at commit e84b1a5
(gen_models/resnet_32.py, dis_models/snresnet_32.py, the networks of
configs/sn_cifar10_unconditional.yml and sn_cifar10_conditional.yml; counted by reading):

============ ========== ========== ================================================
network      ours       reference  note
============ ========== ========== ================================================
G            4,276,739  4,276,739  torch_mimicry sngan_32.py (a7fda06), run: same
D            1,053,824  1,053,824  torch_mimicry: 1,053,825 (a bias on the head)
G, 10 class  4,304,387  4,304,387  StudioGAN's CIFAR-10 SNGAN log (947b35e): same
D, 10 class  1,055,104  1,055,104  StudioGAN's log: 1,055,105 (a bias on the head)
============ ========== ========== ================================================
"""

from __future__ import annotations

from functools import partial

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganfw.plugin import Generator, ImageShape
from ganfw_plugins.dcgan.conditional import FeatureDiscriminator, ProjectionDiscriminator, check_labels
from ganfw_plugins.resnet import ResNetDiscriminatorParams, ResNetGeneratorParams
from ganfw_plugins.resnet.blocks import (
    BatchNorm,
    ClassBatchNorm,
    DownBlock,
    ImageBlock,
    SumPool,
    UpBlock,
    conv,
    glorot,
)
from ganfw_plugins.resnet.stages import layout


class ResNetGenerator(Generator):
    """Noise (N, Z) -> images (N, C, S, S) in [-1, 1].

    A linear layer to a ``b x b`` map of ``widths[0]`` channels, one :class:`UpBlock` per
    doubling of the side, then batch norm, ReLU, a 3x3 conv to ``C`` channels and tanh
    (:mod:`.stages` gives ``b`` and the widths). ``num_classes`` K > 0 puts
    :class:`ClassBatchNorm` in the blocks (the conditional subclass); the last batch norm is
    unconditional, as in the reference. At 32x32x3 with the defaults: 128 -> (256, 4, 4) ->
    (256, 8, 8) -> (256, 16, 16) -> (256, 32, 32) -> (3, 32, 32).
    """

    def __init__(self, params: ResNetGeneratorParams, image_shape: ImageShape, *, num_classes: int = 0):
        super().__init__()
        channels, side, _ = image_shape
        plan = layout(image_shape, "resnet generator")
        widths = plan.generator_widths(params.ch)
        self.latent_dim, self.image_shape, self.num_classes = params.latent_dim, (channels, side, side), num_classes
        self.bottom = plan.bottom
        self.stem = glorot(nn.Linear(params.latent_dim, widths[0] * plan.bottom**2))
        norm = partial(ClassBatchNorm, num_classes=num_classes) if num_classes else BatchNorm
        self.blocks = nn.ModuleList(UpBlock(c_in, c_out, norm) for c_in, c_out in zip(widths, widths[1:]))
        self.head = nn.Sequential(nn.BatchNorm2d(widths[-1]), nn.ReLU(), conv(widths[-1], channels, 3), nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """z (N, Z), labels (N,) int64 for the conditional G (else ignored) -> (N, C, S, S)."""
        h = self.stem(z).view(len(z), -1, self.bottom, self.bottom)
        for block in self.blocks:
            h = block(h, labels)
        return self.head(h)


class ConditionalResNetGenerator(ResNetGenerator):
    """The residual generator with a gain and a bias per class in every block's batch norms:
    z (N, Z), labels (N,) int64 in [0, K) -> images (N, C, S, S) in [-1, 1]."""

    def __init__(self, params: ResNetGeneratorParams, image_shape: ImageShape, num_classes: int):
        super().__init__(params, image_shape, num_classes=num_classes)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        return super().forward(z, check_labels(labels, len(z), self.num_classes, "generator"))


class ResNetDiscriminator(FeatureDiscriminator):
    """Images (N, C, S, S) -> logits (N,).

    An :class:`ImageBlock`, then :class:`DownBlock` s (:mod:`.stages`), ReLU, the sum over the
    remaining positions (features ``phi`` (N, F)) and a linear layer without bias to one logit;
    every conv and the linear layer are spectrally normalised. At 32x32x3 with the defaults:
    (3, 32, 32) -> (128, 16, 16) -> (128, 8, 8) -> (128, 8, 8) -> (128, 8, 8) -> 128 -> 1.
    """

    def __init__(self, params: ResNetDiscriminatorParams, image_shape: ImageShape):
        super().__init__()
        channels, side, _ = image_shape
        blocks = layout(image_shape, "resnet discriminator").discriminator_blocks(params.ch)
        self.image_shape = (channels, side, side)
        layers: list[nn.Module] = [ImageBlock(channels, blocks[0][0])]
        layers += [DownBlock(c_in, c_out, down) for (c_in, _), (c_out, down) in zip(blocks, blocks[1:])]
        features = blocks[-1][0]
        layers += [nn.ReLU(), SumPool(), spectral_norm(glorot(nn.Linear(features, 1, bias=False)))]
        self.net = nn.Sequential(*layers)


class ConditionalResNetDiscriminator(ProjectionDiscriminator, ResNetDiscriminator):
    """The projection discriminator: ``linear(phi(x)) + <embed(y), phi(x)>`` on the residual D's
    pooled features, images (N, C, S, S) and labels (N,) int64 in [0, K) -> logits (N,); the
    class embedding (K, F) is Glorot-initialised and spectrally normalised, as the reference's."""

    def __init__(self, params: ResNetDiscriminatorParams, image_shape: ImageShape, num_classes: int):
        super().__init__(params, image_shape, num_classes)
        spectral_norm(self.projection)
