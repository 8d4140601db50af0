"""The built-in callbacks on a stand-in trainer view: the generator EMA's update, state and
sampling generator, and early stopping's count of evaluations without improvement."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from ganfw.contracts import Callback, Generator, StepReport, TrainerView
from ganfw.errors import UserError
from ganfw.plugins import load_registry
from ganfw_plugins.callbacks import EarlyStoppingParams, EMAParams
from ganfw_plugins.callbacks.early_stopping import EarlyStopping
from ganfw_plugins.callbacks.ema import GeneratorEMA

REPORT = StepReport(
    step=0, d_loss=1.0, g_loss=1.0, d_real=0.5, d_fake=0.5, acc_real=0.5, acc_fake=0.5, trained_d=True, trained_g=True,
    images=64,
)  # fmt: skip


class TinyGenerator(Generator):
    """Dense layer then batch norm: parameters and buffers. (N, 2) -> (N, 1, 1, 3)."""

    latent_dim = 2
    image_shape = (1, 1, 3)

    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(2, 3)
        self.norm = nn.BatchNorm1d(3)

    def forward(self, z, labels=None):
        return torch.tanh(self.norm(self.dense(z))).view(-1, 1, 1, 3)


class View(TrainerView):
    """What a callback sees of a run, with only the fields these callbacks read."""

    def __init__(self, generator: Generator | None = None):
        self.step = 0
        self.generator = generator
        self.stops: list[str] = []
        self.warnings: list[tuple[str, str]] = []

    def classify(self, images):
        return None

    def warn(self, code: str, message: str) -> None:
        self.warnings.append((code, message))

    def request_stop(self, reason: str) -> None:
        self.stops.append(reason)


def train_step(view: View, callback: Callback) -> None:
    """A stand-in optimiser step: move G's weights, run batch norm once, then the callback."""
    with torch.no_grad():
        for p in view.generator.parameters():
            p.add_(torch.randn_like(p))
    view.generator(torch.randn(4, 2))  # train mode: updates the running statistics
    view.step += 1
    callback.on_step_end(view, REPORT)


def ema_on(view: View, **params) -> GeneratorEMA:
    callback = GeneratorEMA(EMAParams(**params))
    callback.setup(view)
    return callback


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_ema_starts_as_a_frozen_copy_of_g():
    g = TinyGenerator()
    ema = ema_on(View(g)).sampling_generator()
    assert ema is not g and isinstance(ema, TinyGenerator) and not ema.training
    assert not any(p.requires_grad for p in ema.parameters())
    assert all(torch.equal(a, b) for a, b in zip(ema.state_dict().values(), g.state_dict().values()))
    assert g.training and all(p.requires_grad for p in g.parameters())


def test_ema_update_moves_towards_g_and_copies_buffers():
    view = View(TinyGenerator())
    callback = ema_on(view, decay=0.9)
    before = weights(callback.ema)
    train_step(view, callback)
    after, g = weights(callback.ema), weights(view.generator)
    for name in ("dense.weight", "dense.bias", "norm.weight", "norm.bias"):
        assert torch.allclose(after[name], 0.9 * before[name] + 0.1 * g[name], atol=1e-6), name
        assert not torch.allclose(after[name], g[name])
    for name in ("norm.running_mean", "norm.running_var", "norm.num_batches_tracked"):
        assert torch.equal(after[name], g[name]) and not torch.equal(before[name], g[name]), name


def test_ema_copies_g_before_its_start_step():
    view = View(TinyGenerator())
    callback = ema_on(view, decay=0.5, start_step=2)
    for _ in range(2):  # steps 0 and 1: copies
        train_step(view, callback)
        assert all(torch.equal(a, b) for a, b in zip(callback.ema.parameters(), view.generator.parameters()))
    copied = weights(callback.ema)
    train_step(view, callback)  # step 2: the first average
    expected = 0.5 * copied["dense.weight"] + 0.5 * view.generator.dense.weight.detach()
    assert torch.allclose(callback.ema.dense.weight, expected, atol=1e-6)


def test_ema_decay_one_keeps_the_initial_weights_and_zero_follows_g():
    view = View(TinyGenerator())
    frozen, follower = ema_on(view, decay=1.0), ema_on(view, decay=0.0)
    initial = weights(frozen.ema)["dense.weight"]
    train_step(view, frozen)
    follower.on_step_end(view, REPORT)
    assert torch.equal(frozen.ema.dense.weight, initial)
    assert torch.equal(follower.ema.dense.weight, view.generator.dense.weight)


def test_ema_sampling_generator_is_its_module_and_differs_from_g_after_updates():
    view = View(TinyGenerator())
    callback = ema_on(view, decay=0.9)
    for _ in range(3):
        train_step(view, callback)
    assert callback.modules() == {"generator": callback.sampling_generator()}
    z = torch.randn(5, 2)
    view.generator.eval()
    assert not torch.allclose(callback.sampling_generator()(z), view.generator(z))


def run_steps(view: View, callback: Callback, n: int, seed: int) -> None:
    torch.manual_seed(seed)
    for _ in range(n):
        train_step(view, callback)


def test_ema_resumes_bit_for_bit_from_its_module_state():
    torch.manual_seed(0)
    view = View(TinyGenerator())
    original = ema_on(view, decay=0.9, start_step=1)
    run_steps(view, original, 3, seed=1)
    checkpoint = {"step": view.step, "g": weights(view.generator), "ema": weights(original.modules()["generator"])}
    run_steps(view, original, 3, seed=2)

    torch.manual_seed(3)
    resumed_view = View(TinyGenerator())  # a fresh run: build, set up callbacks, then load the checkpoint
    resumed = ema_on(resumed_view, decay=0.9, start_step=1)
    assert not torch.equal(resumed.ema.dense.weight, checkpoint["ema"]["dense.weight"])
    resumed_view.generator.load_state_dict(checkpoint["g"])
    resumed.modules()["generator"].load_state_dict(checkpoint["ema"])
    resumed_view.step = checkpoint["step"]
    run_steps(resumed_view, resumed, 3, seed=2)

    final, expected = weights(resumed.ema), weights(original.ema)
    assert all(torch.equal(final[k], expected[k]) for k in expected)
    assert original.state_dict() == {} and original.log() == {}


def test_ema_builds_through_the_registry_with_its_modules_only_after_setup():
    spec = load_registry().resolve("callback", "ema").spec
    callback = spec.load_factory()(spec.default_params())
    assert isinstance(callback, Callback) and callback.params == EMAParams(decay=0.999, start_step=0)
    assert callback.beta(64) == 0.999
    assert callback.modules() == {} and callback.sampling_generator() is None


def test_a_half_life_in_images_means_the_same_average_at_any_batch_size():
    """StyleGAN2's beta = 0.5 ** (images / half_life): two steps of 32 images weigh the old average
    as much as one step of 64, and half of it is gone after half_life images."""
    by_64, by_32 = GeneratorEMA(EMAParams(half_life_images=640)), GeneratorEMA(EMAParams(half_life_images=640))
    assert by_64.beta(64) == pytest.approx(by_32.beta(32) ** 2) == pytest.approx(0.5**0.1)
    assert by_64.beta(64) ** 10 == pytest.approx(0.5)
    assert GeneratorEMA(EMAParams(decay=0.9)).beta(64) == GeneratorEMA(EMAParams(decay=0.9)).beta(32) == 0.9


def test_the_rampup_bounds_the_half_life_by_the_images_seen_and_survives_a_resume():
    view = View(TinyGenerator())
    callback = ema_on(view, half_life_images=10_000, rampup=0.05)
    train_step(view, callback)  # 64 images seen: the half-life is 0.05 x 64 = 3.2 images
    assert callback.state_dict() == {"images": 64}
    assert callback.beta(64) == pytest.approx(0.5 ** (64 / 3.2))
    resumed = GeneratorEMA(EMAParams(half_life_images=10_000, rampup=0.05))
    resumed.load_state_dict(json.loads(json.dumps(callback.state_dict())))
    assert resumed.beta(64) == callback.beta(64)
    for _ in range(4000):  # 256,000 images: 0.05 x that is past the half-life of 10,000
        callback.images += 64
    assert callback.beta(64) == pytest.approx(0.5 ** (64 / 10_000))


# --- early stopping ------------------------------------------------------------------------------


def stopper(**params) -> EarlyStopping:
    return EarlyStopping(EarlyStoppingParams(**params))


def evaluate(callback: EarlyStopping, view: View, values: list[float], metric: str = "fid") -> list[int]:
    """Feed one evaluation per value; the (1-based) evaluations after which a stop was requested."""
    stopped_at = []
    for i, value in enumerate(values, 1):
        before = len(view.stops)
        callback.on_evaluation(view, {metric: value, "other": 0.0})
        if len(view.stops) > before:
            stopped_at.append(i)
    return stopped_at


def test_early_stopping_stops_after_patience_evaluations_without_improvement():
    view = View()
    callback = stopper(patience=2)
    # best 9 at the second evaluation; the third and fourth do not beat it
    assert evaluate(callback, view, [10.0, 9.0, 9.5, 9.2]) == [4]
    assert callback.log() == {"best": 9.0, "evaluations_since_best": 2.0}
    assert "fid" in view.stops[0] and "2 evaluations" in view.stops[0] and "best 9" in view.stops[0]
    assert len(view.stops[0].splitlines()) == 1


def test_early_stopping_resets_its_count_on_an_improvement():
    assert evaluate(stopper(patience=2), View(), [10.0, 11.0, 9.0, 9.5, 8.0, 8.5, 8.1]) == [7]


def test_early_stopping_needs_more_than_min_delta():
    # 9.95 and 9.9 beat 10 by no more than 0.1; 9.8 does
    assert evaluate(stopper(patience=2, min_delta=0.1), View(), [10.0, 9.95, 9.8, 9.75, 9.71]) == [5]
    assert evaluate(stopper(patience=2, min_delta=0.1), View(), [10.0, 9.95, 9.9]) == [3]


def test_early_stopping_in_max_mode():
    callback = stopper(metric="precision", mode="max", patience=1)
    assert evaluate(callback, View(), [0.5, 0.6, 0.55], metric="precision") == [3]
    assert callback.log()["best"] == 0.6


def test_early_stopping_never_counts_nan_as_an_improvement():
    callback = stopper(patience=2)
    assert evaluate(callback, View(), [math.nan, 10.0, math.nan, math.nan]) == [4]
    assert callback.best == 10.0


def test_early_stopping_names_a_missing_metric_and_the_scores_there_are():
    with pytest.raises(UserError, match=r"'kid'.*fid, other"):
        stopper(metric="kid").on_evaluation(View(), {"other": 1.0, "fid": 2.0})


def test_early_stopping_state_round_trip_continues_identically():
    scores = [10.0, 9.0, 9.5, 9.2, 9.3]
    original = stopper(patience=3)
    evaluate(original, View(), scores[:3])
    restored = stopper(patience=3)
    restored.load_state_dict(json.loads(json.dumps(original.state_dict())))
    assert restored.log() == original.log() == {"best": 9.0, "evaluations_since_best": 1.0}
    assert evaluate(restored, View(), scores[3:]) == evaluate(original, View(), scores[3:]) == [2]
    assert evaluate(stopper(patience=3), View(), scores[3:]) == []  # the state matters


def test_early_stopping_logs_nothing_but_the_count_before_a_score():
    assert stopper().log() == {"evaluations_since_best": 0.0}
