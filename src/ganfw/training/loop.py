"""The training loop, readable top to bottom:

    for each epoch:                      (a fresh shuffle of the in-memory dataset)
        for each batch:
            ask the Schedule what to update; set the learning rates
            the update (training/update.py): D's turn, G's turn, or both from one pass
            tell the Augmentation, the Schedule and each Callback what happened
            log every `output.log_every` steps; checkpoint every `output.checkpoint_every`
        checkpoint; the epoch's grid, evaluation and curves; callbacks' on_epoch_end

Shapes: real images (B, C, H, W) in [-1, 1], labels (B,); z (B, Z); logits (B,).
"""

from __future__ import annotations

import contextlib
import functools
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import torch
from torch import Tensor

from ganfw.checkpoint import latest_checkpoint
from ganfw.contracts import Batch, Generator, StepReport
from ganfw.device import resolve_device
from ganfw.distributed import Ranks, join, rank_device, ranks_from_env
from ganfw.evaluation.judge import Judge
from ganfw.plugins import Registry, load_registry
from ganfw.precision import Precision, resolve_precision
from ganfw.preflight import check_evaluation, steps_per_epoch
from ganfw.progress import Reporter
from ganfw.recipe import ComponentError, Recipe
from ganfw.rundir import MetricsLog, RunDir, read_metrics, truncate_metrics
from ganfw.training.blame import TrainingStopped, blame, check_finite
from ganfw.training.components import build_components, epoch_order
from ganfw.training.outputs import EpochOutputs, announce
from ganfw.training.records import Window, reduce_step, step_record
from ganfw.training.state import Progress, RunState, open_streams
from ganfw.training.update import GANUpdate, Optimizers, StepOutputs
from ganfw.training.view import LiveView
from ganfw.training.wrapping import adam, wrap_networks

#: Signals that end training after the current step, with a checkpoint.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Trainer:
    """Builds the components of a recipe and trains them, writing into a run directory."""

    def __init__(
        self,
        recipe: Recipe,
        run: RunDir,
        reporter: Reporter,
        ranks: Ranks | None = None,
        registry: Registry | None = None,
    ):
        self.recipe, self.run, self.reporter = recipe, run, reporter
        self.registry = registry or load_registry()  # metric components for [eval]
        self.ranks = ranks = ranks or ranks_from_env()
        train = recipe.train
        self.device = rank_device(resolve_device(train.device), ranks)
        join(ranks, self.device, train.dist_timeout)
        self.precision_choice = resolve_precision(train.precision, self.device)
        self.precision = Precision(self.precision_choice.name, self.device)
        torch.manual_seed(train.seed)  # the same initial weights on every rank
        self.parts = parts = build_components(recipe, self.device, train.channels_last)
        nets = wrap_networks(parts.G, parts.D, train, ranks, self.device)
        opt = Optimizers(
            adam(parts.G, recipe.optim["generator"]),
            adam(parts.D, recipe.optim["discriminator"]),
            self.precision.scaler(),
            self.precision.scaler(),
        )
        self.update = GANUpdate(recipe, nets, opt, parts.loss, parts.penalties, parts.augment, self.precision)
        self.streams = open_streams(recipe, ranks, self.device, parts)
        self.steps_per_epoch = steps_per_epoch(recipe, len(parts.data), ranks.world, (parts.G, parts.D))
        check_evaluation(recipe, self.registry, parts.dataset, parts.conditional)
        self.total_steps = train.epochs * self.steps_per_epoch
        self.progress = Progress()
        self.state = RunState(
            recipe, run, ranks, self.device, parts, opt, self.streams, self.precision.name, self.steps_per_epoch
        )
        self.views = [LiveView(self, choice.ref) for choice, _ in self.parts.hooked(recipe)]
        self.scores: dict[str, float] = {}
        self.latest_samples: Tensor | None = None  # the latest epoch grid (rank 0)
        self.log: MetricsLog | None = None  # metrics.jsonl (rank 0), open while fitting
        self.stop_reason: str | None = None  # a callback asked to end the run
        self._interrupt = False  # Ctrl-C or SIGTERM
        self._step_done = True  # no step is under way (the last one completed)
        self._callbacks("setup")

    @property
    def step(self) -> int:
        """Steps completed so far (over resumes)."""
        return self.progress.step

    @functools.cached_property
    def judge(self) -> Judge | None:
        """The judge of the run's dataset (found as evaluation finds it), or ``None``."""
        from ganfw.evaluation.datasets import of_run
        from ganfw.evaluation.judges import find_judge

        return find_judge(of_run(self.parts.dataset, self.recipe.data, str(self.recipe.path)))

    def _callbacks(self, hook: str, *args: Any) -> None:
        for (choice, callback), view in zip(self.parts.hooked(self.recipe), self.views):
            with self._stop_on_component_error(), blame(choice, hook):
                getattr(callback, hook)(view, *args)

    def warn(self, source: str, code: str, message: str) -> None:
        """A callback's training-health warning: on the progress line, and (rank 0) a
        ``warning`` record in metrics.jsonl."""
        self.reporter.warning(code, f"step {self.progress.step}: {message}")
        if self.log:
            self.log.write(
                {
                    "event": "warning",
                    "step": self.progress.step,
                    "epoch": self.progress.step // self.steps_per_epoch + 1,
                    "source": source,
                    "code": code,
                    "message": message,
                }
            )

    # ----------------------------------------------------------------- the loop
    def fit(self) -> bool:
        """Train up to ``train.epochs``; return False when interrupted (Ctrl-C, SIGTERM) after a checkpoint."""
        self.log = log = MetricsLog(self.run.metrics, self._on_log) if self.ranks.is_main else None
        outputs = (
            EpochOutputs(
                self.recipe, self.run, log, self.registry, self.device, self.reporter.message, self.parts.dataset
            )
            if log
            else None
        )
        self.reporter.start(total=self.total_steps, done=self.progress.step, steps_per_epoch=self.steps_per_epoch)
        previous = {sig: signal.signal(sig, self._request_interrupt) for sig in _STOP_SIGNALS}
        try:
            self._callbacks("on_run_start")
            announce(self.reporter, log, self.precision_choice, self.device, self.progress.step)
            self._complete_epoch_outputs(outputs)
            while self.progress.step < self.total_steps and not self.stop_reason:
                if not self._train_epoch(outputs) or self._interrupt:
                    return self._interrupted()
            self._stopped()
            return True
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            with contextlib.suppress(TrainingStopped):
                self._callbacks("on_run_end")
            if log:
                log.close()
            self.log = None
            self.reporter.close()

    def _train_epoch(self, outputs: EpochOutputs | None) -> bool:
        """Train the rest of the current epoch, checkpoint it, then write its outputs; False when
        Ctrl-C stopped it mid-epoch."""
        bs, spe = self.recipe.train.batch_size, self.steps_per_epoch
        epoch, epoch_start, step0 = self.progress.step // spe, time.perf_counter(), self.progress.step
        order, window = (
            epoch_order(self.recipe.train.seed, epoch, len(self.parts.data), self.ranks, self.device),
            Window(),
        )
        start, t0 = self.progress.step % spe, time.perf_counter()
        for batch, real in enumerate(self.parts.data.batches(order, bs, start, spe), start):
            with self._stop_on_component_error():
                report = self._train_step(real)
            window.add(report, images=len(real.images) * self.ranks.world, seconds=time.perf_counter() - t0)
            t0 = time.perf_counter()
            if self.progress.step % self.recipe.output.log_every == 0 or batch == spe - 1:
                self._log_window(window, epoch)
                window = Window()
            if (self._interrupt or self.stop_reason) and batch < spe - 1:
                return not self._interrupt
            every = self.recipe.output.checkpoint_every
            if every and self.progress.step % every == 0:
                self.state.save(self.progress)
        seconds = time.perf_counter() - epoch_start
        self.progress.elapsed += seconds
        self.state.save(self.progress)  # first: nothing that follows (outputs, evaluation) can lose the epoch
        record = {
            "event": "epoch",
            "epoch": epoch + 1,
            "step": self.progress.step,
            "seconds": round(seconds, 3),
            "elapsed_s": round(self.progress.elapsed, 3),
            "images_per_s": round((self.progress.step - step0) * bs * self.ranks.world / seconds, 1),
        }
        self._epoch_end(epoch + 1, outputs, record)
        return True

    def _train_step(self, batch: Batch) -> StepReport:
        self._step_done, step = False, self.progress.step
        with blame(self.recipe.schedule, "decide"):
            decision = self.parts.schedule.decide(step)
        with blame(self.recipe.lr_schedule, "factor"):
            self.update.set_learning_rates(self.parts.lr_schedule.factor(step, self.total_steps))
        with blame(self.recipe.generator, "sample_latent"):
            z = self.parts.G.sample_latent(len(batch.images), device=self.device, generator=self.streams.noise)
            fake_labels = self.parts.fake_labels(len(z), self.device, self.streams.noise)
        out = self.update(batch, z, fake_labels, decision)
        report = StepReport(step=step, trained_d=decision.train_d, trained_g=decision.train_g, **self._reduce(out))
        check_finite(report, self.run.checkpoints)
        if self.parts.augment is not None:
            with blame(self.recipe.augment, "observe"):
                self.parts.augment.observe(report)
        with blame(self.recipe.schedule, "observe"):
            self.parts.schedule.observe(report)
        self.progress.step += 1
        self.update.mid_step, self._step_done = False, True
        self._callbacks("on_step_end", report)
        return report

    def _reduce(self, out: StepOutputs) -> dict[str, Any]:
        """Step statistics averaged over ranks; a Ctrl-C or a stop request on any rank stops all."""
        with blame(self.recipe.loss, "statistics"):
            stats = self.parts.loss.statistics(out.real_logits.float(), out.fake_logits.float())
        values, interrupt, stop = reduce_step(out, stats, self.ranks, self._interrupt, self.stop_reason is not None)
        self._interrupt = interrupt
        if stop and self.stop_reason is None:
            self.stop_reason = "another rank's callback asked to stop"
        return values

    def _on_log(self, record: dict[str, Any]) -> None:
        """Every record written to metrics.jsonl goes on to the callbacks' ``on_log``."""
        self._callbacks("on_log", record)

    def _log_window(self, window: Window, epoch: int) -> None:
        record = step_record(window, self.progress.step, epoch, self.update.opt)
        for choice, component, prefix in self.parts.logged(self.recipe):
            with self._stop_on_component_error(), blame(choice, "log"):
                record.update({prefix + k: v for k, v in component.log().items()})
        if self.log:
            self.log.write(record)
        self.reporter.update(self.progress.step, record)

    # ----------------------------------------------------------------- epoch ends
    def _epoch_end(self, epoch: int, outputs: EpochOutputs | None, record: dict[str, Any]) -> None:
        """The epoch's outputs (rank 0), then the callbacks; a callback's state changed by an
        evaluation (or an observer's by its epoch-end checks) is saved by rewriting the epoch's
        checkpoint."""
        start, observed = time.perf_counter(), self._observer_state()
        if outputs is not None:
            drawn = self._grid_inputs()
            scores = outputs.write(
                epoch, self.progress.step, record, drawn, drawn[0] if self.recipe.eval.due(epoch) else None
            )
            self.latest_samples = outputs.latest_grid
            if scores is not None:
                self.scores = scores
                self._callbacks("on_evaluation", scores)
        self._callbacks("on_epoch_end")
        self.progress.elapsed += time.perf_counter() - start  # counted in the next checkpoint
        changed = self.parts.callbacks or observed != self._observer_state()
        if changed and self.progress.step % self.steps_per_epoch == 0:
            self.state.save(self.progress, force=True)
        self.reporter.epoch_end(epoch, self.recipe.train.epochs)

    def _observer_state(self) -> str:
        """The observers' state as JSON text (a snapshot: state dicts may share live objects)."""
        return json.dumps([o.state_dict() for o in self.parts.observers])

    def _complete_epoch_outputs(self, outputs: EpochOutputs | None) -> None:
        """Resumed at the end of an epoch: write whatever of its outputs is missing (a run
        killed between that epoch's checkpoint and the end of its outputs)."""
        step = self.progress.step
        if outputs is not None and step and step % self.steps_per_epoch == 0:
            epoch = step // self.steps_per_epoch
            outputs.complete(epoch, step, self.progress.elapsed, self.recipe.eval.due(epoch), self._grid_inputs())

    def _grid_inputs(self) -> tuple[Generator, Tensor, Tensor | None]:
        """What the epoch grid is drawn from: the sampling generator, fixed noise and labels."""
        return self.parts.sampler(), self.streams.fixed_z, self.streams.fixed_labels

    # ----------------------------------------------------------------- run control
    def _stopped(self) -> None:
        """A callback ended the run early: checkpoint, say why, log it."""
        if not self.stop_reason:
            return
        path = self.state.save(self.progress)
        self.reporter.message(f"stopped at step {self.progress.step}: {self.stop_reason}; checkpoint {path}")
        if self.log:
            self.log.write({"event": "stop", "step": self.progress.step, "reason": self.stop_reason})

    def _interrupted(self) -> bool:
        path = self.state.save(self.progress)
        self.reporter.message(f"interrupted at step {self.progress.step}; checkpoint {path}")
        return False

    def _request_interrupt(self, signum: int, frame: Any) -> None:
        """Ctrl-C, or SIGTERM (a scheduler's or torchrun's stop): checkpoint after this step; a
        second one stops at once."""
        if self._interrupt:
            raise KeyboardInterrupt
        self._interrupt = True
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        self.reporter.message(f"stopping after this step ({again} again to abort without a checkpoint)")

    @contextlib.contextmanager
    def _stop_on_component_error(self) -> Iterator[None]:
        """A component that raised in the loop stops the run with one line naming it. The last
        good step is checkpointed first, unless an optimiser had already stepped in the failed
        step (its state is then half-updated and the newest checkpoint is named)."""
        try:
            yield
        except ComponentError as e:
            failed = self.progress.step if self._step_done else self.progress.step + 1
            raise TrainingStopped(f"step {failed}: {e}; training stopped, {self._keep_last_good()}") from e

    def _keep_last_good(self) -> str:
        """Checkpoint the last good step when the state is at a step boundary; say what is kept."""
        mid_step = self.update.mid_step
        if not mid_step and self.progress.step > 0:
            return f"the last good step's checkpoint is {self.state.save(self.progress)}"
        last = latest_checkpoint(self.run.checkpoints)
        why = "the failed step had already updated the networks" if mid_step else "no step completed"
        return f"{why}, the last good checkpoint is {last}" if last else f"{why}, no checkpoint was written"

    def resume(self) -> Any:
        """Continue from the newest intact checkpoint (see :meth:`RunState.resume`)."""
        path = self.state.resume(self.progress, self.reporter.message)
        if self.ranks.is_main and self.run.metrics.exists():
            truncate_metrics(self.run.metrics, self.progress.step, read_metrics(self.run.metrics))
        return path
