"""The class-ce loss: a class cross-entropy read from the conditional discriminator's scores under
every label, against values worked out by hand, learning to classify, reaching G only on G's step,
composed through a recipe and refusing to run without labels (in a run: test_label_losses.py)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.losses.class_ce import ClassCE, ClassCEPenalty, class_scores
from ganfw_plugins.losses.objectives import Hinge, LeastSquares
from tests.helpers.losses import build_loss, labelled_inputs


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class ProjectionD(torch.nn.Module):
    """D(x, c) = w . x + e_c . x on images of two pixels (1, 1, 2): a projection D whose features
    are the pixels themselves."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor([0.5, -1.0]))
        self.embed = torch.nn.Parameter(torch.zeros(classes, 2))
        self.calls = 0

    def forward(self, images, labels):
        self.calls += 1
        x = images.flatten(1)
        return x @ self.w + (self.embed[labels] * x).sum(1)


def test_class_scores_are_d_under_every_label_from_one_call():
    d = ProjectionD()
    d.embed.data = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    x = torch.tensor([[0.3, -0.2], [-0.7, 0.1]]).view(2, 1, 1, 2)
    scores = class_scores(d, x, 3)
    by_hand = [[0.5 * a - b + e1 * a + e2 * b for e1, e2 in d.embed.tolist()] for a, b in ([0.3, -0.2], [-0.7, 0.1])]
    assert scores.shape == (2, 3) and d.calls == 1
    assert torch.allclose(scores, torch.tensor(by_hand), rtol=1e-6)


def test_the_term_is_weight_times_cross_entropy_on_the_first_batch_over_shrink_images():
    d = ProjectionD()
    d.embed.data = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])
    real = torch.randn(5, 1, 1, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([2, 0, 1, 1, 0])
    value = ClassCEPenalty("d", 0.7, 1, 2)(labelled_inputs(d, real, labels, 3))
    logits = torch.stack([real.flatten(1) @ d.w + real.flatten(1) @ e for e in d.embed], 1)
    assert value.item() == pytest.approx(0.7 * F.cross_entropy(logits[:2], labels[:2]).item(), rel=1e-6)


def test_d_learns_to_classify_real_images_by_the_term_alone():
    """Three classes of two-pixel images in three directions; gradient descent on D's term alone
    takes the classifier softmax_c D(x, c) from chance to every image right."""
    rng = torch.Generator().manual_seed(1)
    centres = torch.tensor([[1.0, 0.0], [-0.5, 0.9], [-0.5, -0.9]])
    labels = torch.arange(3).repeat(20)
    real = (centres[labels] + 0.2 * torch.randn(60, 2, generator=rng)).view(60, 1, 1, 2)
    d, penalty = ProjectionD(), ClassCEPenalty("d", 1.0, 1, 1)
    opt = torch.optim.SGD(d.parameters(), lr=0.5)
    first = penalty(labelled_inputs(d, real, labels, 3)).item()
    for _ in range(100):
        opt.zero_grad()
        penalty(labelled_inputs(d, real, labels, 3)).backward()
        opt.step()
    right = (class_scores(d, real, 3).argmax(1) == labels).float().mean().item()
    assert first == pytest.approx(torch.log(torch.tensor(3.0)).item(), rel=1e-6)  # zero embeddings: chance
    assert penalty(labelled_inputs(d, real, labels, 3)).item() < 0.1 * first and right == 1.0


def test_g_term_reaches_the_generator_through_d_and_moves_its_images_towards_the_asked_class():
    d = ProjectionD(2)
    d.embed.data = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])  # class 0 to the right, class 1 to the left
    position = torch.nn.Parameter(torch.zeros(4, 2))
    fake = position.view(4, 1, 1, 2) * 1.0
    value = ClassCEPenalty("g", 1.0, 1, 1)(labelled_inputs(d, fake.detach(), torch.tensor([0, 0, 1, 1]), 2, fake))
    value.backward()
    assert position.grad is not None
    assert (position.grad[:2, 0] < 0).all() and (position.grad[2:, 0] > 0).all()  # descent: 0 right, 1 left
    assert d.w.grad is not None  # D's gradient is the step's to drop: G's update reads only G's


@pytest.mark.parametrize("labels, classes", [(None, 3), (torch.tensor([0, 1]), 0)])
def test_without_labels_or_classes_it_says_it_needs_a_conditional_pair(labels, classes):
    real = torch.zeros(2, 1, 1, 2)
    with pytest.raises(ValueError, match="needs a class-conditional generator and discriminator"):
        ClassCEPenalty("d", 1.0, 1, 1)(labelled_inputs(ProjectionD(), real, labels, classes))


def test_through_a_recipe_it_wraps_its_base_with_one_term_per_player(tmp_path, registry):
    loss = {"name": "class-ce", "params": {"base": "least-squares", "g_weight": 0.0, "every": 8}}
    built = build_loss(tmp_path, registry, loss, "cmlp")
    assert isinstance(built, ClassCE) and isinstance(built.base, LeastSquares)
    assert [(p.name, p.player, p.every, p.weight) for p in built.penalties()] == [("class_ce_d", "d", 8, 1.0)]
    defaults = build_loss(tmp_path, registry, {"name": "class-ce"}, "cmlp")
    assert isinstance(defaults.base, Hinge)
    assert [(p.player, p.weight, p.batch_shrink) for p in defaults.penalties()] == [("d", 1.0, 2), ("g", 0.1, 2)]


def test_class_ce_keeps_the_loss_contract(registry):
    check_component(registry.resolve("loss", "class-ce"), (1, 8, 8))
