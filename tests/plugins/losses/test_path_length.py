"""The path-length penalty against values worked out by hand on tiny generators (in w through a
mapping/synthesis split, and in z for any other generator), its running mean across calls and
through a checkpoint, and the path-length loss composed around another loss through a recipe."""

from __future__ import annotations

import json
import math

import pytest
import tomli_w
import torch

from ganfw.contracts import Generator, PenaltyInputs
from ganfw.plugins import load_registry
from ganfw.recipe import ComponentError, load_recipe
from ganfw_plugins.losses.objectives import Hinge
from ganfw_plugins.losses.path_length import PathLength, PathLengthPenalty
from ganfw_plugins.stylegan2 import StyleGAN2GeneratorParams
from ganfw_plugins.stylegan2.generator import StyleGAN2Generator

Z = [1.0, 2.0, 3.0, 4.0]


class SplitGenerator(Generator):
    """w = 2z, broadcast to L = 2 layers; the image is one pixel, c * sum_l w_l^2 / 2. So
    d image / d w_l = c * w_l, and the path length of a sample is |c * 2z * y| for noise y."""

    latent_dim, image_shape = 1, (1, 1, 1)

    def __init__(self, c: float = 3.0):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(c))

    def mapping(self, z, labels=None):
        return (2 * z).unsqueeze(1).expand(-1, 2, -1)  # (N, 2, 1)

    def synthesis(self, ws):
        return (self.c * ws.square().sum(dim=(1, 2)) / 2).reshape(-1, 1, 1, 1)

    def forward(self, z, labels=None):
        return self.synthesis(self.mapping(z))


class PlainGenerator(Generator):
    """No split: the image is c * z^2 / 2, so d image / d z = c * z: path length |c * z * y|."""

    latent_dim, image_shape = 1, (1, 1, 1)

    def __init__(self, c: float = 3.0):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(c))

    def forward(self, z, labels=None):
        return (self.c * z.square() / 2).reshape(-1, 1, 1, 1)


def inputs(g: Generator, z: list[float] = Z) -> PenaltyInputs:
    """What the engine hands a penalty on G's step (D plays no part in this one)."""
    z = torch.tensor(z).reshape(-1, 1)
    return PenaltyInputs(
        discriminator=lambda x, y=None: x.flatten(1).sum(1),
        generator=lambda zz, y=None: g(zz),
        real=torch.zeros(len(z), 1, 1, 1),
        fake=g(z),
        real_labels=None,
        fake_labels=None,
        z=z,
        generator_module=g,
    )


def pixel_noise(n: int, seed: int) -> list[float]:
    """The penalty's one random draw, N(0, 1) over its images (n, 1, 1, 1) (divided by
    sqrt(H * W) = 1), as torch's generator under ``seed`` gives it."""
    torch.manual_seed(seed)
    return torch.randn(n, 1, 1, 1).flatten().tolist()


def by_hand(lengths: list[float], mean: float, weight: float = 2.0, decay: float = 0.01) -> tuple[float, float]:
    """(penalty, new running mean): a' = a + decay * (mean(l) - a); weight * mean((l - a')^2)."""
    new_mean = mean + decay * (sum(lengths) / len(lengths) - mean)
    return weight * sum((length - new_mean) ** 2 for length in lengths) / len(lengths), new_mean


def call(penalty: PathLengthPenalty, penalty_inputs: PenaltyInputs, seed: int) -> float:
    torch.manual_seed(seed)
    return penalty(penalty_inputs).item()


def test_the_penalty_measures_path_lengths_in_w_through_mapping_and_synthesis():
    """Half the batch (z = 1, 2), lengths |3 * 2z * y|, the mean a updated before it is used."""
    penalty = PathLengthPenalty(weight=2.0, every=4, decay=0.01, batch_shrink=2)
    a = 0.0
    for seed in (0, 1):
        lengths = [abs(3 * 2 * z * y) for z, y in zip(Z[:2], pixel_noise(2, seed))]
        expected, a = by_hand(lengths, a)
        assert call(penalty, inputs(SplitGenerator()), seed) == pytest.approx(expected, rel=1e-5)
        assert penalty.mean == pytest.approx(a, rel=1e-5)
    assert a > 0 and (penalty.name, penalty.player, penalty.every) == ("path-length", "g", 4)


def test_a_generator_without_a_split_is_measured_in_z():
    penalty = PathLengthPenalty(weight=0.5, every=1, decay=0.1, batch_shrink=1)
    lengths = [abs(3 * z * y) for z, y in zip(Z, pixel_noise(4, 0))]
    expected, a = by_hand(lengths, 0.0, weight=0.5, decay=0.1)
    assert call(penalty, inputs(PlainGenerator()), 0) == pytest.approx(expected, rel=1e-5)
    assert penalty.mean == pytest.approx(a, rel=1e-5)


def test_the_gradient_reaches_the_generator_through_the_lengths_and_the_mean():
    """d/dc of 2 * mean((c k_i - a')^2) with a' = 0.01 * c * mean(k), k_i = |2 z_i y_i|."""
    g = SplitGenerator(c=3.0)
    torch.manual_seed(0)
    PathLengthPenalty(weight=2.0, every=4, decay=0.01, batch_shrink=2)(inputs(g)).backward()
    k = [abs(2 * z * y) for z, y in zip(Z[:2], pixel_noise(2, 0))]
    k_mean = sum(k) / 2
    expected = 2 * sum(2 * (3 * ki - 0.01 * 3 * k_mean) * (ki - 0.01 * k_mean) for ki in k) / 2
    assert g.c.grad.item() == pytest.approx(expected, rel=1e-5)


def test_one_image_is_the_smallest_batch():
    penalty = PathLengthPenalty(weight=2.0, every=4, decay=0.01, batch_shrink=8)
    (y,) = pixel_noise(1, 0)
    expected, _ = by_hand([abs(3 * 2 * 1.0 * y)], 0.0)
    assert call(penalty, inputs(SplitGenerator()), 0) == pytest.approx(expected, rel=1e-5)


# --- the path-length loss, composed through a recipe ---------------------------------------------


def recipe_loss(tmp_path, loss: dict) -> PathLength:
    path = tmp_path / "recipe.toml"
    recipe = {"generator": {"name": "mlp"}, "discriminator": {"name": "mlp"}, "loss": loss}
    path.write_text(tomli_w.dumps(recipe), encoding="utf-8")
    return load_recipe(path, load_registry()).loss.build()


def test_the_running_mean_survives_a_checkpoint_round_trip(tmp_path):
    """The state goes through JSON (as checkpoints keep it); the restored loss continues exactly."""
    loss = recipe_loss(tmp_path, {"name": "path-length"})
    (penalty,) = [p for p in loss.penalties() if p.name == "path-length"]
    for seed in (0, 1, 2):
        call(penalty, inputs(SplitGenerator()), seed)
    state = json.loads(json.dumps(loss.state_dict()))
    assert state == {"base": {}, "path_length_mean": penalty.mean} and penalty.mean > 0
    restored = recipe_loss(tmp_path, {"name": "path-length"})
    restored.load_state_dict(state)
    (again,) = [p for p in restored.penalties() if p.name == "path-length"]
    assert again.mean == penalty.mean
    assert call(again, inputs(SplitGenerator()), 3) == call(penalty, inputs(SplitGenerator()), 3)
    assert restored.log() == loss.log() == {"path_length_mean": penalty.mean}


def test_it_adds_the_penalty_to_the_base_loss_and_its_penalties(tmp_path):
    loss = recipe_loss(tmp_path, {"name": "path-length"})  # base r1: StyleGAN2's loss
    assert [(p.name, p.player, p.every) for p in loss.penalties()] == [("r1", "d", 16), ("path-length", "g", 4)]
    hinge = recipe_loss(tmp_path, {"name": "path-length", "params": {"base": "hinge", "every": 8}})
    assert isinstance(hinge.base, Hinge) and [(p.name, p.every) for p in hinge.penalties()] == [("path-length", 8)]
    real, fake = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 3.0])
    terms = {k: v.item() for k, v in hinge.d_loss(real, fake).items()}
    assert terms == {k: v.item() for k, v in Hinge().d_loss(real, fake).items()}


def test_weight_zero_leaves_the_penalty_out(tmp_path):
    loss = recipe_loss(tmp_path, {"name": "path-length", "params": {"weight": 0.0}})
    assert [p.name for p in loss.penalties()] == ["r1"] and loss.log() == {}


def test_a_base_that_already_has_the_penalty_is_refused(tmp_path):
    with pytest.raises(ComponentError, match="the base loss already has a penalty named 'path-length'$"):
        recipe_loss(tmp_path, {"name": "path-length", "params": {"base": "path-length"}})


def test_the_pixel_noise_is_scaled_by_the_image_area():
    """On a 2x2 image whose pixels are each w (L = 1, W = 1): J^T y = sum(y) = sum(eps) / sqrt(4)."""

    class Flat(SplitGenerator):
        image_shape = (1, 2, 2)

        def mapping(self, z, labels=None):
            return z  # (N, 1)

        def synthesis(self, ws):
            return ws.reshape(-1, 1, 1, 1).expand(-1, 1, 2, 2)

    penalty = PathLengthPenalty(weight=1.0, every=1, decay=1.0, batch_shrink=1)  # decay 1: a = mean(l)
    torch.manual_seed(0)
    eps = torch.randn(1, 1, 2, 2)
    expected_length = abs(eps.sum().item()) / math.sqrt(4)
    call(penalty, inputs(Flat(), z=[0.7]), 0)
    assert penalty.mean == pytest.approx(expected_length, rel=1e-5)


def test_on_a_conditional_stylegan2_generator_it_differentiates_in_w_given_the_labels():
    params = StyleGAN2GeneratorParams(latent_dim=8, w_dim=8, channel_base=64, channel_max=8)
    torch.manual_seed(0)
    g = StyleGAN2Generator(params, (3, 32, 32), num_classes=3)
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(1))

    def value(labels: list[int]) -> torch.Tensor:
        penalty = PathLengthPenalty(weight=2.0, every=4, decay=0.01, batch_shrink=2)
        labelled = PenaltyInputs(
            discriminator=lambda x, y=None: x.flatten(1).sum(1),
            generator=g,
            real=torch.zeros(4, 3, 32, 32),
            fake=torch.zeros(4, 3, 32, 32),
            real_labels=None,
            fake_labels=torch.tensor(labels),
            z=z,
            generator_module=g,
        )
        torch.manual_seed(0)
        return penalty(labelled)

    first = value([0, 1, 2, 0])
    first.backward()
    assert g.mapping.network.embed.weight.grad.abs().sum() > 0  # through w = mapping(z, labels)
    assert g.synthesis.blocks[0].const.grad.abs().sum() > 0
    assert value([2, 2, 2, 2]).item() != first.item()
