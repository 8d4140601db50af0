"""Where a run starts: :func:`train` assembles a :class:`~ganfw.training.loop.Trainer` for a
recipe (:func:`ganfw.training.assembly.assemble`), resumes it when asked, and turns a failed
process group into one line.

The loop lives in :mod:`ganfw.training.loop`, the update math in :mod:`ganfw.training.update`,
checkpoints and resume in :mod:`ganfw.training.state`.
"""

from __future__ import annotations

from ganfw.atomic import write_text
from ganfw.checkpoint import latest_checkpoint
from ganfw.distributed import leave, ranks_from_env
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
        trainer = assemble(recipe, run, reporter, ranks, registry or load_registry())
        if resume and latest_checkpoint(run.checkpoints) is None:
            reporter.message(f"{run.path}: no checkpoint (the run stopped before its first one): starting it over")
            resume = False
        if resume:
            path = trainer.resume()
            reporter.message(f"resuming from {path} (step {trainer.step})")
        if ranks.is_main:
            write_text(run.recipe, recipe.to_toml())
        finished = trainer.fit()
        return finished
    except BaseException as e:
        discard_if_unused(run.path)
        if not (isinstance(e, RuntimeError) and ranks.distributed):
            raise
        last = latest_checkpoint(run.checkpoints)
        raise UserError(
            f"rank {ranks.rank}: training stopped, the process group failed (another rank may have "
            f"crashed): {str(e).splitlines()[0]}; last checkpoint: {last}"
        ) from None
    finally:
        leave(together=finished is not None)
