"""What a run writes after each epoch, beside its checkpoint: the epoch record, the sample grid
and GIF, the evaluation, the curves - on rank 0 only, and without touching any random stream of
training (so that a resumed run continues bit for bit)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from ganfw import artifacts
from ganfw.blame import one_line
from ganfw.checkpoint import checkpoint_name
from ganfw.config import EvalConfig
from ganfw.contracts import Generator
from ganfw.device import environment
from ganfw.distributed import SINGLE, Ranks
from ganfw.errors import UserError
from ganfw.plugins import Registry
from ganfw.precision import PrecisionChoice
from ganfw.progress import Reporter
from ganfw.recipe import Recipe
from ganfw.rundir import RunDir, read_metrics
from ganfw.training.stops import TrainingStopped

if TYPE_CHECKING:
    from ganfw.evaluation.datasets import EvalData
    from ganfw.evaluation.evaluate import Evaluation


def isolated_rng(device: torch.device):
    """A context in which the global CPU generator (and ``device``'s, on CUDA) may be drawn from
    or reseeded: it is restored on exit."""
    return torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [])


class EpochOutputs:
    """The per-epoch files of a run directory, written by rank 0 (its records through ``write``:
    metrics.jsonl and the callbacks): the epoch record, the grid, the evaluation's record (the
    :class:`Evaluator` scores), the curves."""

    def __init__(
        self,
        recipe: Recipe,
        run: RunDir,
        write: Callable[[dict[str, Any]], None],
        device: torch.device,
        message: Callable[[str], None],
    ):
        self.recipe, self.run, self.record = recipe, run, write
        self.device, self.message = device, message
        self.latest_grid: Tensor | None = None  # (S, C, H, W) in [-1, 1], the last grid drawn

    def write(
        self, epoch: int, step: int, record: dict[str, Any] | None, grid: tuple[Generator, Tensor, Tensor | None] | None
    ) -> None:
        """After epoch ``epoch`` (1-based, its checkpoint written): the epoch ``record`` and the
        grid drawn by ``grid = (generator, z, labels)``; the curves follow with :meth:`finish`."""
        with isolated_rng(self.device):
            if record is not None:
                self.record(record)
            if grid is not None:
                self._draw_grid(epoch, *grid)

    def finish(self, epoch: int, step: int, evaluation: Evaluation | None) -> dict[str, float] | None:
        """The epoch's evaluation (``None``: none was due) recorded, then the curves; its scores."""
        scores = None if evaluation is None else self._record_evaluation(epoch, step, evaluation)
        artifacts.plot_curves(read_metrics(self.run.metrics), self.run.curves)
        return scores

    def complete(self, epoch: int, step: int, elapsed: float, evaluator: Evaluator | None,
                 grid: tuple[Generator, Tensor, Tensor | None]) -> None:  # fmt: skip
        """Write whichever outputs of ``epoch`` the run directory lacks (the record, the grid, the
        evaluation, by ``evaluator`` when one is due, in this process alone): a run killed between
        the epoch's checkpoint and the end of its outputs."""
        events = {(r.get("event"), r.get("epoch")) for r in read_metrics(self.run.metrics)}
        record = ("epoch", epoch) not in events
        draw = not self.run.sample_grid(epoch).exists()
        evaluate = evaluator is not None and ("eval", epoch) not in events
        if record or draw or evaluate:
            self.message(f"writing the missing outputs of epoch {epoch}")
            recovered = {
                "event": "epoch",
                "epoch": epoch,
                "step": step,
                "elapsed_s": round(elapsed, 3),
                "recovered": True,
            }
            self.write(epoch, step, recovered if record else None, grid if draw else None)
            alone = evaluator.alone() if evaluate and evaluator is not None else None
            self.finish(epoch, step, alone.evaluate(epoch, step, grid[0]) if alone is not None else None)

    def _draw_grid(self, epoch: int, generator: Generator, z: Tensor, labels: Tensor | None) -> None:
        """The grid of epoch ``epoch`` from the fixed noise (S, Z) and labels (S,), in eval mode;
        the GIF."""
        was_training = generator.training
        generator.eval()
        with torch.no_grad():
            images = (generator(z, labels) if generator.num_classes else generator(z)).float().cpu()  # (S, C, H, W)
        generator.train(was_training)
        self.latest_grid = images
        artifacts.save_grid(images, self.run.sample_grid(epoch))
        if self.recipe.output.gif:
            artifacts.save_gif(self.run.sample_grids(), self.run.gif)

    def _record_evaluation(self, epoch: int, step: int, evaluation: Evaluation) -> dict[str, float]:
        """Log ``eval/<score>`` with the scores' protocol (and warnings); say the scores."""
        scores = evaluation.scores
        self.record(
            {
                "event": "eval",
                "epoch": epoch,
                "step": step,
                "n": evaluation.protocol.n_generated,
                "protocol": asdict(evaluation.protocol),
                **{f"eval/{k}": round(v, 6) for k, v in scores.items()},
                **({"warnings": evaluation.warnings} if evaluation.warnings else {}),
            }
        )
        self.message(f"epoch {epoch}: " + "  ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        for line in evaluation.warnings:
            self.message(f"warning: epoch {epoch}: {line}")
        return scores


@dataclass(frozen=True)
class Evaluator:
    """Training-time evaluation (``[eval]`` settings ``cfg``, seeded by the run's ``seed``) of the
    run's dataset ``data``, on every rank of ``ranks``: under torchrun each rank draws and embeds
    its share of the images and rank 0 scores them (see
    :func:`ganfw.evaluation.evaluate.evaluate_generator`)."""

    cfg: EvalConfig
    seed: int
    registry: Registry
    data: EvalData
    run: RunDir
    ranks: Ranks

    def alone(self) -> Evaluator:
        """This evaluator for this process alone (a resumed run redoing a lost evaluation on rank 0)."""
        return replace(self, ranks=SINGLE)

    def evaluate(self, epoch: int, step: int, generator: Generator) -> Evaluation | None:
        """Score ``generator`` against the run's dataset: the evaluation on rank 0, ``None`` on the
        others. A failure stops the run with one line; the epoch's checkpoint is already written
        and ``--resume`` redoes it."""
        from ganfw.evaluation import evaluate

        try:
            return evaluate.evaluate_generator(
                generator, self.cfg.metrics, self.cfg.n, self.registry, self.data, seed=self.seed,
                features=self.cfg.features, ranks=self.ranks,
            )  # fmt: skip
        except Exception as e:  # a metric plugin's code, the data, the disk
            reason = str(e) if isinstance(e, UserError) else one_line(e)
            raise TrainingStopped(
                f"epoch {epoch}: evaluation failed: {reason}; the epoch's checkpoint "
                f"{self.run.checkpoints / checkpoint_name(step)} is kept "
                "(--resume redoes the evaluation)"
            ) from e


def announce(
    reporter: Reporter,
    write: Callable[[dict[str, Any]], None],
    choice: PrecisionChoice,
    device: torch.device,
    step: int,
) -> None:
    """Say where and in which precision the run trains: one line, and a ``start`` record (with
    the versions and machine: :func:`ganfw.device.environment`)."""
    threads = torch.get_num_threads()
    reporter.message(choice.where(device, threads))
    if choice.warning:
        reporter.message(f"warning: {choice.warning}")
    write(
        {
            "event": "start",
            "step": step,
            "device": str(device),
            "threads": threads,
            "precision": choice.name,
            "precision_requested": choice.requested,
            "precision_reason": choice.reason,
            "environment": environment(device),
        }
    )
