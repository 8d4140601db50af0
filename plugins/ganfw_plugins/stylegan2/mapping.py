"""StyleGAN2's mapping networks: noise and/or a class label -> an intermediate latent.

:class:`MappingNetwork` is the dense stack (shared by G's mapping and the conditional D's label
mapping); :class:`StyleMapping` is G's ``mapping``: it also tracks the running average of w,
broadcasts w to every layer of the synthesis network and truncates in eval mode.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ganfw_plugins.stylegan2.layers import EqualLinear, normalize_2nd_moment

#: Decay of the running average of w (the reference's ``w_avg_beta``).
W_AVG_DECAY = 0.995


class MappingNetwork(nn.Module):
    """z (N, Z) and/or labels (N,) -> (N, W).

    z is normalised to a mean square of 1; a label (when ``num_classes`` K > 0) is embedded by a
    dense layer on its one-hot vector (W numbers), normalised the same way and concatenated after
    z; then ``layers`` dense layers with leaky ReLU, their learning rate scaled by
    ``lr_multiplier``. ``latent_dim`` 0 maps labels alone (the conditional D's projection).
    """

    def __init__(self, latent_dim: int, num_classes: int, w_dim: int, layers: int, lr_multiplier: float):
        super().__init__()
        self.latent_dim, self.num_classes, self.w_dim = latent_dim, num_classes, w_dim
        self.embed = EqualLinear(num_classes, w_dim) if num_classes else None
        widths = [latent_dim + (w_dim if num_classes else 0)] + [w_dim] * layers
        self.layers = nn.Sequential(
            *(EqualLinear(a, b, activation="lrelu", lr_multiplier=lr_multiplier) for a, b in zip(widths, widths[1:]))
        )

    def forward(self, z: Tensor | None, labels: Tensor | None = None) -> Tensor:
        parts = []
        if self.latent_dim:
            if z is None:
                raise ValueError(f"the mapping network needs z (N, {self.latent_dim}), got None")
            parts.append(normalize_2nd_moment(z.float()))
        if self.embed is not None:
            if labels is None:
                raise ValueError(f"the conditional mapping network needs labels (N,) in [0, {self.num_classes})")
            one_hot = F.one_hot(labels, self.num_classes).float()
            parts.append(normalize_2nd_moment(self.embed(one_hot)))
        return self.layers(torch.cat(parts, dim=1))


class StyleMapping(nn.Module):
    """G's mapping: z (N, Z), labels (N,) | None -> ws (N, L, W), the same w for each of the
    synthesis network's L inputs.

    In train mode it updates ``w_avg`` (a buffer, (W,)) toward the batch mean of w; in eval mode,
    with ``truncation`` psi < 1, w becomes ``w_avg + psi * (w - w_avg)`` (the truncation trick).
    """

    w_avg: Tensor  # (W,), a buffer

    def __init__(self, network: MappingNetwork, num_ws: int, truncation: float):
        super().__init__()
        self.network, self.num_ws, self.truncation = network, num_ws, truncation
        self.register_buffer("w_avg", torch.zeros(network.w_dim))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        w = self.network(z, labels)
        if self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg, W_AVG_DECAY))
        elif self.truncation != 1.0:
            w = self.w_avg.to(w.dtype).lerp(w, self.truncation)
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)
