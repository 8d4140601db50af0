"""Protocols: how a score was measured, so that only scores measured alike are compared.

Two protocols are offered:

- ``quick`` (the default): the generated images against the dataset's held-out split (never
  trained on), through the dataset's judge (or ``--features``); 10,000 images from ``ganfw
  evaluate``, ``eval.n`` during training. For comparing runs of this project.
- ``paper``: 50,000 generated images against the whole training set, in Inception's features,
  the Inception Score from Inception's own classifier - the protocol of StyleGAN/StyleGAN2-ADA
  (``fid50k_full``) and PyTorch-StudioGAN's tables (CIFAR-10 train, 50k samples), with
  torch-fidelity's Inception and resizing. For comparing with published numbers.

:class:`Protocol` is what every score carries (``ganfw evaluate --json``, ``eval`` records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from ganfw.errors import UserError

ProtocolName = Literal["quick", "paper"]
PROTOCOLS: tuple[ProtocolName, ...] = get_args(ProtocolName)


@dataclass(frozen=True)
class ProtocolSpec:
    """What a protocol fixes.

    Attributes:
        name: ``"quick"`` or ``"paper"``.
        reference: the real images scored against: ``"held-out"`` (the dataset's held-out split)
            or ``"train"`` (its training images).
        n: generated images unless asked otherwise.
        features: the feature space unless asked otherwise.
        network_logits: the class logits (the Inception Score's) come from the feature network's
            own classifier (Inception's ImageNet head) rather than the dataset's judge.
    """

    name: ProtocolName
    reference: Literal["held-out", "train"]
    n: int
    features: str
    network_logits: bool


SPECS = {
    "quick": ProtocolSpec("quick", "held-out", 10_000, "judge", network_logits=False),
    "paper": ProtocolSpec("paper", "train", 50_000, "inception", network_logits=True),
}


def protocol_spec(name: str) -> ProtocolSpec:
    """The protocol ``name``; a :class:`UserError` listing the protocols for another name."""
    if name not in SPECS:
        raise UserError(f"--protocol: unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}")
    return SPECS[name]


@dataclass(frozen=True)
class Protocol:
    """What a score was measured against and how: only scores of equal protocols (bar
    ``n_generated``, with care) compare.

    Attributes:
        protocol: ``"quick"`` or ``"paper"`` (:class:`ProtocolSpec`).
        dataset: the dataset key; ``split``: the real images scored against (``"test"`` or
            ``"held-out"``: the held-out split; ``"train"``: the training images).
        features: ``"judge"``, ``"inception"`` or ``"dinov2"``; ``extractor``/``extractor_hash``:
            the feature network (``judge:mnist``, ``inception:<weights file>``) and its weights'
            SHA-256; ``resize``: how images reach its input size (``None`` for the judge, which
            reads them as they are).
        classifier: the network of the class logits (``judge:<key>``, ``inception:<weights
            file>``; ``None``: none); ``judge_hash``: the judge's SHA-256 when it is the judge.
        n_real, n_generated: real and generated images; ``seed``: of the noise and the metrics'
            randomness.
    """

    protocol: str
    dataset: str
    split: str
    features: str
    extractor: str
    extractor_hash: str | None
    resize: str | None
    classifier: str | None
    judge_hash: str | None
    n_real: int
    n_generated: int
    seed: int
