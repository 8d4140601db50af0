"""The channel schedule of the residual networks: how many blocks an image side takes and how wide
each one is, as multiples of the base width ``ch``.

An image side ``S`` is ``b * 2^k`` with ``b`` in 4..7 and ``k`` in 2..6: G starts from a ``b x b``
map and doubles it ``k`` times (``k`` up-blocks), D halves it as often. The multipliers are those
of pfnet-research/sngan_projection (commit e84b1a5), whose generators default to ``ch = 64``:

======= ==== ============================ ===========================================
side    k    G: bottom map, then blocks   D: blocks (``v``: halves the side)
======= ==== ============================ ===========================================
16-28   2    4, 4, 4                      2v, 2v, 2, 2 (the 32 px D)
32-56   3    4, 4, 4, 4 (resnet_32)       2v, 2v, 2, 2 (snresnet_32)
64-112  4    16, 8, 4, 2, 1 (resnet_64)   1v, 2v, 4v, 8v, 16v (snresnet_64)
128-224 5    16, 16, 8, 4, 2, 1 (resnet)  1v, 2v, 4v, 8v, 16v, 16 (snresnet)
256-448 6    16, 16, 8, 8, 4, 2, 1        1v, 2v, 4v, 8v, 8v, 16v, 16 (snresnet_256)
======= ==== ============================ ===========================================

With ``ch = 64`` the 32 px networks are SNGAN's CIFAR-10 ones (G 256 channels, D 128); above,
the reference's widths (G from 1024 channels down to 64). The D's first block is the "optimised"
one that reads the image.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganfw.plugin import ImageShape, UserError

#: G's multipliers per number of up-blocks ``k``: the bottom map's, then each block's output.
GENERATOR_MULTIPLIERS: dict[int, tuple[int, ...]] = {
    2: (4, 4, 4),
    3: (4, 4, 4, 4),
    4: (16, 8, 4, 2, 1),
    5: (16, 16, 8, 4, 2, 1),
    6: (16, 16, 8, 8, 4, 2, 1),
}

#: D's blocks per ``k``: (multiplier, halves the side), the first one reading the image.
DISCRIMINATOR_MULTIPLIERS: dict[int, tuple[tuple[int, bool], ...]] = {
    2: ((2, True), (2, True), (2, False), (2, False)),
    3: ((2, True), (2, True), (2, False), (2, False)),
    4: ((1, True), (2, True), (4, True), (8, True), (16, True)),
    5: ((1, True), (2, True), (4, True), (8, True), (16, True), (16, False)),
    6: ((1, True), (2, True), (4, True), (8, True), (8, True), (16, True), (16, False)),
}


@dataclass(frozen=True)
class Layout:
    """Where a side ``S = bottom * 2^up_blocks`` puts the blocks.

    Attributes:
        bottom: side of G's first feature map (4..7).
        up_blocks: G's up-blocks (each doubles the side), 2..6.
    """

    bottom: int
    up_blocks: int

    def generator_widths(self, ch: int) -> list[int]:
        """Channels of G's bottom map, then of each up-block's output (``up_blocks + 1``)."""
        return [ch * m for m in GENERATOR_MULTIPLIERS[self.up_blocks]]

    def discriminator_blocks(self, ch: int) -> list[tuple[int, bool]]:
        """(channels, halves the side) of each of D's blocks, the first one reading the image."""
        return [(ch * m, down) for m, down in DISCRIMINATOR_MULTIPLIERS[self.up_blocks]]


def layout(image_shape: ImageShape, who: str) -> Layout:
    """The layout of square images ``(C, S, S)``; ``who`` names the network in the refusal.

    Raises:
        UserError: the images are not square, or their side is not ``b * 2^k`` (b 4..7, k 2..6).
    """
    _, height, width = image_shape
    for k in GENERATOR_MULTIPLIERS:
        bottom, rest = divmod(height, 2**k)
        if height == width and rest == 0 and 4 <= bottom <= 7:
            return Layout(bottom, k)
    raise UserError(
        f"the {who} takes square images of side b * 2^k (b 4..7, k 2..6: 16 to 448, e.g. 28, 32, 64, 128, 256), "
        f"got {height}x{width}: resize the data (image-folder: data.params.image_size)"
    )
