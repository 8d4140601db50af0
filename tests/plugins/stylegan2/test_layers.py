"""StyleGAN2's layers: the modulated convolution equals convolving each sample with its own
modulated (and demodulated) weights, the low-pass resampling keeps flat images flat, and the
equalised learning rate scales weights at run time."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from ganfw_plugins.stylegan2.layers import EqualConv2d, EqualLinear, LowPass
from ganfw_plugins.stylegan2.synthesis import modulated_conv2d


def per_sample(x, weight, styles, demodulate, up):
    """The definition (Karras et al. 2020, eqs. 1 and 3): sample n is convolved with
    w'_oik = s_i w_oik, divided by sqrt(sum_ik w'^2 + 1e-8) when demodulating."""
    outputs = []
    for n in range(len(x)):
        w = weight * styles[n][None, :, None, None]
        if demodulate:
            w = w / (w.square().sum(dim=(1, 2, 3), keepdim=True) + 1e-8).sqrt()
        if up is None:
            outputs.append(F.conv2d(x[n : n + 1], w, padding=weight.shape[-1] // 2))
        else:
            outputs.append(up.blur(F.conv_transpose2d(x[n : n + 1], w.transpose(0, 1), stride=2), padding=1) * 4)
    return torch.cat(outputs)


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("upsample", [False, True])
def test_the_modulated_convolution_is_a_convolution_per_sample(demodulate, upsample):
    g = torch.Generator().manual_seed(0)
    x, weight, styles = (
        torch.randn(3, 4, 5, 5, generator=g),
        torch.randn(6, 4, 3, 3, generator=g),
        torch.randn(3, 4, generator=g),
    )
    up = LowPass() if upsample else None
    got = modulated_conv2d(x, weight, styles, demodulate=demodulate, up=up)
    assert got.shape == (3, 6, 10, 10) if upsample else (3, 6, 5, 5)
    torch.testing.assert_close(got, per_sample(x, weight, styles, demodulate, up), rtol=1e-4, atol=1e-5)


def test_demodulation_removes_the_scale_of_the_styles():
    g = torch.Generator().manual_seed(1)
    x, weight, styles = (
        torch.randn(2, 4, 6, 6, generator=g),
        torch.randn(5, 4, 3, 3, generator=g),
        torch.randn(2, 4, generator=g),
    )
    out = modulated_conv2d(x, weight, styles, demodulate=True, up=None)
    torch.testing.assert_close(modulated_conv2d(x, weight, 7.0 * styles, demodulate=True, up=None), out)
    assert not torch.allclose(modulated_conv2d(x, weight, 7.0 * styles, demodulate=False, up=None), out)


def test_the_low_pass_filter_resamples_a_flat_image_to_a_flat_image():
    """Inside the border, [1, 3, 3, 1] (normalised; times 4 when upsampling) keeps a constant."""
    low_pass, flat = LowPass(), torch.full((1, 2, 8, 8), 0.5)
    up, down = low_pass.up(flat), low_pass.down(flat)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    torch.testing.assert_close(up[..., 2:-2, 2:-2], torch.full((1, 2, 12, 12), 0.5))
    torch.testing.assert_close(down[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 0.5))


def test_the_downsampling_convolution_halves_the_side():
    conv = EqualConv2d(3, 5, 3, down=True)
    assert conv(torch.zeros(2, 3, 8, 8)).shape == (2, 5, 4, 4)
    assert EqualConv2d(3, 5, 1, bias=False, down=True)(torch.zeros(2, 3, 8, 8)).shape == (2, 5, 4, 4)


def test_the_equalised_learning_rate_scales_at_run_time():
    """Stored weights are N(0, 1) / lr_multiplier; the layer uses them times lr / sqrt(fan_in), so
    a stored weight of 1 / lr_multiplier acts as 1 / sqrt(fan_in), and the bias as stored * lr."""
    layer = EqualLinear(4, 1, lr_multiplier=0.01, bias_init=2.0)
    with torch.no_grad():
        layer.weight.fill_(1.0 / 0.01)
    assert layer(torch.ones(1, 4)).item() == pytest.approx(4 / math.sqrt(4) + 2.0 * 0.01)
