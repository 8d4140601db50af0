"""Warnings that go with scores that cannot be trusted as they stand, and the class names that
replace class indices in the metrics' details.

A metric warns in its own details, a list of lines under ``"warnings"`` (too few images for
it, with the minimum it needs; degenerate k-NN balls); the evaluation adds what only it can see
(an interval of zero width). :func:`gather` collects them all, each line led by the name of the
metric it concerns; ``ganfw evaluate`` prints them under its table and writes them to the JSON
report (``"warnings"``).
"""

from __future__ import annotations

from typing import Any

from ganfw.contracts import MetricResult
from ganfw.evaluation.bootstrap import Interval

#: The details key under which a metric lists its warnings.
WARNINGS = "warnings"
#: Details that name classes by index: a list of indices, a list with one value per class, and a
#: table by class index (as text). They are shown with the dataset's class names.
CLASS_LISTS = ("missing_classes",)
CLASS_VALUES = ("class_shares",)
CLASS_TABLES = ("per_class_accuracy",)


def gather(results: dict[str, MetricResult], intervals: dict[str, Interval], scores: dict[str, float]) -> list[str]:
    """Every metric's warnings (``"<metric>: <line>"``), then the evaluation's own: an interval
    of zero width."""
    lines = [f"{name}: {line}" for name, result in results.items() for line in result.details.get(WARNINGS, [])]
    for key, interval in intervals.items():
        if interval.high - interval.low <= 1e-9 * max(1.0, abs(scores[key])):
            lines.append(
                f"{key}: its {interval.level:.0%} interval has zero width: every one of {interval.resamples} "
                "resamples of the generated images scored the same (they are near-identical in feature space, "
                "or too few to vary), so it says nothing about the score's uncertainty"
            )
    return lines


def name_classes(details: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """``details`` of a metric with the class indices of :data:`CLASS_LISTS`, :data:`CLASS_VALUES`
    and :data:`CLASS_TABLES` replaced by ``names`` (a list of names; a table by name; a table by
    name) - unchanged without names."""
    if not names:
        return details
    named = dict(details)
    for key in CLASS_LISTS:
        if key in named:
            named[key] = [names[i] for i in named[key]]
    for key in CLASS_VALUES:
        if key in named:
            named[key] = dict(zip(names, named[key]))
    for key in CLASS_TABLES:
        if key in named:
            named[key] = {names[int(i)]: value for i, value in named[key].items()}
    return named
