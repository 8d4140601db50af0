"""Multi-process training on PyTorch's own engine: ``torchrun`` + ``torch.distributed`` + DDP.

Under ``torchrun --nproc_per_node=N -m ganfw run RECIPE`` every process reads ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` from its environment and joins one process group (gloo on the
CPU, nccl on CUDA). Without those variables ganfw runs as a single process and nothing here is
used beyond :data:`SINGLE`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest import mock

import torch
import torch.distributed as dist

from ganfw.errors import UserError


@dataclass(frozen=True)
class Ranks:
    """This process's place in the job: ``rank`` of ``world`` processes, ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes outputs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of ``values`` over all ranks (a no-op for one process)."""
        if self.distributed:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean of ``values`` over all ranks (a no-op for one process)."""
        return self.sum(values) / self.world if self.distributed else values

    def gather(self, value: Any) -> list[Any] | None:
        """Every rank's ``value`` (tensors are taken to the CPU), by rank, on rank 0; ``None`` on
        the others (a collective: all ranks call it together)."""
        if not self.distributed:
            return [value]
        gathered: list[Any] = [None] * self.world if self.is_main else []
        dist.gather_object(value, gathered if self.is_main else None, dst=0)
        return gathered if self.is_main else None

    def first(self, value: str | None) -> str | None:
        """The first rank's non-``None`` ``value`` (by rank), on every rank (``value`` itself for one
        process): a request made on any rank, shared."""
        if not self.distributed:
            return value
        gathered: list[str | None] = [None] * self.world
        dist.all_gather_object(gathered, value)
        return next((v for v in gathered if v is not None), None)


SINGLE = Ranks()


def average_gradients(module: torch.nn.Module) -> None:
    """Replace each gradient of ``module``'s parameters by its mean over the ranks, in one
    all-reduce of all of them (what DDP's hooks do, for a gradient summed outside them)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads or not dist.is_initialized():
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    for grad, mean in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(mean.view_as(grad))


def ranks_from_env() -> Ranks:
    """The ranks torchrun describes in the environment, or :data:`SINGLE`."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Ranks(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def join(ranks: Ranks, device: torch.device, timeout_s: float) -> None:
    """Join the process group (gloo on the CPU, nccl on CUDA).

    ``timeout_s`` bounds every collective: a rank that dies makes the others fail after at most
    that long instead of hanging (torchrun usually stops them sooner).
    """
    if not ranks.distributed or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    _import_group_defaults()
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as e:
        raise UserError(f"rank {ranks.rank}: cannot join the process group ({backend}): {e}") from None


@contextlib.contextmanager
def process_local() -> Iterator[None]:
    """Run the enclosed code as if no process group existed.

    Training-time evaluation runs on rank 0 alone while the other ranks wait at their next
    collective. Metrics built on torchmetrics (a third-party plugin's may be) gather their state
    from every rank whenever a process group is initialised; inside this context they see none, compute on this process's
    data, and never wait for ranks that are not evaluating.
    """
    if not (dist.is_available() and dist.is_initialized()):
        yield
        return
    with mock.patch.object(dist, "is_initialized", lambda: False):
        yield


def _import_group_defaults() -> None:
    """Import, before the process group exists, the torch module that takes it as a default argument.

    ``torch.distributed.nn.functional`` declares ``group=group.WORLD`` in its signatures, a default
    evaluated when the module is imported. DDP's constructor imports ``torch._dynamo``, which
    imports that module: after ``init_process_group``, its defaults would hold the default group
    for the rest of the process, :func:`leave` could not free it, and gloo's threads would outlive
    the run (see :func:`leave`). Imported first, the defaults are ``None`` (the current group).
    """
    import torch.distributed.nn.functional  # noqa: F401


def _chain(e: BaseException) -> Iterator[BaseException]:
    """``e``, then what caused it (or what it was raised while handling), and so on."""
    seen: BaseException | None = e
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def group_failure(e: BaseException) -> BaseException | None:
    """The error in ``e``'s chain that is the process group failing (another rank crashed, or a
    collective timed out), ``None`` when there is none: torch's backend errors (NCCL, the store,
    the network), and gloo's, plain ``RuntimeError``s whose text names gloo's sources. A failure
    met inside a component's code (a DDP wrapper's forward syncs buffers) is found below the
    component's error that wraps it."""
    for seen in _chain(e):
        if isinstance(seen, dist.DistError) or (isinstance(seen, RuntimeError) and "gloo" in str(seen)):
            return seen
    return None


def release_frames(e: BaseException) -> None:
    """Clear the local variables of the finished frames in the tracebacks of ``e``'s chain: the
    trainer and its DDP wrappers they hold, which hold the process group, can go before
    :func:`leave`."""
    for seen in _chain(e):
        traceback.clear_frames(seen.__traceback__)


def leave(together: bool) -> None:
    """Leave the process group; ``together``: every rank ends the same way (a finished or
    interrupted run), so all first meet at a barrier and none tears its connections down while
    another still uses them. A rank that failed leaves at once.

    Called once nothing else holds the group (the trainer and its DDP wrappers are gone, see
    :func:`ganfw.engine.train`), ``destroy_process_group`` frees it, and gloo joins its worker
    threads here, while Python is fully alive. A gloo worker still alive when the interpreter
    finalizes, releasing the tensors of a collective it has just finished, takes the GIL for
    them; Python ends such a thread with ``pthread_exit``, whose unwinding through a ``noexcept``
    destructor aborts the process: "terminate called without an active exception".
    """
    if dist.is_initialized():
        if together:
            dist.barrier()
        gc.collect()  # a failed run's wrappers may sit in reference cycles: free them first
        dist.destroy_process_group()


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """Each rank on its own GPU (``cuda:LOCAL_RANK``); CPU ranks share the CPU."""
    if ranks.distributed and device.type == "cuda":
        return torch.device("cuda", ranks.local_rank)
    return device
