"""The run's random streams, per rank: what each process draws its noise, dropout masks and
augmentations from, saved in every checkpoint for every rank so that a resumed run continues
exactly (one process or several), and the fixed noise of the sample grid.

In a checkpoint (``extra.*`` tensors): ``extra.rng.<rank>.cpu`` (torch's global CPU generator),
``extra.rng.<rank>.noise`` (the noise generator), ``extra.rng.<rank>.cuda`` (the rank's GPU
generator, on CUDA); ``extra.fixed_z`` (S, Z) and ``extra.fixed_labels`` (S,).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

from ganfw.distributed import Ranks
from ganfw.training.parts import Parts

#: One rank's generator states: ``cpu``, ``noise`` and (on CUDA) ``cuda``, as CPU byte tensors.
RankStates = dict[str, Tensor]


@dataclass
class Streams:
    """The run's random streams: ``noise`` draws z and fake labels; ``fixed_z`` (S, Z) and
    ``fixed_labels`` (S,) (or ``None``) are the grid's samples."""

    noise: torch.Generator
    fixed_z: Tensor
    fixed_labels: Tensor | None


def open_streams(seed: int, samples: int, ranks: Ranks, device: torch.device, parts: Parts) -> Streams:
    """Per-rank noise (and, under torchrun, per-rank dropout masks and augmentations); the grid's
    fixed noise (S, Z) and labels (S,): column ``c`` of the square grid shows class ``c mod K``."""
    rank = ranks.rank
    if ranks.distributed:
        torch.manual_seed(seed + rank)
    noise = torch.Generator(device).manual_seed(seed + 1 + 1000 * rank)
    fixed = torch.Generator(device).manual_seed(seed + 2)
    with parts.generator.blame("sample_latent"):
        fixed_z = parts.G.sample_latent(samples, device=device, generator=fixed)
    labels = None
    if parts.conditional:
        labels = (torch.arange(samples, device=device) % math.isqrt(samples)) % parts.dataset.obj.num_classes
    return Streams(noise, fixed_z, labels)


def capture(streams: Streams, device: torch.device) -> RankStates:
    """This process's generator states."""
    states = {"cpu": torch.get_rng_state(), "noise": streams.noise.get_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def restore(states: RankStates, streams: Streams, device: torch.device) -> None:
    """Set this process's generators to ``states`` (as :func:`capture` took them)."""
    torch.set_rng_state(states["cpu"])
    streams.noise.set_state(states["noise"])
    if "cuda" in states and device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"], device)


def gather(states: RankStates, ranks: Ranks) -> list[RankStates]:
    """Every rank's states, by rank, on every rank (a collective: all ranks call it together)."""
    if not ranks.distributed:
        return [states]
    gathered: list[RankStates] = [{}] * ranks.world
    dist.all_gather_object(gathered, states)
    return gathered


def as_tensors(per_rank: list[RankStates]) -> dict[str, Tensor]:
    """``{"rng.<rank>.<name>": state}`` for a checkpoint's ``extra`` tensors."""
    return {f"rng.{rank}.{name}": state for rank, states in enumerate(per_rank) for name, state in states.items()}


def of_rank(tensors: dict[str, Tensor], rank: int) -> RankStates | None:
    """Rank ``rank``'s states among a checkpoint's tensors (``extra.rng.<rank>.*``), if saved."""
    head = f"extra.rng.{rank}."
    states = {key[len(head) :]: value for key, value in tensors.items() if key.startswith(head)}
    return states if {"cpu", "noise"} <= states.keys() else None


def reseed(seed: int, ranks: Ranks, step: int, streams: Streams) -> None:
    """Fresh streams for this rank at ``step`` (a checkpoint without them: another world size)."""
    derived = hash((seed, ranks.rank, step)) & 0x7FFF_FFFF
    torch.manual_seed(derived)
    streams.noise.manual_seed(derived + 1)
