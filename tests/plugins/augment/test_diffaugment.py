"""DiffAugment's transforms: shapes, gradients, seeded randomness, and what each one does to
images whose content is known."""

from __future__ import annotations

import itertools

import pytest
import tomli_w
import torch

from ganfw.contracts import Augmentation
from ganfw.params import ParamError, build
from ganfw.plugins import load_registry
from ganfw.recipe import load_recipe
from ganfw_plugins.augment import DiffAugmentParams
from ganfw_plugins.augment.diffaugment import DiffAugment, color, cutout, translation

POLICIES = [["color"], ["translation"], ["cutout"], ["color", "translation", "cutout"]]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def augment(*policy: str, **params) -> DiffAugment:
    return DiffAugment(DiffAugmentParams(policy=list(policy), **params))


def numbered(n: int = 16, c: int = 1, h: int = 8, w: int = 8) -> torch.Tensor:
    """Images whose pixels are 1, 2, 3, ... (no zeros): (n, c, h, w)."""
    return torch.arange(1, n * c * h * w + 1, dtype=torch.float32).view(n, c, h, w)


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_gradient_and_seeded_randomness(policy, channels):
    images = torch.randn(6, channels, 8, 8, requires_grad=True)
    transform = augment(*policy)
    torch.manual_seed(1)
    out = transform(images)
    assert out.shape == images.shape and out.dtype == images.dtype
    (out * torch.randn_like(out)).sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0
    torch.manual_seed(1)
    assert torch.equal(transform(images), out)
    assert not torch.equal(transform(images), out)  # the next call draws afresh


def shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C, H, W) moved down by ``dy`` and right by ``dx``, zeros shifted in."""
    out = torch.zeros_like(image)
    _, h, w = image.shape
    source = image[:, max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    out[:, max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = source
    return out


def test_translation_shifts_each_image_within_range_and_pads_with_zeros():
    images = numbered(n=64, c=2)
    out = translation(images, ratio=0.25)  # up to 2 pixels of 8 each way
    shifts = list(itertools.product(range(-2, 3), repeat=2))
    found = set()
    for image, result in zip(images, out):
        matches = [s for s in shifts if torch.equal(result, shifted(image, *s))]
        assert len(matches) == 1, "each output is its image, shifted by at most 2 pixels, zeros elsewhere"
        found.add(matches[0])
    assert len(found) > 10  # a shift per image, not one per batch
    assert (out == 0).any()


def test_translation_by_a_zero_ratio_is_the_identity():
    images = numbered()
    assert translation(images, ratio=0.0) is images


def test_cutout_zeroes_one_rectangle_per_image():
    images = numbered(n=64)
    out = cutout(images, ratio=0.5)  # a 4 x 4 square, clipped at the borders
    corners = set()
    for image, result in zip(images, out):
        zero = result[0] == 0
        rows, cols = zero.nonzero(as_tuple=True)
        top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
        assert zero[top : bottom + 1, left : right + 1].all() and zero.sum() == (bottom - top + 1) * (right - left + 1)
        assert 2 <= bottom - top + 1 <= 4 and 2 <= right - left + 1 <= 4
        assert torch.equal(result[0][~zero], image[0][~zero])
        corners.add((top.item(), left.item()))
    assert len(corners) > 10


def test_cutout_gradient_is_zero_inside_the_hole():
    images = torch.rand(4, 1, 8, 8).add(1).requires_grad_(True)
    out = cutout(images, ratio=0.5)
    out.sum().backward()
    assert torch.equal(images.grad, (out != 0).float())


@pytest.mark.parametrize("channels", [1, 3])
def test_color_on_a_flat_image_only_shifts_its_brightness(channels):
    # saturation and contrast scale deviations from a mean, and a flat image has none
    images = torch.full((256, channels, 4, 4), 0.25)
    offsets = color(images) - images
    per_image = offsets[:, :1, :1, :1]
    assert torch.allclose(offsets, per_image.expand_as(offsets), atol=1e-6)
    assert per_image.min() >= -0.5 and per_image.max() < 0.5 and per_image.std() > 0.2


def test_color_saturation_applies_to_rgb_only():
    # on a grey image (equal channels), saturation does nothing, but it still draws its factor
    grey = torch.rand(8, 1, 4, 4).expand(8, 3, 4, 4)
    torch.manual_seed(2)
    rgb = color(grey)
    torch.manual_seed(2)
    single = color(grey[:, :1])
    assert torch.allclose(rgb, rgb[:, :1].expand_as(rgb))
    assert not torch.allclose(rgb[:, :1], single)  # RGB drew one more factor per image first


def test_color_contrast_scales_deviations_from_the_image_mean():
    images = torch.randn(64, 1, 4, 4)
    out = color(images)
    ratio = (out - out.mean(dim=(1, 2, 3), keepdim=True)).flatten(1).norm(dim=1) / (
        images - images.mean(dim=(1, 2, 3), keepdim=True)
    ).flatten(1).norm(dim=1)
    assert ratio.min() >= 0.5 - 1e-5 and ratio.max() <= 1.5 + 1e-5 and ratio.std() > 0.1


@pytest.mark.parametrize(("policy", "message"), [([], "empty"), (["cutout", "cutout"], "twice"), (["blur"], "one of")])
def test_bad_policies_are_refused(policy, message):
    with pytest.raises(ParamError, match=message):
        build(DiffAugmentParams, {"policy": policy})


def test_builds_through_a_recipe(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text(
        tomli_w.dumps(
            {
                "generator": {"name": "mlp"},
                "discriminator": {"name": "mlp"},
                "augment": {"name": "diffaugment", "params": {"policy": ["color"]}},
            }
        )
    )
    recipe = load_recipe(path, load_registry())
    transform = recipe.augment.build()
    assert isinstance(transform, Augmentation) and transform.transforms == [color]
    assert recipe.resolved()["augment"] == {
        "name": "diffaugment",
        "params": {"policy": ["color"], "translation": 0.125, "cutout": 0.5},
    }
