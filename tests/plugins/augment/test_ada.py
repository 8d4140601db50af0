"""ADA: p adapting to scripted reports of D's confidence, an exact resume, the contract, and what each
transform does to images whose content is known (identity at p = 0, differentiable at p = 1)."""

from __future__ import annotations

import json
import math

import pytest
import torch

import ganfw_plugins.augment
from ganfw.contracts import StepReport
from ganfw.errors import UserError
from ganfw.testing import check_component, plugin_specs
from ganfw_plugins.augment import AdaParams
from ganfw_plugins.augment.ada import ADA
from ganfw_plugins.augment.ada_transforms import (
    TRANSFORMS,
    hue_rotation,
    move_pixels,
    recolour,
    rotate2d,
    scale2d,
    translate2d,
    warp,
)

(SPEC,) = [s for s in plugin_specs(ganfw_plugins.augment) if s.name == "ada"]
EVERY_GROUP = ["blit", "geometric", "color", "noise", "cutout"]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def report(step: int, real_sign: float, trained_d: bool = True, images: int = 64) -> StepReport:
    return StepReport(
        step=step, d_loss=1.0, g_loss=1.0, d_real=0.5, d_fake=0.5, acc_real=0.5, acc_fake=0.5,
        trained_d=trained_d, trained_g=True, real_sign=real_sign, images=images,
    )  # fmt: skip


def observe(ada: ADA, signs: list[float], start: int = 0, images: int = 64) -> None:
    for i, sign in enumerate(signs):
        ada.observe(report(start + i, sign, images=images))


# --- the adaptation ------------------------------------------------------------------------------


def test_p_rises_while_d_is_sure_of_the_real_images_and_reaches_1_in_500k_images():
    ada = ADA(AdaParams())  # interval 4, target 0.6, 500 kimg; steps of 64 images
    step = 64 * 4 / 500_000
    observe(ada, [1.0] * 3)
    assert ada.p == 0.0  # adjusted once an interval is complete
    observe(ada, [1.0], 3)
    assert ada.p == pytest.approx(step) and ada.log() == {"p": ada.p, "rt": 1.0}
    observe(ada, [1.0] * (4 * 1951), 4)  # 1952 intervals: 499,712 images
    assert ada.p == pytest.approx(1952 * step) and ada.p < 1.0
    observe(ada, [1.0] * 8)  # 500,224 images
    assert ada.p == 1.0


def test_p_falls_while_d_is_unsure_and_stops_at_0():
    ada = ADA(AdaParams(p=0.002, speed_kimg=100))  # steps of 50 images: a change of 0.002
    observe(ada, [0.5, 0.5, 0.4, 0.6], images=50)
    assert ada.p == 0.0 and ada.rt == pytest.approx(0.5)
    observe(ada, [-1.0] * 8, images=50)
    assert ada.p == 0.0 and ada.rt == -1.0


def test_r_t_is_the_mean_over_the_interval_and_p_holds_at_the_target():
    ada = ADA(AdaParams(p=0.5, interval=2))
    observe(ada, [1.0, 0.2])
    assert ada.rt == pytest.approx(0.6) and ada.p == 0.5
    observe(ada, [1.0, 0.0])
    assert ada.rt == 0.5 and ada.p < 0.5


def test_steps_without_a_d_update_are_not_counted():
    ada = ADA(AdaParams(interval=2))
    ada.observe(report(0, 1.0))
    ada.observe(report(1, -1.0, trained_d=False))
    assert ada.state_dict()["count"] == 1
    ada.observe(report(2, 1.0))
    assert ada.rt == 1.0 and ada.p > 0


def test_a_fixed_p_does_not_adapt():
    ada = ADA(AdaParams(p=0.3, adaptive=False))
    observe(ada, [1.0] * 40)
    assert ada.p == 0.3


def test_a_resume_from_the_state_continues_exactly():
    """Mid-interval state through JSON: the same p, r_t and augmented images as without the break."""
    params = AdaParams(p=0.25, interval=3, policy=EVERY_GROUP)
    signs = [1.0, 0.9, 0.7, 0.2, 1.0, 0.8, 0.9, 1.0, 0.95, 0.3, 0.85]
    whole, first = ADA(params), ADA(params)
    observe(whole, signs, images=4000)
    observe(first, signs[:5], images=4000)
    assert first.state_dict()["count"] == 2
    resumed = ADA(params)
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    observe(resumed, signs[5:], 5, images=4000)
    assert resumed.state_dict() == whole.state_dict() and resumed.p != 0.25
    images = torch.rand(6, 3, 16, 16) * 2 - 1
    torch.manual_seed(7)
    expected = whole(images)
    torch.manual_seed(7)
    assert torch.equal(resumed(images), expected)


# --- the contract --------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("params", [None, {"p": 0.5}, {"p": 1.0, "policy": EVERY_GROUP}])
def test_ada_keeps_the_contract(params, shape):
    check_component(SPEC, shape, params=params)


def test_bad_policies_are_refused():
    with pytest.raises(ValueError, match="policy is empty"):
        AdaParams(policy=[])
    with pytest.raises(ValueError, match="names a transform twice"):
        AdaParams(policy=["blit", "color", "blit"])


def test_blit_and_geometric_refuse_images_that_are_not_square():
    ada = ADA(AdaParams(p=1.0))
    with pytest.raises(UserError, match="ada's blit transforms need square images, got 8x12"):
        ada(torch.zeros(2, 1, 8, 12))


# --- the transforms ------------------------------------------------------------------------------


def test_p_0_gives_the_images_themselves():
    images = torch.rand(4, 3, 8, 8, requires_grad=True)
    assert ADA(AdaParams(policy=EVERY_GROUP))(images) is images


@pytest.mark.parametrize("group", EVERY_GROUP)
def test_each_group_is_differentiable_twice(group):
    """Every image gets a finite, non-zero gradient, and R1 through the augmented D (a double
    backward) reaches D's weights."""
    images = (torch.rand(8, 3, 16, 16) * 2 - 1).requires_grad_(True)
    weight = torch.nn.Parameter(torch.randn(3, 3, 3, 3))
    logits = torch.nn.functional.conv2d(TRANSFORMS[group](images, 1.0), weight).square().sum((1, 2, 3))
    (grad,) = torch.autograd.grad(logits.sum(), images, create_graph=True)
    assert torch.isfinite(grad).all() and (grad.flatten(1).abs().sum(1) > 0).all()
    grad.square().sum().backward()
    assert torch.isfinite(weight.grad).all() and weight.grad.abs().sum() > 0


#: The share of grey 8x8 images a group changes at p = 0.3, from its independent transforms: blit's
#: flip changes half of the images it picks, a quarter turn 3/4, a translation 3/4 (rounded to 0
#: otherwise); geometric's two rotations count as one of probability p; grey colour is brightness,
#: contrast and a luma flip (half).
CHANGED_AT_0_3 = {
    "blit": 1 - (1 - 0.3 * 0.5) * (1 - 0.3 * 0.75) ** 2,
    "geometric": 1 - 0.7**4,
    "color": 1 - 0.7**2 * (1 - 0.3 * 0.5),
    "noise": 0.3,
    "cutout": 0.3,
}


@pytest.mark.parametrize("group", EVERY_GROUP)
def test_each_image_is_transformed_with_probability_p(group):
    images = torch.rand(2000, 1, 8, 8) * 2 - 1
    out = TRANSFORMS[group](images, 0.3)
    changed = (out != images).flatten(1).any(1).float().mean().item()
    assert changed == pytest.approx(CHANGED_AT_0_3[group], abs=0.035)


def numbered(n: int = 1, c: int = 1, side: int = 4) -> torch.Tensor:
    return torch.arange(n * c * side * side, dtype=torch.float32).view(n, c, side, side)


def test_move_pixels_flips_turns_and_shifts_with_the_border_mirrored():
    x = numbered(side=5)
    no_shift = torch.zeros(1, 2, dtype=torch.long)
    for k in range(4):
        turned = move_pixels(x, torch.tensor([False]), torch.tensor([k]), no_shift)
        assert torch.equal(turned, torch.rot90(x, k, (2, 3)))
    flipped_and_turned = move_pixels(x, torch.tensor([True]), torch.tensor([1]), no_shift)
    assert torch.equal(flipped_and_turned, torch.rot90(x.flip(3), 1, (2, 3)))
    shifted = move_pixels(x, torch.tensor([False]), torch.tensor([0]), torch.tensor([[2, -1]]))
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2), mode="reflect")  # mirrored, the edge once
    assert torch.equal(shifted, padded[:, :, 3:8, 0:5])  # right by 2, up by 1


def test_blit_only_moves_pixels():
    x = numbered(n=64, side=8)
    out = TRANSFORMS["blit"](x, 1.0)
    assert all(set(out[i].flatten().tolist()) <= set(x[i].flatten().tolist()) for i in range(64))
    assert sum(torch.equal(out[i], x[i]) for i in range(64)) < 8


def test_warp_resamples_through_the_inverse_map():
    x = torch.rand(3, 2, 8, 8)
    quarter = warp(x, rotate2d(torch.full((3,), math.pi / 2)))
    torch.testing.assert_close(quarter, torch.rot90(x, 1, (2, 3)))
    moved = warp(x, translate2d(torch.tensor([-1.0, 0.0, 0.0]), torch.zeros(3)))  # right by one pixel
    torch.testing.assert_close(moved[0, :, :, 1:], x[0, :, :, :-1])
    torch.testing.assert_close(moved[0, :, :, 0], x[0, :, :, 0])  # the edge pixel mirrored in
    assert torch.equal(moved[1:], x[1:])  # identities are the images themselves
    zoomed = warp(x, scale2d(torch.full((3,), 0.5), torch.full((3,), 0.5)))  # 2x: the centre 4x4 fills it
    torch.testing.assert_close(zoomed[:, :, 3:5, 3:5].mean((2, 3)), x[:, :, 3:5, 3:5].mean((2, 3)))


def colour_map(brightness: float = 0.0, contrast: float = 1.0) -> torch.Tensor:
    m = torch.diag(torch.tensor([contrast, contrast, contrast, 1.0]))
    m[:3, 3] = brightness
    return m.unsqueeze(0)


def test_recolour_brightness_contrast_saturation_hue_and_the_grey_luma_flip():
    rgb = torch.rand(1, 3, 4, 4) * 2 - 1
    torch.testing.assert_close(recolour(rgb, colour_map(brightness=0.25)), rgb + 0.25)
    torch.testing.assert_close(recolour(rgb, colour_map(contrast=0.5)), rgb * 0.5)
    luma = torch.full((4,), 1 / math.sqrt(3.0))
    luma[3] = 0
    grey = recolour(rgb, torch.outer(luma, luma).unsqueeze(0) + torch.diag(torch.tensor([0, 0, 0, 1.0])))
    torch.testing.assert_close(grey, rgb.mean(1, keepdim=True).expand(-1, 3, -1, -1))  # saturation 0
    turned = recolour(rgb, hue_rotation(torch.tensor([2 * math.pi / 3])))
    torch.testing.assert_close(turned, rgb[:, [2, 0, 1]])  # a third of a turn around grey: R <- B <- G
    one = torch.rand(1, 1, 4, 4) * 2 - 1
    flip = torch.eye(4) - 2 * torch.outer(luma, luma)
    torch.testing.assert_close(recolour(one, flip.unsqueeze(0)), -one)
