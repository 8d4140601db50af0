"""The mismatch loss: real images under wrong labels as fakes of the base loss (Reed et al. 2016's
matching-aware discriminator), against values worked out by hand, its wrong labels, the D it
trains, and its composition through a recipe (in a run: test_label_losses.py)."""

from __future__ import annotations

import pytest
import torch

from ganfw.plugins import load_registry
from ganfw.testing import check_component
from ganfw_plugins.losses.mismatch import Mismatch, wrong_labels
from ganfw_plugins.losses.objectives import Hinge, LeastSquares
from ganfw_plugins.losses.relativistic import RelativisticAverage
from tests.helpers.losses import build_loss, labelled_inputs


@pytest.fixture(scope="module")
def registry():
    return load_registry()


class LabelD(torch.nn.Module):
    """D(x, c) = s[c] * mean(x): one learnable score per class, times the image's mean pixel."""

    def __init__(self, scores):
        super().__init__()
        self.s = torch.nn.Parameter(torch.tensor(scores))

    def forward(self, images, labels):
        return self.s[labels] * images.flatten(1).mean(1)


def test_wrong_labels_are_never_the_right_one_and_cover_every_other_class():
    torch.manual_seed(0)
    labels = torch.arange(4).repeat(300)
    wrong = wrong_labels(labels, 4)
    assert not (wrong == labels).any() and wrong.min() == 0 and wrong.max() == 3
    for c in range(4):
        counts = torch.bincount(wrong[labels == c], minlength=4)
        assert counts[c] == 0
        assert ((counts[torch.arange(4) != c] - 100).abs() < 30).all()  # about uniform over the 3 others


def test_the_term_is_the_base_fake_term_on_real_images_under_their_wrong_labels(tmp_path, registry):
    loss = build_loss(
        tmp_path, registry, {"name": "mismatch", "params": {"base": "least-squares", "weight": 0.5}}, "cmlp"
    )
    real = torch.ones(6, 1, 2, 2)  # mean pixel 1: D(x, c) = s[c]
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    (penalty,) = loss.penalties()
    value = penalty(labelled_inputs(LabelD([0.3, -2.0]), real, labels, 2))
    wrong = torch.tensor([-2.0, 0.3] * 3)  # two classes: the wrong label is the other one
    assert value.item() == pytest.approx(0.5 * 0.5 * wrong.square().mean().item(), rel=1e-6)


def test_descending_it_lowers_d_under_wrong_labels_only(tmp_path, registry):
    """With two classes of images (mean pixel +1 and -1) and D(x, c) = s[c] * mean(x), the term's
    gradient moves each class score s[c] to score the other class's images lower."""
    torch.manual_seed(0)
    real = torch.cat([torch.ones(4, 1, 2, 2), -torch.ones(4, 1, 2, 2)])
    labels = torch.tensor([0] * 4 + [1] * 4)
    d = LabelD([0.0, 0.0])
    (penalty,) = build_loss(tmp_path, registry, {"name": "mismatch", "params": {"base": "hinge"}}, "cmlp").penalties()
    penalty(labelled_inputs(d, real, labels, 2)).backward()
    # s[1] sees the images of class 0 (mean +1) as wrong pairs: descent lowers s[1]; s[0] the reverse
    assert d.s.grad[1] > 0 and d.s.grad[0] < 0


def test_it_keeps_its_base_and_refuses_a_second_mismatch(tmp_path, registry):
    loss = build_loss(tmp_path, registry, {"name": "mismatch", "params": {"base": "relativistic", "every": 2}}, "cmlp")
    assert isinstance(loss, Mismatch) and isinstance(loss.base, RelativisticAverage) and loss.g_needs_real
    assert [(p.name, p.player, p.every, p.needs_labels) for p in loss.penalties()] == [("mismatch", "d", 2, True)]
    assert isinstance(build_loss(tmp_path, registry, {"name": "mismatch"}, "cmlp").base, Hinge)
    assert build_loss(tmp_path, registry, {"name": "mismatch", "params": {"weight": 0.0}}, "cmlp").penalties() == []
    with pytest.raises(Exception, match="already has a penalty named 'mismatch'"):
        build_loss(tmp_path, registry, {"name": "mismatch", "params": {"base": "mismatch"}}, "cmlp")
    assert isinstance(
        build_loss(tmp_path, registry, {"name": "mismatch", "params": {"base": "least-squares"}}, "cmlp").base,
        LeastSquares,
    )


def test_mismatch_keeps_the_loss_contract(registry):
    check_component(registry.resolve("loss", "mismatch"), (1, 8, 8))
