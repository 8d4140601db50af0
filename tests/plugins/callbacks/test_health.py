"""Training health: the health callback's checks on scripted log lines and generators, its state
across a resume, and a deliberately unbalanced recipe (D's learning rate 10x G's) trained for
real, whose warning reaches the progress line, metrics.jsonl and the run report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from ganfw.contracts import Generator, TrainerView
from ganfw_plugins.callbacks import HealthParams
from ganfw_plugins.callbacks.health import TrainingHealth
from tests.helpers.cli import RECIPES, run_cli


class View(TrainerView):
    """What the health callback reads of a run; ``warnings`` collects ``(code, message)``."""

    def __init__(self, generator: Generator | None = None, logits: Tensor | None = None, step: int = 1000):
        self.generator, self.logits, self.step = generator, logits, step
        self.device, self.is_main = torch.device("cpu"), True
        self.class_names = tuple(f"class{k}" for k in range(10))
        self.warnings: list[tuple[str, str]] = []

    def classify(self, images: Tensor) -> Tensor | None:
        return None if self.logits is None else self.logits[: len(images)]

    def warn(self, code: str, message: str) -> None:
        self.warnings.append((code, message))

    def request_stop(self, reason: str) -> None:
        raise AssertionError("the health callback never stops a run")


def line(step: int, d_acc: float = 0.7, d_loss: float = 1.2, g_loss: float = 0.8) -> dict:
    """A metrics.jsonl log line (the means of the 10 steps up to ``step``)."""
    return {
        "step": step,
        "epoch": 1,
        "d_loss": d_loss,
        "g_loss": g_loss,
        "d_real": 0.6,
        "d_fake": 0.4,
        "acc_real": d_acc,
        "acc_fake": d_acc,
        "d_acc": d_acc,
        "images_per_s": 1000.0,
    }


def feed(callback: TrainingHealth, view: View, lines: list[dict]) -> list[str]:
    """Give ``lines`` to ``on_log`` (epoch events in between, as a run writes them); the codes warned."""
    before = len(view.warnings)
    for record in lines:
        callback.on_log(view, record)
        callback.on_log(view, {"event": "epoch", "epoch": 1, "step": record["step"]})
    return [code for code, _ in view.warnings[before:]]


def steps(start: int, stop: int, **values) -> list[dict]:
    return [line(s, **values) for s in range(start + 10, stop + 1, 10)]


def health(**params) -> TrainingHealth:
    return TrainingHealth(HealthParams(**params))


# ----------------------------------------------------------------------------- D winning
def test_d_winning_for_three_windows_is_warned_of_once_and_again_after_it_cleared():
    callback, view = health(), View()
    assert feed(callback, view, steps(0, 140, d_acc=0.93, g_loss=2.0)) == []  # two windows and 40 steps
    assert feed(callback, view, steps(140, 150, d_acc=0.93, g_loss=4.4)) == ["d-winning"]
    message = view.warnings[-1][1]
    assert "told real from fake 93% of the time over the last 150 steps" in message
    assert (
        "G's loss climbed from 2 to 2.48" in message
    )  # the third window: 4 lines of 2.0, 1 of 4.4 and "optim.discriminator.lr" in message
    assert feed(callback, view, steps(150, 400, d_acc=0.93)) == []  # still winning: said once
    assert feed(callback, view, steps(400, 450, d_acc=0.7)) == []  # a balanced window clears it
    assert feed(callback, view, steps(450, 600, d_acc=0.9)) == ["d-winning"]


@pytest.mark.parametrize("accuracies", [[0.7] * 6, [0.93, 0.93, 0.8, 0.93, 0.93, 0.8], [0.84] * 6])
def test_d_is_not_called_winning_below_the_threshold_or_for_fewer_windows(accuracies):
    callback, view = health(), View()
    for i, acc in enumerate(accuracies):
        assert feed(callback, view, steps(50 * i, 50 * (i + 1), d_acc=acc)) == []


# ----------------------------------------------------------------------------- divergence
def test_a_loss_that_jumps_tenfold_and_stays_there_is_diverging():
    callback, view = health(), View()
    assert feed(callback, view, steps(0, 200, g_loss=0.8)) == []
    assert feed(callback, view, steps(200, 220, g_loss=40.0)) == []  # two lines: not yet
    assert feed(callback, view, steps(220, 230, g_loss=60.0)) == ["divergence"]
    code, message = view.warnings[-1]
    assert message.startswith("G's loss is diverging: it jumped to 60, 75x its usual size 0.8")
    assert 'train.precision = "fp32"' in message


def test_a_one_line_spike_is_not_divergence():
    callback, view = health(), View()
    feed(callback, view, steps(0, 200, d_loss=1.2))
    assert feed(callback, view, [line(210, d_loss=500.0), *steps(210, 400, d_loss=1.3)]) == []


# ----------------------------------------------------------------------------- the images
class Constant(Generator):
    """A generator whose images (N, 1, 4, 4) are ``spread`` times noise around one image."""

    latent_dim, image_shape, num_classes = 3, (1, 4, 4), 0

    def __init__(self, spread: float):
        super().__init__()
        self.spread = spread
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        noise = torch.randn(len(z), 16, generator=torch.Generator().manual_seed(1))
        return (self.scale * 0.2 + self.spread * noise).clamp(-1, 1).view(-1, 1, 4, 4)


def uniform_logits(n: int, k: int = 10) -> Tensor:
    return torch.eye(k).repeat(n // k + 1, 1)[:n]


def test_near_identical_images_are_low_diversity_and_varied_ones_are_not():
    for spread, expected in ((0.01, ["low-diversity"]), (0.5, [])):
        callback, view = health(samples=100), View(Constant(spread), uniform_logits(100))
        callback.on_epoch_end(view)
        assert [code for code, _ in view.warnings] == expected, spread
    images = Constant(0.01)(torch.zeros(20, 3)).detach()
    pairs = [((a - b) ** 2).mean() for i, a in enumerate(images) for j, b in enumerate(images) if i != j]
    by_hand = float(torch.stack(pairs).mean().sqrt())  # about 0.01 * sqrt(2)
    assert f"nearly identical: two of them differ by {by_hand:.3f} per pixel" in health()._low_diversity(images)


def test_images_the_judge_puts_in_few_classes_are_a_collapse():
    logits = torch.zeros(100, 10)
    logits[:70, 3] = logits[70:, 8] = 1.0
    callback, view = health(samples=100), View(Constant(0.5), logits)
    callback.on_epoch_end(view)
    assert [code for code, _ in view.warnings] == ["g-collapse"]
    assert "finds 2 of 10 classes among 100 images (most: class3 70%, class8 30%" in view.warnings[0][1]


def test_the_image_checks_wait_for_from_step_and_skip_without_a_judge():
    callback, view = health(samples=100), View(Constant(0.01), step=999)
    callback.on_epoch_end(view)
    assert view.warnings == []
    callback, view = health(samples=100), View(Constant(0.5), logits=None)
    callback.on_epoch_end(view)
    assert view.warnings == []


def test_the_image_checks_leave_the_generator_and_the_random_state_alone():
    callback, generator = health(samples=50), Constant(0.5)
    generator.train()
    state = torch.get_rng_state()
    callback.on_epoch_end(View(generator, uniform_logits(50)))
    assert generator.training and torch.equal(torch.get_rng_state(), state)


# ----------------------------------------------------------------------------- resume
def test_a_resumed_callback_warns_exactly_as_the_uninterrupted_one():
    lines = [*steps(0, 200, g_loss=0.8, d_acc=0.9), *steps(200, 260, g_loss=30.0, d_acc=0.95)]
    whole, whole_view = health(), View()
    feed(whole, whole_view, lines)
    first, view = health(), View()
    feed(first, view, lines[:13])
    resumed = health()
    resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
    feed(resumed, view, lines[13:])
    assert view.warnings == whole_view.warnings and {c for c, _ in view.warnings} == {"d-winning", "divergence"}


# ----------------------------------------------------------------------------- a real run
UNBALANCED = """\
# mnist_quick with D learning 10x faster than G, both with Adam's momentum, and D wider with more
# dropout (as mnist_quick was before its 15-second budget): D wins. (The shipped settings, Adam
# without momentum and D's learning rate half G's, hold D back even at 10x G's.)
extends = "mnist_quick"

[discriminator.params]
hidden = [384, 256, 128]
dropout = 0.3

[optim.generator]
betas = [0.5, 0.999]

[optim.discriminator]
lr = 1e-2
betas = [0.5, 0.999]
"""


def train_200_steps(recipe: Path, out: Path):
    """``ganfw run RECIPE`` for one epoch of 25,600 images (200 steps of mnist_quick's 128), its
    other defaults as shipped; the result and the warning records."""
    r = run_cli(
        "run",
        str(recipe),
        "--set",
        "train.epochs=1",
        "--set",
        "data.limit=25600",
        "--quiet",
        "--out",
        str(out),
        timeout=600,
    )
    assert r.returncode == 0, r.both
    records = [json.loads(x) for x in (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    return r, [x for x in records if x.get("event") == "warning"]


def test_the_shipped_recipe_trains_without_a_warning(tmp_path: Path, mnist_root: Path):
    """mnist_quick as shipped, for the same 200 steps: D's accuracy stays well below the threshold."""
    r, warnings = train_200_steps(RECIPES / "mnist_quick.toml", tmp_path / "run")
    assert warnings == [] and "warning" not in r.stderr


def test_an_unbalanced_recipe_warns_that_d_is_winning(tmp_path: Path, mnist_root: Path):
    """The shipped mnist_quick with its defaults (evaluation, precision auto, the report) but D's
    learning rate 10x G's, for 200 steps: the warning is on the progress line, in metrics.jsonl
    and in the report."""
    recipe, out = tmp_path / "unbalanced.toml", tmp_path / "run"
    recipe.write_text(UNBALANCED, encoding="utf-8")
    r, warnings = train_200_steps(recipe, out)
    assert [(w["code"], w["source"]) for w in warnings] == [("d-winning", "health")], warnings
    assert warnings[0]["step"] in (150, 200) and "optim.discriminator.lr" in warnings[0]["message"]
    assert f"warning (d-winning): step {warnings[0]['step']}: the discriminator is winning" in r.stderr
    assert "d-winning" in (out / "report.html").read_text(encoding="utf-8")
