"""``train.accumulate = K``: a step's batch in K micro-batches whose gradients add up to the
update of the whole batch - equal to the unsplit step within float tolerance for every loss and
penalty that is a mean over images (networks without batch norm or dropout, whose outputs do not
depend on the rest of the batch)."""

from __future__ import annotations

import pytest
import torch

from ganfw.contracts import Batch, Decision
from ganfw.engine import assemble
from ganfw.plugins import load_registry
from ganfw.progress import SilentReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from ganfw.training.update import micro_batches
from tests.helpers.recipes import tiny_recipe

#: Losses and penalties whose value is a mean over images (the relativistic losses compare each
#: image with the batch's mean, and path length keeps a running mean per call: see docs/recipes.md).
LOSSES = {
    "non-saturating": {},
    "minimax": {},
    "hinge": {},
    "least-squares": {},
    "wasserstein-gp": {"gp_weight": 10.0, "drift": 0.001},
    "r1": {"gamma": 10.0, "every": 1},
    "r1-r2": {"base": "non-saturating", "gamma": 1.0, "every": 1},
}


def trainer(tmp_path, root, loss: str, params: dict, accumulate: int):
    path = tiny_recipe(
        tmp_path / f"{loss}-{accumulate}.toml", root,
        generator={"name": "mlp", "params": {"hidden": [32], "norm": "none", "latent_dim": 8}},
        discriminator={"name": "mlp", "params": {"hidden": [32], "dropout": 0.0}},
        loss={"name": loss, "params": params},
        train={"batch_size": 12, "accumulate": accumulate},
        # A large Adam epsilon makes the update proportional to the gradient, so that rounding-level
        # differences in summing micro-batches stay rounding-level instead of flipping sign(g) steps.
        optim={"generator": {"eps": 1.0}, "discriminator": {"eps": 1.0}},
    )  # fmt: skip
    return assemble(load_recipe(path, load_registry()), RunDir(tmp_path / f"run-{loss}-{accumulate}"), SilentReporter())


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("joint", [False, True], ids=["sequential", "joint"])
def test_an_accumulated_step_equals_the_whole_batch_step(tmp_path, mnist_root, loss, joint):
    whole, split = (trainer(tmp_path, mnist_root, loss, LOSSES[loss], k) for k in (1, 3))
    for step in range(3):
        real, z = whole.parts.data.images[12 * step : 12 * (step + 1)], torch.randn(12, 8)
        decision = Decision(True, True, joint=joint)
        torch.manual_seed(step)  # the same random draws (the gradient penalty's mixing weights) on both sides
        a = whole.update(Batch(real), z, None, decision)
        torch.manual_seed(step)
        b = split.update(Batch(real), z, None, decision)
        torch.testing.assert_close(b.d_loss, a.d_loss.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(b.g_loss, a.g_loss.detach(), rtol=1e-5, atol=1e-6)
        assert b.terms.keys() == a.terms.keys()
        torch.testing.assert_close(b.fake_logits, a.fake_logits.detach(), rtol=1e-5, atol=1e-6)
    for mine, theirs in ((split.parts.G, whole.parts.G), (split.parts.D, whole.parts.D)):
        for (name, x), y in zip(mine.state_dict().items(), theirs.state_dict().values()):
            torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=name)
    assert split.update.opt.updates == whole.update.opt.updates == {"d": 3, "g": 3}


def test_micro_batches_cover_the_batch_in_order_with_their_shares():
    batch, z = Batch(torch.arange(10.0).view(10, 1, 1, 1), torch.arange(10)), torch.arange(20.0).view(10, 2)
    micros = micro_batches(batch, z, None, 3)
    assert [len(m.batch.images) for m in micros] == [4, 3, 3]
    assert [m.weight for m in micros] == [0.4, 0.3, 0.3]
    assert torch.equal(torch.cat([m.batch.labels for m in micros]), batch.labels)
    assert torch.equal(torch.cat([m.z for m in micros]), z) and all(m.fake_labels is None for m in micros)
    assert micro_batches(batch, z, None, 1)[0].batch is batch
