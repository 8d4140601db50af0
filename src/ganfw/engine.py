"""Where a run starts: :func:`train` assembles a :class:`~ganfw.training.loop.Trainer` for a
recipe (:func:`ganfw.training.assembly.assemble`), resumes it when asked, and turns a failed
process group into one line.

The loop lives in :mod:`ganfw.training.loop`, the update math in :mod:`ganfw.training.update`,
checkpoints and resume in :mod:`ganfw.training.state`.
"""

from __future__ import annotations

from ganfw.atomic import write_text
from ganfw.checkpoint import latest_checkpoint
from ganfw.distributed import Ranks, group_failure, leave, ranks_from_env, release_frames
from ganfw.errors import UserError
from ganfw.plugins import Registry, load_registry
from ganfw.progress import Reporter
from ganfw.recipe import Recipe
from ganfw.rundir import RunDir, discard_if_unused
from ganfw.training.assembly import assemble
from ganfw.training.loop import Trainer
from ganfw.training.stops import TrainingStopped

__all__ = ["Trainer", "TrainingStopped", "assemble", "train"]


def train(recipe: Recipe, run: RunDir, reporter: Reporter, resume: bool, registry: Registry | None = None) -> bool:
    """Train ``recipe`` into ``run``; return False if interrupted. Writes ``recipe.toml`` first.

    Under torchrun every rank calls this; rank 0 alone writes into ``run``.
    """
    ranks, finished = ranks_from_env(), None
    try:
        finished = _fit(recipe, run, reporter, ranks, resume, registry or load_registry())
        return finished
    except BaseException as e:
        discard_if_unused(run.path)
        if not ranks.distributed:
            raise
        release_frames(e)  # then leave() below frees the group and joins gloo's threads
        failure = group_failure(e) or (e if isinstance(e, RuntimeError) else None)
        if failure is None:
            raise
        last = latest_checkpoint(run.checkpoints)
        raise UserError(
            f"rank {ranks.rank}: training stopped, the process group failed (another rank may have "
            f"crashed): {str(failure).splitlines()[0]}; last checkpoint: {last}"
        ) from None
    finally:
        leave(together=finished is not None)


def _fit(recipe: Recipe, run: RunDir, reporter: Reporter, ranks: Ranks, resume: bool, registry: Registry) -> bool:
    """Assemble, resume when asked and there is a checkpoint, write the recipe (rank 0), train.
    The trainer lives in this frame alone: once it returns, nothing holds the process group."""
    trainer = assemble(recipe, run, reporter, ranks, registry)
    if resume and latest_checkpoint(run.checkpoints) is None:
        reporter.message(f"{run.path}: no checkpoint (the run stopped before its first one): starting it over")
        resume = False
    if resume:
        path = trainer.resume()
        reporter.message(f"resuming from {path} (step {trainer.step})")
    if ranks.is_main:
        write_text(run.recipe, recipe.to_toml())
    return trainer.fit()
