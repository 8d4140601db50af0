"""The DCGAN generator and discriminator (Radford et al. 2016), defaults as the course's
TensorFlow DCGAN tutorial for 28x28 MNIST, and their class-conditional variants (a label
embedding concatenated to z; a projection discriminator: see :mod:`.conditional`).

Keras flattens and reshapes channels-last, PyTorch channels-first: the dense layers' weights are
a permutation of the Keras ones, with the same counts and the same function class.
"""

from __future__ import annotations

from torch import Tensor, nn

from ganfw.plugin import Generator, ImageShape
from ganfw_plugins.dcgan import DCGANDiscriminatorParams, DCGANGeneratorParams
from ganfw_plugins.dcgan.conditional import FeatureDiscriminator, LabelEmbeddingGenerator, ProjectionDiscriminator
from ganfw_plugins.dcgan.layers import activation, conv2d, conv_transpose2d, same_out_size
from ganfw_plugins.dcgan.weight_init import init_weights


class DCGANGenerator(Generator):
    """Noise (N, Z) -> images (N, C, H, W) in [-1, 1].

    Dense ``Z -> widths[0] * H/4 * W/4`` (+ BatchNorm over those features + LeakyReLU), reshaped
    to (widths[0], H/4, W/4); transposed convs ``widths[i] -> widths[i+1]`` (+ BatchNorm +
    LeakyReLU), stride 1 but the last, stride 2; a stride-2 transposed conv to ``C`` + tanh.
    Layers followed by BatchNorm have no bias (BatchNorm's shift replaces it), nor does the output
    conv, as in the course. Defaults: 100 -> (256, 7, 7) -> (128, 7, 7) -> (64, 14, 14)
    -> (1, 28, 28), 2,330,944 parameters counted as Keras does (BatchNorm running stats included).

    ``label_features``: extra input features concatenated after z by a subclass (the dense layer
    then takes ``Z + label_features`` inputs); 0 for the plain generator.

    Raises:
        ValueError: ``H`` or ``W`` not divisible by 4, or fewer than two ``widths``.
    """

    def __init__(self, params: DCGANGeneratorParams, image_shape: ImageShape, *, label_features: int = 0):
        super().__init__()
        channels, height, width = image_shape
        if height % 4 or width % 4:
            raise ValueError(f"the DCGAN generator needs H and W divisible by 4, got {height}x{width}")
        widths = params.widths
        if len(widths) < 2:
            raise ValueError(f"the DCGAN generator needs at least two widths (it upsamples twice), got {widths}")
        self.latent_dim = params.latent_dim
        self.image_shape = (channels, height, width)
        batch_norm = params.norm == "batch"

        def norm_act(norm: type[nn.Module], features: int) -> list[nn.Module]:
            norms = [norm(features, eps=params.bn_eps, momentum=params.bn_momentum)] if batch_norm else []
            return [*norms, activation("leaky_relu", params.slope)]

        seed_shape = (widths[0], height // 4, width // 4)
        seed_features = widths[0] * (height // 4) * (width // 4)
        layers: list[nn.Module] = [
            nn.Linear(params.latent_dim + label_features, seed_features, bias=not batch_norm),
            *norm_act(nn.BatchNorm1d, seed_features),
            nn.Unflatten(1, seed_shape),
        ]
        strides = [1] * (len(widths) - 2) + [2]
        for c_in, c_out, stride in zip(widths, widths[1:], strides):
            layers.append(conv_transpose2d(c_in, c_out, params.kernel, stride, params.padding, bias=not batch_norm))
            layers += norm_act(nn.BatchNorm2d, c_out)
        layers += [conv_transpose2d(widths[-1], channels, params.kernel, 2, params.padding, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self.net, params.init)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, Z) (or (N, Z + label_features) from a subclass) -> (N, C, H, W) in [-1, 1];
        ``labels`` are ignored (unconditional)."""
        return self.net(z)


class DCGANDiscriminator(FeatureDiscriminator):
    """Images (N, C, H, W) -> logits (N,).

    One stride-2 'same' conv per width (each + LeakyReLU + Dropout; the chosen normalisation
    between conv and LeakyReLU on all but the first), flatten, dense to one logit. Defaults:
    (1, 28, 28) -> (64, 14, 14) -> (128, 7, 7) -> 6272 -> 1, 212,865 parameters.

    ``norm="layer"`` normalises each sample over (C, H, W) with a per-channel scale and shift
    (``GroupNorm`` with one group), the critic normalisation of Gulrajani et al. 2017.
    """

    def __init__(self, params: DCGANDiscriminatorParams, image_shape: ImageShape):
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)
        layers: list[nn.Module] = []
        for i, c_out in enumerate(params.widths):
            layers.append(conv2d(channels, c_out, params.kernel, 2, params.padding))
            if i > 0 and params.norm != "none":
                layers.append(nn.BatchNorm2d(c_out) if params.norm == "batch" else nn.GroupNorm(1, c_out))
            layers.append(activation("leaky_relu", params.slope))
            if params.dropout > 0:
                layers.append(nn.Dropout(params.dropout))
            channels, height, width = c_out, same_out_size(height, 2), same_out_size(width, 2)
        layers += [nn.Flatten(), nn.Linear(channels * height * width, 1)]
        self.net = nn.Sequential(*layers)
        init_weights(self.net, params.init)


class ConditionalDCGANGenerator(LabelEmbeddingGenerator, DCGANGenerator):
    """The DCGAN generator fed ``concat(z, embed(labels))``: z (N, Z), labels (N,) int64 in
    [0, K) -> images (N, C, H, W) in [-1, 1]. Defaults on MNIST: (100 + 16) -> (256, 7, 7) ->
    ... -> (1, 28, 28)."""


class ConditionalDCGANDiscriminator(ProjectionDiscriminator, DCGANDiscriminator):
    """The DCGAN discriminator with a class projection on its flattened conv features
    (F = 6272 on MNIST): images (N, C, H, W), labels (N,) int64 in [0, K) -> logits (N,)."""
