"""The numbers a run logs: running means of step statistics between two log lines."""

from __future__ import annotations

from ganfw.contracts import StepReport

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
