"""Training health: the classic ways a GAN fails, noticed while it trains.

- ``d-winning``: D's accuracy stays high, window after window: G gets little useful gradient.
- ``divergence``: a loss jumps to an order of magnitude above its usual size and stays there
  (the steps before a NaN).
- ``g-collapse``: at an epoch's end, the judge (the dataset's classifier) finds few of the
  classes among the generated images.
- ``low-diversity``: at an epoch's end, the generated images are nearly identical to each other.

The step checks read the log lines of ``metrics.jsonl`` (``on_log``, rank 0): D's accuracy
averaged over judging windows of ``params.window`` steps, the losses line by line. Each sign is
warned of once, and again only after it has cleared. Each warning says what was seen and what
to try.
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

import torch
from torch import Tensor

from ganfw.plugin import Callback, TrainerView, noise
from ganfw_plugins.callbacks import HealthParams

#: The step statistics that the health checks read.
_WATCHED = ("d_acc", "d_loss", "g_loss")
#: The losses watched for divergence, with the network they belong to.
_LOSSES = (("d_loss", "D"), ("g_loss", "G"))


class TrainingHealth(Callback):
    """Warns (``view.warn``) of D winning, divergence, class collapse and near-identical samples.

    State (saved in checkpoints): the current window's sums, the means of past windows, the
    recent loss sizes, which signs are active.
    """

    def __init__(self, params: HealthParams):
        self.params = params
        self.sums: dict[str, float] = {}  # the current judging window: sums of log-line means x steps
        self.steps = 0  # steps the current judging window covers
        self.last_step = 0  # step of the last log line seen
        self.history: list[dict[str, float]] = []  # means of the completed judging windows
        self.sizes: dict[str, list[float]] = {key: [] for key, _ in _LOSSES}  # |loss| of recent log lines
        self.active: list[str] = []  # codes warned of and not yet cleared

    # ------------------------------------------------------------------ step windows
    def on_log(self, view: TrainerView, record: dict[str, Any]) -> None:
        if "event" in record or not all(k in record for k in _WATCHED):
            return
        steps = record["step"] - self.last_step
        self.last_step = record["step"]
        for key in _WATCHED:
            self.sums[key] = self.sums.get(key, 0.0) + float(record[key]) * steps
        self.steps += steps
        for key, _ in _LOSSES:
            self.sizes[key] = [*self.sizes[key], abs(float(record[key]))][-self.params.memory :]
        self._sign(view, "divergence", self._divergence())
        if self.steps >= self.params.window:
            self.history = [*self.history, {k: v / self.steps for k, v in self.sums.items()}][-self.params.patience :]
            self.sums, self.steps = {}, 0
            self._sign(view, "d-winning", self._d_winning())

    def _sign(self, view: TrainerView, code: str, message: str | None) -> None:
        """Warn of ``code`` when its ``message`` appears; forget it once it has cleared."""
        if message is None:
            if code in self.active:
                self.active.remove(code)
        elif code not in self.active:
            self.active.append(code)
            view.warn(code, message)

    def _d_winning(self) -> str | None:
        """D's accuracy at ``d_acc`` or above in each of the last ``patience`` windows."""
        p, recent = self.params, self.history
        if len(recent) < p.patience or min(w["d_acc"] for w in recent) < p.d_acc:
            return None
        acc = sum(w["d_acc"] for w in recent) / len(recent)
        first, last = recent[0]["g_loss"], recent[-1]["g_loss"]
        trend = "climbed" if last > first else "went"
        return (
            f"the discriminator is winning: it told real from fake {acc:.0%} of the time over the last "
            f"{p.patience * p.window} steps (G's loss {trend} from {first:.3g} to {last:.3g}), so G "
            "gets little gradient to learn from; try a lower D learning rate (optim.discriminator.lr), "
            'a schedule that skips D\'s update while it wins (schedule.name = "adaptive"), a penalty on D '
            '(loss r1) or augmenting what D sees ([augment] name = "diffaugment")'
        )

    def _divergence(self) -> str | None:
        """A loss whose size in each of the last ``patience`` log lines is more than ``blowup``
        times its usual size (the median of the lines before them, ten at least)."""
        p = self.params
        for key, who in _LOSSES:
            before, recent = self.sizes[key][: -p.patience], self.sizes[key][-p.patience :]
            if len(before) < 10:
                continue
            usual = max(median(before), 1e-3)
            if min(recent) > p.blowup * usual:
                return (
                    f"{who}'s loss is diverging: it jumped to {recent[-1]:.3g}, {recent[-1] / usual:.0f}x its usual "
                    f"size {usual:.3g}, and stayed there for {p.patience} log lines, the way runs go before a NaN; try "
                    'lower learning rates (optim.*.lr), fp32 (train.precision = "fp32"), a penalty on D '
                    "(loss r1), or resuming from an earlier checkpoint"
                )
        return None

    # ------------------------------------------------------------------ epoch ends
    def on_epoch_end(self, view: TrainerView) -> None:
        if not view.is_main or self.params.samples < 2 or view.step < self.params.from_step:
            return
        images = self._draw(view)
        self._sign(view, "low-diversity", self._low_diversity(images))
        if not view.generator.num_classes:  # a conditional G is told its classes
            self._sign(view, "g-collapse", self._collapse(view, images))

    def _draw(self, view: TrainerView) -> Tensor:
        """``samples`` images (N, C, H, W) from G in eval mode, from a fixed seed, without
        touching training's random streams."""
        G, n = view.generator, self.params.samples
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            z, labels = noise(G, n, torch.Generator(device=view.device).manual_seed(0))
            was_training = G.training
            G.eval()
            images = (G(z, labels) if G.num_classes else G(z)).float().cpu()
            G.train(was_training)
        return images

    def _low_diversity(self, images: Tensor) -> str | None:
        """The root-mean-square pixel difference between pairs of images below ``min_distance``
        (images in [-1, 1]: two unrelated digits differ by about 0.8)."""
        flat = images.flatten(1)
        distance = (torch.cdist(flat, flat).pow(2).sum() / (len(flat) * (len(flat) - 1) * flat.shape[1])).sqrt().item()
        if distance >= self.params.min_distance:
            return None
        return (
            f"the generator's images are nearly identical: two of them differ by {distance:.3f} per pixel "
            f"(root mean square, {len(images)} images), a collapse onto one output; try a lower D learning "
            "rate, the relativistic or hinge loss, augmenting what D sees, or resuming from an earlier checkpoint"
        )

    def _collapse(self, view: TrainerView, images: Tensor) -> str | None:
        """Fewer than ``min_classes`` of the K classes hold at least a quarter of their fair share
        (1 / 4K) of the images, by the judge's predictions."""
        logits = view.classify(images)
        if logits is None:
            return None
        k = logits.shape[1]
        shares = torch.bincount(logits.argmax(1), minlength=k).float() / len(logits)
        present = int((shares >= 1 / (4 * k)).sum())
        if present >= math.ceil(self.params.min_classes * k):
            return None
        names = view.class_names or tuple(str(i) for i in range(k))
        top = ", ".join(f"{names[i]} {shares[i]:.0%}" for i in shares.argsort(descending=True)[:3].tolist())
        return (
            f"the generator is collapsing onto few classes: the judge finds {present} of {k} classes among "
            f"{len(images)} images (most: {top}); try a lower D learning rate, minibatch-aware or relativistic "
            "losses, augmenting what D sees, or a class-conditional recipe (mnist_cdcgan)"
        )

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "sums": self.sums,
            "steps": self.steps,
            "last_step": self.last_step,
            "history": self.history,
            "sizes": self.sizes,
            "active": self.active,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.steps, self.last_step = dict(state["sums"]), state["steps"], state["last_step"]
        self.history, self.active = [dict(w) for w in state["history"]], list(state["active"])
        self.sizes = {key: list(values) for key, values in state["sizes"].items()}
