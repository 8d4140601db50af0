"""The pixel-space metric ``sliced-wasserstein``: its patches, and what its distance sees."""

from __future__ import annotations

import pytest
import torch

from ganfw.contracts import Embedding
from ganfw.errors import UserError
from ganfw_plugins.metrics import SlicedWassersteinParams
from ganfw_plugins.metrics.pixels import SlicedWasserstein, random_patches


def pictures(n: int, seed: int, shift: float = 0.0, blur: bool = False) -> Embedding:
    """n RGB 12x12 images in [-1, 1]: smooth random fields (a coarse 3x3 grid upsampled) plus fine
    noise - without the noise when ``blur`` - shifted by ``shift``; no features needed."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.nn.functional.interpolate(torch.rand(n, 3, 3, 3, generator=g), size=12, mode="bilinear")
    noise = torch.zeros(n, 3, 12, 12) if blur else (torch.rand(n, 3, 12, 12, generator=g) - 0.5) * 0.6
    images = (coarse * 1.2 - 0.6 + noise + shift).clamp(-1, 1)
    return Embedding(torch.zeros(n, 1), torch.zeros(n, 0), images=images)


def swd(generated: Embedding, reference: Embedding, **params) -> float:
    torch.manual_seed(0)
    return SlicedWasserstein(SlicedWassersteinParams(**params)).compute(generated, reference).scores["swd"]


def test_patches_are_the_pixels_at_random_places():
    images = torch.arange(2 * 3 * 5 * 6, dtype=torch.float32).reshape(2, 3, 5, 6)
    torch.manual_seed(0)
    patches = random_patches(images, 3, 4)
    assert patches.shape == (8, 27)
    for row, patch in enumerate(patches.reshape(8, 3, 3, 3)):
        image = images[row // 4]
        matches = [(t, s) for t in range(3) for s in range(4) if torch.equal(image[:, t : t + 3, s : s + 3], patch)]
        assert len(matches) == 1
    assert torch.equal(random_patches(images, 0, 4), images.flatten(1))


def test_distance_is_small_between_samples_of_one_distribution_and_grows_with_what_differs():
    reference = pictures(300, seed=1)
    same = swd(pictures(300, seed=2), reference)
    assert swd(reference, reference, patch=0) == pytest.approx(0.0, abs=1e-12)  # whole images: the same sets
    assert swd(reference, reference) < 1.5 * same  # patches drawn at other places: one distribution
    for other in (pictures(300, seed=2, shift=0.2), pictures(300, seed=2, blur=True)):  # a colour cast, blur
        assert swd(other, reference) > 2 * same, (swd(other, reference), same)


def test_it_needs_the_images_and_patches_that_fit():
    with pytest.raises(UserError, match="sliced-wasserstein reads the images themselves, and none were given"):
        swd(Embedding(torch.zeros(4, 1), torch.zeros(4, 0)), pictures(4, seed=1))
    with pytest.raises(UserError, match="patches of 13 pixels do not fit images of 12x12"):
        swd(pictures(4, seed=1), pictures(4, seed=2), patch=13)
    assert SlicedWasserstein.needs_images is True
