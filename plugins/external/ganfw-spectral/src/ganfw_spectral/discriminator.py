"""The spectrally normalised DCGAN discriminator of Miyato et al. 2018, "Spectral normalization
for generative adversarial networks" (the "standard CNN" of their Table 3)."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from ganfw.contracts import Discriminator, ImageShape
from ganfw_spectral import SNDCGANParams


def halved(size: int) -> int:
    """Output length of a 4x4 stride-2 convolution with padding 1: ``floor(size / 2)``."""
    return (size + 2 - 4) // 2 + 1


class SNDCGANDiscriminator(Discriminator):
    """Images (N, C, H, W) -> logits (N,).

    Per width ``w``: a 3x3 stride-1 conv to ``w`` channels and a 4x4 stride-2 conv (padding 1,
    halving H and W), each followed by LeakyReLU; then a 3x3 conv to ``top_width``, LeakyReLU,
    flatten and a dense layer to one logit. Every conv and the dense layer are spectrally
    normalised: their weight is divided by its largest singular value, estimated by power
    iteration (``power_iterations`` steps per forward pass in train mode; eval mode reuses the
    stored estimate). Defaults: (1, 28, 28) -> (64, 14, 14) -> (128, 7, 7) -> (256, 3, 3)
    -> (512, 3, 3) -> 4608 -> 1; on (3, 32, 32), the paper's network (512 x 4 x 4 before the
    dense layer).
    """

    def __init__(self, params: SNDCGANParams, image_shape: ImageShape):
        super().__init__()
        channels, height, width = image_shape
        self.image_shape = (channels, height, width)

        def sn(layer: nn.Module) -> nn.Module:
            return spectral_norm(layer, n_power_iterations=params.power_iterations)

        layers: list[nn.Module] = []
        for w in params.widths:
            layers += [sn(nn.Conv2d(channels, w, 3, 1, padding=1)), nn.LeakyReLU(params.slope)]
            layers += [sn(nn.Conv2d(w, w, 4, 2, padding=1)), nn.LeakyReLU(params.slope)]
            channels, height, width = w, halved(height), halved(width)
        if height < 1 or width < 1:
            raise ValueError(
                f"{len(params.widths)} stride-2 stages leave nothing of a {image_shape[1]}x{image_shape[2]} image; "
                "use fewer widths"
            )
        layers += [sn(nn.Conv2d(channels, params.top_width, 3, 1, padding=1)), nn.LeakyReLU(params.slope)]
        layers += [nn.Flatten(), sn(nn.Linear(params.top_width * height * width, 1))]
        self.net = nn.Sequential(*layers)

    def forward(self, images: Tensor, labels: Tensor | None = None) -> Tensor:
        """(N, C, H, W) -> (N,); ``labels`` are ignored (unconditional)."""
        return self.net(images).squeeze(1)
