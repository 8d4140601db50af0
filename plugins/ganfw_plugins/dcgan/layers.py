"""Layers shared by the built-in models: TensorFlow-'same' convolutions and activations.

TensorFlow's ``padding="same"`` gives ``out = ceil(in / s)`` and pads
``total = max((out - 1) * s + k - in, 0)`` pixels per spatial axis, the smaller half
(``total // 2``) before and the rest after. PyTorch's ``padding=k // 2`` pads both sides
equally, so a stride-2 5x5 kernel on 28 pixels sits one pixel off TensorFlow's (TF pads 1 before
and 2 after). ``padding="tf-same"`` reproduces TensorFlow exactly for any kernel and stride;
``"symmetric"`` is PyTorch's padding with the same output sizes (odd kernels only).
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from ganfw_plugins.dcgan import Padding


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding ``(before, after)`` for one axis of ``size`` pixels."""
    total = max((same_out_size(size, stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def same_out_size(size: int, stride: int) -> int:
    """Output length of a 'same' convolution (either padding mode): ``ceil(size / stride)``."""
    return -(-size // stride)


class TFSameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow's 'same' padding, worked out from each input's size.

    (N, C_in, H, W) -> (N, C_out, ceil(H / s), ceil(W / s)).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel, stride, padding=0, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = tf_same_pads(x.shape[-2], kh, sh)
        left, right = tf_same_pads(x.shape[-1], kw, sw)
        return super().forward(F.pad(x, (left, right, top, bottom)))


class TFSameConvTranspose2d(nn.ConvTranspose2d):
    """TensorFlow's ``conv2d_transpose`` with 'same' padding: the adjoint (gradient) of a
    :class:`TFSameConv2d` with the same weights that maps (H * s, W * s) to (H, W).

    (N, C_in, H, W) -> (N, C_out, H * s, W * s). The full transposed convolution has
    ``(H - 1) * s + k`` rows; the forward conv's ``(before, after)`` padding is cropped off. When
    ``k < s`` the full result is shorter than ``H * s`` and the forward conv never reads the last
    rows, so the "crop" after is negative: those rows are zeros (``F.pad`` crops with negative
    widths and pads with positive ones).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel, stride, padding=0, bias=bias)

    # torch's forward also takes output_size; this layer's output size is TensorFlow's, from x alone
    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        full = super().forward(x)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        top, bottom = _crop(full.shape[-2], x.shape[-2] * sh, kh, sh)
        left, right = _crop(full.shape[-1], x.shape[-1] * sw, kw, sw)
        return F.pad(full, (-left, -right, -top, -bottom))


def _crop(full: int, out: int, kernel: int, stride: int) -> tuple[int, int]:
    """Pixels to cut ``(before, after)`` from a full transposed conv of length ``full`` to get
    TensorFlow's ``out`` (``after`` is negative where zeros must be appended instead)."""
    before, _ = tf_same_pads(out, kernel, stride)
    return before, full - before - out


def _check_symmetric(kernel: int) -> None:
    if kernel % 2 == 0:
        raise ValueError(
            f'padding "symmetric" keeps TensorFlow\'s output sizes only for odd kernels, got {kernel}; use "tf-same"'
        )


def conv2d(
    in_channels: int, out_channels: int, kernel: int, stride: int, padding: Padding, bias: bool = True
) -> nn.Conv2d:
    """A 'same' convolution: (N, C_in, H, W) -> (N, C_out, ceil(H / s), ceil(W / s))."""
    if padding == "tf-same":
        return TFSameConv2d(in_channels, out_channels, kernel, stride, bias=bias)
    _check_symmetric(kernel)
    return nn.Conv2d(in_channels, out_channels, kernel, stride, padding=kernel // 2, bias=bias)


def conv_transpose2d(
    in_channels: int, out_channels: int, kernel: int, stride: int, padding: Padding, bias: bool = True
) -> nn.ConvTranspose2d:
    """A 'same' transposed convolution: (N, C_in, H, W) -> (N, C_out, H * s, W * s)."""
    if padding == "tf-same":
        return TFSameConvTranspose2d(in_channels, out_channels, kernel, stride, bias=bias)
    _check_symmetric(kernel)
    return nn.ConvTranspose2d(
        in_channels, out_channels, kernel, stride, padding=kernel // 2, output_padding=stride - 1, bias=bias
    )


def activation(name: str, slope: float) -> nn.Module:
    """An elementwise activation: ``leaky_relu`` (negative slope ``slope``), ``relu``, ``gelu`` or
    ``silu``. Shape-preserving."""
    if name == "leaky_relu":
        return nn.LeakyReLU(slope)
    makers = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}
    if name not in makers:
        raise ValueError(f"unknown activation {name!r}; expected leaky_relu, {', '.join(makers)}")
    return makers[name]()
