"""Weight initialisation schemes for the DCGAN models (the ``init`` parameter)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import Tensor, nn

from ganfw_plugins.dcgan import Init

#: Each scheme's initialiser of a weight tensor, in place.
_KERNEL_INITS: dict[str, Callable[[Tensor], Tensor]] = {
    # Keras's default kernel_initializer (Glorot & Bengio 2010); the fans of a conv kernel count
    # its receptive field in both frameworks, so the bound matches Keras's exactly.
    "keras": nn.init.xavier_uniform_,
    # Radford et al. 2016, "Unsupervised representation learning with deep convolutional GANs".
    "dcgan": partial(nn.init.normal_, mean=0.0, std=0.02),
}


def init_weights(module: nn.Module, scheme: Init) -> None:
    """Initialise every linear, conv and transposed-conv layer inside ``module`` in place.

    ``keras``: Glorot-uniform weights, zero biases; ``dcgan``: N(0, 0.02) weights, zero biases;
    ``torch``: PyTorch's defaults, untouched. Normalisation layers keep scale 1 and shift 0 (the
    default of both frameworks).
    """
    if scheme == "torch":
        return
    if scheme not in _KERNEL_INITS:
        raise ValueError(f"unknown init {scheme!r}; expected torch, {', '.join(_KERNEL_INITS)}")
    for layer in module.modules():
        if isinstance(layer, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            _KERNEL_INITS[scheme](layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
