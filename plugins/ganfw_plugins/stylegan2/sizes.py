"""Which resolutions a StyleGAN2 network works at, and how many channels each gets."""

from __future__ import annotations

from ganfw.plugin import ImageShape, UserError


def resolutions(image_shape: ImageShape, channel_base: int, who: str) -> list[int]:
    """The sides from the smallest (4..7, where G starts from a learned constant and D ends) up to
    the image's, doubling: (C, 32, 32) -> [4, 8, 16, 32]; (C, 28, 28) -> [7, 14, 28].

    Raises :class:`UserError` for images that are not square, whose side is not 4..7 times a
    power of two, or smaller than 8, or wider than ``channel_base`` (a layer would get no channel).
    """
    _, height, width = image_shape
    if height != width:
        raise UserError(f"{who} needs square images, got {height}x{width}")
    side, sides = height, [height]
    while side % 2 == 0 and side // 2 >= 4:
        side //= 2
        sides.insert(0, side)
    if not 4 <= side <= 7 or len(sides) < 2:
        raise UserError(
            f"{who} needs images of side 8 or more that is 4..7 times a power of two (8, 28, 32, 64, ...), got {height}"
        )
    if channel_base < height:
        raise UserError(
            f"{who}: channel_base {channel_base} is below the image side {height}, which would leave the "
            f"{height}x{height} layers without channels (channels = channel_base // side)"
        )
    return sides


def channels(side: int, channel_base: int, channel_max: int) -> int:
    """The channels of the layers working at ``side``: min(channel_base // side, channel_max)."""
    return min(channel_base // side, channel_max)
