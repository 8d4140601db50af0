"""``train.fast_dropout``: uniform-noise dropout masks, the same distribution as ``nn.Dropout``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganfw.engine import assemble
from ganfw.fast_dropout import UniformDropout, use_uniform_dropout
from ganfw.plugins import load_registry
from ganfw.progress import SilentReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.helpers.recipes import tiny_recipe


def test_masks_keep_1_minus_p_and_scale_the_survivors():
    torch.manual_seed(0)
    x = torch.ones(1000, 1000)
    y = UniformDropout(0.3).train()(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.7) < 0.003  # 1e6 draws: the standard error is 0.0005
    assert torch.allclose(y[kept], torch.tensor(1 / 0.7))
    assert abs(kept.float().mean(0).std().item() - (0.7 * 0.3 / 1000) ** 0.5) < 0.002  # independent draws


def test_gradients_flow_through_the_survivors_only():
    torch.manual_seed(1)
    x = torch.randn(64, 8, requires_grad=True)
    y = UniformDropout(0.5).train()(x)
    y.sum().backward()
    assert torch.equal(x.grad, (y != 0).float() * 2)


def test_eval_mode_and_p_zero_are_the_identity_and_p_one_drops_everything():
    x = torch.randn(4, 3, 5, 5)
    assert UniformDropout(0.3).eval()(x) is x and UniformDropout(0.0).train()(x) is x
    assert torch.equal(UniformDropout(1.0).train()(x), torch.zeros_like(x))


def test_bf16_inputs_keep_their_dtype():
    x = torch.randn(16, 16, dtype=torch.bfloat16)
    assert UniformDropout(0.3).train()(x).dtype == torch.bfloat16


def test_every_plain_dropout_is_replaced_in_place():
    class Custom(nn.Dropout):  # a plugin's own dropout subclass is left alone
        pass

    net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.2), nn.Sequential(nn.Dropout(0.4), Custom(0.1)))
    before = net.state_dict()
    assert use_uniform_dropout(net) == 2
    dropouts = [(type(m).__name__, m.p) for m in net.modules() if isinstance(m, nn.Dropout)]
    assert dropouts == [("UniformDropout", 0.2), ("UniformDropout", 0.4), ("Custom", 0.1)]
    assert net.state_dict().keys() == before.keys()


@pytest.mark.parametrize("fast", [True, False])
def test_the_trainer_swaps_dropout_on_the_cpu_as_the_recipe_says(tmp_path, mnist_root, fast):
    path = tiny_recipe(
        tmp_path / "r.toml",
        mnist_root,
        discriminator={"name": "dcgan", "params": {"widths": [4, 8]}},
        train={"fast_dropout": fast},
    )
    trainer = assemble(load_recipe(path, load_registry()), RunDir(tmp_path / "run"), SilentReporter())
    kinds = {type(m) for m in trainer.parts.D.modules() if isinstance(m, nn.Dropout)}
    assert kinds == ({UniformDropout} if fast else {nn.Dropout})
