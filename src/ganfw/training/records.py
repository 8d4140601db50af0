"""The numbers a run logs: a step's statistics agreed by every rank, and their running means
between two log lines (a window that checkpoints keep, so a resumed run logs what an
uninterrupted one would)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganfw.contracts import StepReport
from ganfw.distributed import Ranks
from ganfw.training.update import Optimizers, StepOutputs

_RENAMED = {"trained_d": "stepped_d", "trained_g": "stepped_g"}
_FIELDS = ("d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake", "trained_d", "trained_g")
#: The loss's statistics of D's pass, then D's raw logits' (sign of real, mean real, mean fake).
_STATISTICS = ("d_real", "d_fake", "acc_real", "acc_fake")
_RAW = ("real_sign", "real_logit", "fake_logit")


class Window:
    """Means of step statistics between two log lines; a term present on only some steps (a
    lazy penalty) is averaged over the steps that computed it."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.images = 0
        self.seconds = 0.0

    def add(self, report: StepReport, images: int, seconds: float) -> None:
        values = {_RENAMED.get(k, k): float(getattr(report, k)) for k in _FIELDS}
        for key, value in {**values, **report.terms}.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1
        self.images += images
        self.seconds += seconds

    def __bool__(self) -> bool:
        """Whether any step was added since the last log line."""
        return bool(self.counts)

    def mean(self) -> dict[str, float]:
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        means["images_per_s"] = self.images / self.seconds if self.seconds else 0.0
        return means

    def state_dict(self) -> dict[str, Any]:
        """The steps since the last log line, for a checkpoint taken between two log lines."""
        return {"sums": dict(self.sums), "counts": dict(self.counts), "images": self.images, "seconds": self.seconds}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = {str(k): float(v) for k, v in state["sums"].items()}
        self.counts = {str(k): int(v) for k, v in state["counts"].items()}
        self.images, self.seconds = int(state["images"]), float(state["seconds"])


def reduce_step(
    out: StepOutputs, stats: dict[str, Tensor], ranks: Ranks, interrupt: bool, stop: bool
) -> tuple[dict[str, Any], bool, bool]:
    """A step's losses, D statistics, D's raw logit statistics and named terms averaged over
    ranks (so every rank's schedule decides alike) in one collective and one device->host
    transfer, with the Ctrl-C and stop requests of every rank summed (any rank's request stops
    all): ``(StepReport fields, interrupt, stop)``."""
    real, fake = out.real_logits.detach().float(), out.fake_logits.detach().float()
    raw = (real.sign().mean(), real.mean(), fake.mean())
    requests = torch.tensor([float(interrupt), float(stop)], device=real.device)
    values = torch.stack(
        [
            out.d_loss.detach().float(),
            out.g_loss.detach().float(),
            *(stats[k].detach().float().reshape(()) for k in _STATISTICS),
            *raw,
            *(t.detach().float().reshape(()) for t in out.terms.values()),
            *requests,
        ]
    )
    *sums, interrupts, stops = ranks.sum(values).tolist()
    d_loss, g_loss, *rest = (value / ranks.world for value in sums)
    fields = {
        "d_loss": d_loss,
        "g_loss": g_loss,
        **dict(zip(_STATISTICS, rest[:4])),
        **dict(zip(_RAW, rest[4:7])),
        "terms": dict(zip(out.terms, rest[7:])),
    }
    return fields, interrupts > 0, stops > 0


def step_record(window: Window, step: int, epoch: int, opt: Optimizers) -> dict[str, Any]:
    """The ``metrics.jsonl`` line of a log window: means, D's accuracy, the learning rates."""
    means = window.mean()
    record: dict[str, Any] = {"step": step, "epoch": epoch + 1}
    record.update({k: round(v, 6) for k, v in means.items()})
    record["d_acc"] = round((means["acc_real"] + means["acc_fake"]) / 2, 6)
    record["lr_g"], record["lr_d"] = opt.g.param_groups[0]["lr"], opt.d.param_groups[0]["lr"]
    return record
