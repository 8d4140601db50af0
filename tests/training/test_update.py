"""The engine's updates equal the hand-written reference steps they claim to be.

The joint update is the course's TensorFlow step (two gradient tapes over one forward pass, both
optimisers applied afterwards); the sequential update is the classic PyTorch DCGAN step (D on a
detached fake batch, then G against the updated D).
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from ganfw.contracts import Batch, Decision
from ganfw.engine import assemble
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from tests.helpers.recipes import tiny_recipe


def make_trainer(tmp_path, root, *overrides):
    path = tiny_recipe(
        tmp_path / "r.toml",
        root,
        schedule={"name": "simultaneous"},
        discriminator={"name": "dcgan", "params": {"widths": [4, 8], "dropout": 0.0}},
        optim={"generator": {"lr": 1e-3}, "discriminator": {"lr": 2e-3}},
        train={"batch_size": 16},
    )
    return assemble(load_recipe(path, load_registry(), list(overrides)), RunDir(tmp_path / "run"), PlainReporter())


@pytest.fixture
def trainer(tmp_path, mnist_root):
    return make_trainer(tmp_path, mnist_root)


def update(trainer, real, z, decision):
    """One update of ``trainer`` on real images (B, C, H, W) and noise (B, Z), unlabelled."""
    return trainer.update(Batch(real), z, None, decision)


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def reference_nets(trainer):
    """Copies of ``trainer``'s networks with their own Adam: fused, as ganfw's on the CPU (the
    per-tensor Adam rounds differently, and an element whose gradient is near ``eps`` amplifies
    that in the first step)."""
    G, D = copy.deepcopy(trainer.parts.G), copy.deepcopy(trainer.parts.D)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999), eps=1e-8, fused=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999), eps=1e-8, fused=True)
    return G, D, opt_g, opt_d


def assert_same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)


def test_joint_update_is_the_course_step(trainer):
    real, z = trainer.parts.data.images[:16], torch.randn(16, 8)
    G, D, opt_g, opt_d = reference_nets(trainer)

    fake = G(z)  # the course: both tapes over one forward pass
    real_out, fake_out = D(real), D(fake)
    g_loss = bce(fake_out, 1.0)
    d_loss = bce(real_out, 1.0) + bce(fake_out, 0.0)
    g_grads = torch.autograd.grad(g_loss, list(G.parameters()), retain_graph=True)
    d_grads = torch.autograd.grad(d_loss, list(D.parameters()))
    for p, g in zip(G.parameters(), g_grads):
        p.grad = g
    for p, g in zip(D.parameters(), d_grads):
        p.grad = g
    opt_g.step()
    opt_d.step()

    stats = trainer._reduce(update(trainer, real, z, Decision(True, True, joint=True)))
    assert stats["d_loss"] == pytest.approx(d_loss.item(), rel=1e-6)
    assert stats["g_loss"] == pytest.approx(g_loss.item(), rel=1e-6)
    assert_same_weights(trainer.parts.G, G)
    assert_same_weights(trainer.parts.D, D)


def test_sequential_update_steps_g_against_the_updated_d(trainer):
    real, z = trainer.parts.data.images[:16], torch.randn(16, 8)
    G, D, opt_g, opt_d = reference_nets(trainer)

    fake = G(z)
    opt_d.zero_grad()
    (bce(D(real), 1.0) + bce(D(fake.detach()), 0.0)).backward()
    opt_d.step()
    opt_g.zero_grad()
    bce(D(fake), 1.0).backward()
    opt_g.step()

    update(trainer, real, z, Decision(True, True))
    assert_same_weights(trainer.parts.G, G)
    assert_same_weights(trainer.parts.D, D)


@pytest.mark.parametrize("joint", [True, False])
def test_a_skipped_network_is_left_untouched(trainer, joint):
    real, z = trainer.parts.data.images[:16], torch.randn(16, 8)
    before_g, before_d = copy.deepcopy(trainer.parts.G), copy.deepcopy(trainer.parts.D)
    update(trainer, real, z, Decision(train_d=False, train_g=True, joint=joint))
    assert_same_weights(trainer.parts.D, before_d)
    changed = any(not torch.equal(a, b) for a, b in zip(trainer.parts.G.parameters(), before_g.parameters()))
    assert changed


@pytest.mark.parametrize(
    "option, joint",
    [
        ("train.fused_d_pass=true", True),
        ("train.fused_d_pass=true", False),
        ("train.channels_last=true", True),
        ("train.channels_last=true", False),
        ("train.compile=true", True),
    ],
)
def test_speed_options_do_not_change_the_update(tmp_path, mnist_root, option, joint):
    # A large Adam epsilon makes the update proportional to the gradient, so rounding-level
    # differences between kernels stay rounding-level instead of flipping sign(g) updates.
    eps = ["optim.generator.eps=1.0", "optim.discriminator.eps=1.0"]
    plain, fast = make_trainer(tmp_path, mnist_root, *eps), make_trainer(tmp_path, mnist_root, *eps, option)
    assert_same_weights(fast.parts.G, plain.parts.G)  # same seed, same start
    for step in range(2):
        real, z = plain.parts.data.images[16 * step : 16 * (step + 1)], torch.randn(16, 8)
        decision = Decision(True, True, joint=joint)
        update(plain, real, z, decision)
        update(fast, fast.parts.data.images[16 * step : 16 * (step + 1)], z, decision)
    assert_same_weights(fast.parts.G, plain.parts.G)
    assert_same_weights(fast.parts.D, plain.parts.D)


def test_a_lazy_penalty_counts_its_own_networks_updates(tmp_path, mnist_root):
    """R1 every 2nd update of D: due on D's updates 0, 2, ... whichever steps D skips."""
    trainer = make_trainer(tmp_path, mnist_root, 'loss.name="r1"', "loss.params.every=2")
    trains_d = [False, True, False, True, True, True]
    computed = []
    for _step, train_d in enumerate(trains_d):
        real, z = trainer.parts.data.images[:16], torch.randn(16, 8)
        out = update(trainer, real, z, Decision(train_d=train_d, train_g=True))
        computed.append("penalty/r1" in out.terms)
    assert computed == [False, True, False, False, True, False]
    assert trainer.update.opt.updates == {"d": 4, "g": 6}


def test_an_unconditional_generator_feeds_a_conditional_discriminator_labels(tmp_path, mnist_root):
    trainer = make_trainer(tmp_path, mnist_root, 'discriminator={name="cmlp", params={hidden=[16]}}')
    assert trainer.parts.G.num_classes == 0 and trainer.parts.D.num_classes == 10
    labels = trainer.parts.fake_labels(64, trainer.device, trainer.streams.noise)
    assert labels.shape == (64,) and labels.min() >= 0 and labels.max() < 10 and len(labels.unique()) > 5
    trainer._train_step(Batch(trainer.parts.data.images[:16], trainer.parts.data.labels[:16]))
    assert trainer.step == 1
