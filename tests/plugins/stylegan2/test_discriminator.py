"""The StyleGAN2 discriminator: minibatch standard deviation ties each image's logit to the others
of its group and no other; residual and plain blocks; the conditional projection; refusals."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ganfw.plugin import UserError
from ganfw_plugins.stylegan2 import ConditionalStyleGAN2DiscriminatorParams, StyleGAN2DiscriminatorParams
from ganfw_plugins.stylegan2.discriminator import MinibatchStd, StyleGAN2Discriminator

SMALL = StyleGAN2DiscriminatorParams(channel_base=64, channel_max=8)


def discriminator(params=SMALL, shape=(3, 32, 32), num_classes=0) -> StyleGAN2Discriminator:
    torch.manual_seed(0)
    return StyleGAN2Discriminator(params, shape, num_classes).eval()


def images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_minibatch_std_appends_each_groups_standard_deviation():
    """Groups of 2 in a batch of 4 are images {0, 2} and {1, 3} (image i in group i mod N/G)."""
    x = torch.tensor([0.0, 10.0, 2.0, 10.0]).reshape(4, 1, 1, 1).expand(4, 2, 3, 3)
    out = MinibatchStd(group_size=2, num_channels=1)(x)
    assert out.shape == (4, 3, 3, 3) and torch.equal(out[:, :2], x)
    expected = torch.tensor([1.0, 1e-4, 1.0, 1e-4])  # std of {0, 2}; sqrt(0 + 1e-8) for {10, 10}
    torch.testing.assert_close(out[:, 2, 0, 0], expected)
    assert MinibatchStd(group_size=4, num_channels=1)(x[:3]).shape == (3, 3, 3, 3)  # gcd(3, 4) = 1


def test_an_images_logit_depends_on_the_other_images_of_its_group_only():
    D = discriminator(dataclasses.replace(SMALL, mbstd_group=2))
    x = images(4)
    changed = x.clone()
    changed[2] = -changed[2]  # in image 0's group, not in image 1's
    before, after = D(x), D(changed)
    assert before[0] != after[0] and before[1] == after[1] and before[3] == after[3]


def test_the_residual_discriminator_adds_a_skip_to_every_block():
    plain, residual = discriminator(dataclasses.replace(SMALL, residual=False)), discriminator()
    assert all(block.skip is None for block in plain.blocks)
    assert all(block.skip is not None for block in residual.blocks) and len(residual.blocks) == 3  # 32, 16, 8
    assert plain(images(2)).shape == residual(images(2)).shape == (2,)


def test_the_conditional_discriminator_projects_on_the_mapped_label():
    params = ConditionalStyleGAN2DiscriminatorParams(channel_base=64, channel_max=8, mapping_layers=2)
    D = discriminator(params, num_classes=3)
    x = images(1).expand(3, -1, -1, -1)
    features = D.epilogue(D.blocks(x))  # (3, 8): the projection length is the head's width
    expected = (features * D.label_mapping(None, torch.tensor([0, 1, 2]))).sum(dim=1) / 8**0.5
    torch.testing.assert_close(D(x, torch.tensor([0, 1, 2])), expected)
    assert len(set(expected.tolist())) == 3


def test_a_head_the_minibatch_features_do_not_divide_is_refused():
    with pytest.raises(UserError, match="^discriminator 'stylegan2': mbstd_channels 3 does not divide the 8 channels"):
        discriminator(dataclasses.replace(SMALL, mbstd_channels=3))


def test_a_conditional_discriminator_without_the_conditional_params_is_refused():
    """The label mapping's size comes from ``ConditionalStyleGAN2DiscriminatorParams``."""
    with pytest.raises(
        TypeError, match="needs ConditionalStyleGAN2DiscriminatorParams .* got StyleGAN2DiscriminatorParams"
    ):
        discriminator(SMALL, num_classes=3)
