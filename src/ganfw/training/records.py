"""The numbers a run logs: running means of step statistics between two log lines."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganfw.contracts import StepReport
from ganfw.distributed import Ranks
from ganfw.training.update import Optimizers, StepOutputs

_RENAMED = {"trained_d": "stepped_d", "trained_g": "stepped_g"}
_FIELDS = ("d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake", "trained_d", "trained_g")


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

    def mean(self) -> dict[str, float]:
        means = {k: v / self.counts[k] for k, v in self.sums.items()}
        means["images_per_s"] = self.images / self.seconds if self.seconds else 0.0
        return means


def reduce_step(
    out: StepOutputs, stats: dict[str, Tensor], ranks: Ranks, interrupt: bool, stop: bool
) -> tuple[dict[str, Any], bool, bool]:
    """A step's losses, D statistics and named terms averaged over ranks (so every rank's
    schedule decides alike) in one device->host transfer, with the Ctrl-C and stop flags of any
    rank: ``(StepReport fields, interrupt, stop)``."""
    names = ("d_real", "d_fake", "acc_real", "acc_fake")
    flags = float(interrupt) + 2 * float(stop)
    values = torch.stack(
        [
            out.d_loss.detach().float(),
            out.g_loss.detach().float(),
            *(stats[k].detach().float().reshape(()) for k in names),
            *(t.detach().float().reshape(()) for t in out.terms.values()),
            torch.tensor(flags, device=out.d_loss.device),
        ]
    )
    d_loss, g_loss, *rest = ranks.mean(values).tolist()
    flag = rest.pop()
    fields = {"d_loss": d_loss, "g_loss": g_loss, **dict(zip(names, rest[:4])), "terms": dict(zip(out.terms, rest[4:]))}
    return fields, interrupt or flag % 2 > 0, stop or flag >= 2


def step_record(window: Window, step: int, epoch: int, opt: Optimizers) -> dict[str, Any]:
    """The ``metrics.jsonl`` line of a log window: means, D's accuracy, the learning rates."""
    means = window.mean()
    record: dict[str, Any] = {"step": step, "epoch": epoch + 1}
    record.update({k: round(v, 6) for k, v in means.items()})
    record["d_acc"] = round((means["acc_real"] + means["acc_fake"]) / 2, 6)
    record["lr_g"], record["lr_d"] = opt.g.param_groups[0]["lr"], opt.d.param_groups[0]["lr"]
    return record
