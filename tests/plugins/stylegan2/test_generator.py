"""The StyleGAN2 generator: its mapping normalises z and broadcasts one w to every layer, tracks the
average w and truncates toward it in eval mode only; noise is fresh in train mode and fixed in
eval mode; every resolution's toRGB reaches the image; odd shapes are refused in one line."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ganfw.plugin import UserError
from ganfw_plugins.stylegan2 import StyleGAN2GeneratorParams
from ganfw_plugins.stylegan2.generator import StyleGAN2Generator
from ganfw_plugins.stylegan2.mapping import W_AVG_DECAY

SMALL = StyleGAN2GeneratorParams(latent_dim=8, w_dim=8, channel_base=64, channel_max=8)


def generator(params=SMALL, shape=(3, 32, 32), num_classes=0) -> StyleGAN2Generator:
    torch.manual_seed(0)
    return StyleGAN2Generator(params, shape, num_classes)


def noise(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 8, generator=torch.Generator().manual_seed(seed))


def test_the_mapping_normalises_z_and_gives_every_layer_the_same_w():
    G = generator().eval()
    z = noise(4)
    ws = G.mapping(z)
    assert ws.shape == (4, G.synthesis.num_ws, 8) and G.synthesis.num_ws == 8  # 7 convolutions + the last toRGB
    assert torch.equal(ws, ws[:, :1].expand_as(ws))
    torch.testing.assert_close(G.mapping(3.0 * z), ws)
    torch.testing.assert_close(G(z), G.synthesis(ws))


def test_a_mapping_network_with_a_latent_refuses_to_map_labels_alone():
    with pytest.raises(ValueError, match=r"^the mapping network needs z \(N, 8\), got None$"):
        generator(num_classes=3).mapping.network(None, torch.tensor([0, 1]))


def test_the_average_w_is_tracked_in_training_and_truncation_pulls_toward_it_in_eval_mode_only():
    params = dataclasses.replace(SMALL, truncation=0.0)
    G = generator(params)
    z = noise(4)
    w = G.mapping.network(z)
    G.train()(z)
    torch.testing.assert_close(G.mapping.w_avg, (1 - W_AVG_DECAY) * w.detach().mean(dim=0))
    assert not torch.equal(G(z)[0], G(z)[1])  # training never truncates
    images = G.eval()(z)  # psi = 0: every w is the average, and eval-mode noise is fixed
    assert torch.equal(images[0], images[1]) and torch.equal(images[0], images[3])


def test_noise_is_fresh_in_train_mode_and_fixed_in_eval_mode():
    G = generator()
    z = noise(2)
    with torch.no_grad():
        assert torch.equal(G.train()(z), G(z))  # the noise strengths start at 0
        for p in G.parameters():
            if p.ndim == 0:  # the learned noise strengths
                p.fill_(0.5)
        assert not torch.equal(G.train()(z), G(z))
        assert torch.equal(G.eval()(z), G(z))


def test_every_resolution_draws_into_the_image_through_its_torgb():
    G = generator()
    G(noise(2)).square().sum().backward()
    rgb_weights = [block.torgb.weight for block in G.synthesis.blocks]
    assert len(rgb_weights) == 4  # 4, 8, 16, 32
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in rgb_weights)


def test_a_conditional_generator_draws_each_class_differently():
    G = generator(num_classes=3).eval()
    z = noise(1).expand(3, -1)
    images = G(z, torch.tensor([0, 1, 2]))
    assert not torch.equal(images[0], images[1]) and not torch.equal(images[1], images[2])
    with pytest.raises(ValueError, match="needs labels"):
        G(z)


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((3, 32, 64), "needs square images, got 32x64"),
        (
            (3, 36, 36),
            r"needs images of side 8 or more that is 4..7 times a power of two \(8, 28, 32, 64, ...\), got 36",
        ),
        ((3, 4, 4), "needs images of side 8 or more .*, got 4"),
    ],
)
def test_images_it_cannot_make_are_refused_in_one_line(shape, message):
    with pytest.raises(UserError, match=f"^generator 'stylegan2' {message}$"):
        generator(shape=shape)


def test_a_channel_base_below_the_side_is_refused():
    params = dataclasses.replace(SMALL, channel_base=16)
    with pytest.raises(UserError, match="^generator 'stylegan2': channel_base 16 is below the image side 32"):
        generator(params)
