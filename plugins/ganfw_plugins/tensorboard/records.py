"""What TensorBoard shows of each ``metrics.jsonl`` record (docs/architecture.md lists them)."""

from __future__ import annotations

from typing import Any

#: The section (tag prefix) of each fixed key of a step window. Its other un-prefixed keys are
#: the schedule's counters (``schedule/<key>``); the loss's named terms join the losses
#: (``d/<term>`` -> ``loss/d/<term>``: one group, not ``d/`` beside ``D/``); other prefixed keys
#: (``penalty/<name>``, ``loss/<key>``, ``augment/<key>``, ``<callback>/<key>``) keep their name.
SECTIONS = {
    "d_loss": "loss",
    "g_loss": "loss",
    "d_real": "D",
    "d_fake": "D",
    "acc_real": "D",
    "acc_fake": "D",
    "d_acc": "D",
    "lr_g": "lr",
    "lr_d": "lr",
    "images_per_s": "speed",
    "stepped_d": "schedule",
    "stepped_g": "schedule",
}

#: Keys that say where a record belongs (the x axis), not what was measured.
PLACE = ("step", "epoch")
#: The prefixes of the loss's named terms in a step window (D's and G's).
TERMS = ("d/", "g/")


def window_tag(key: str) -> str:
    """The tag of a step window's key: ``d_loss`` -> ``loss/d_loss``, ``d/gp`` -> ``loss/d/gp``,
    ``penalty/r1`` -> ``penalty/r1``."""
    if key.startswith(TERMS):
        return f"loss/{key}"
    if "/" in key:
        return key
    return f"{SECTIONS.get(key, 'schedule')}/{key}"


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The record's numbers by tag: every number of a step window (:func:`window_tag`), the
    scores of an ``eval`` record (``eval/<score>``), the timings of an ``epoch`` record
    (``epoch/<key>``); none for other events."""
    numbers = {k: float(v) for k, v in record.items() if k not in PLACE and isinstance(v, (int, float))}
    event = record.get("event")
    if event is None:
        return {window_tag(k): v for k, v in numbers.items()}
    if event == "eval":
        return {k: v for k, v in numbers.items() if k.startswith("eval/")}
    if event == "epoch":
        return {f"epoch/{k}": v for k, v in numbers.items()}
    return {}


def warning_text(record: dict[str, Any]) -> str | None:
    """A ``warning`` record as a line of Markdown; ``None`` for other records."""
    if record.get("event") != "warning":
        return None
    return f"**{record['code']}** (epoch {record['epoch']}, {record['source']}): {record['message']}"
