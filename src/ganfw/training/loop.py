"""The training loop, readable top to bottom:

    for each epoch:                      (the data source's batches of that epoch)
        for each batch:
            ask the Schedule what to update; set the learning rates
            the update (training/update.py): D's turn, G's turn, or both from one pass
            tell the Augmentation, the Schedule and each Callback what happened
            log every `output.log_every` steps; checkpoint every `output.checkpoint_every`
        checkpoint; the epoch's grid, evaluation and curves; callbacks' on_epoch_end

Everything it loops over is built beforehand (training/assembly.py). Shapes: real images
(B, C, H, W) in [-1, 1], labels (B,); z (B, Z); logits (B,).
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from ganfw.checkpoint import latest_checkpoint
from ganfw.contracts import Batch, Generator, StepReport
from ganfw.distributed import Ranks
from ganfw.precision import PrecisionChoice
from ganfw.progress import Reporter
from ganfw.recipe import ComponentError
from ganfw.rundir import MetricsLog, RunDir, read_metrics, truncate_metrics
from ganfw.training.outputs import EpochOutputs, Evaluator, announce
from ganfw.training.parts import Parts
from ganfw.training.phase import StepPhase
from ganfw.training.records import Window, reduce_step, step_record
from ganfw.training.state import RunState
from ganfw.training.stops import TrainingStopped, check_finite
from ganfw.training.streams import Streams
from ganfw.training.update import GANUpdate, StepOutputs
from ganfw.training.view import Clock, LiveView, Requests, RunFacts

#: Signals that end training after the current step, with a checkpoint: Ctrl-C, a scheduler's or
#: torchrun's stop, and SLURM's warning before a time limit (``--signal=USR1@90``).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1)


@dataclass(frozen=True)
class LoopSettings:
    """What the loop needs of the recipe: how often it logs and checkpoints, and when it
    evaluates (``eval_every`` epochs, 0: never; ``eval_metrics``: any to compute)."""

    log_every: int
    checkpoint_every: int
    eval_every: int
    eval_metrics: bool
    epochs: int
    budget: float | None = None  # seconds of training (``train.budget``), or None
    budget_text: str = ""

    def eval_due(self, epoch: int) -> bool:
        """Whether training evaluates after ``epoch`` (1-based)."""
        return bool(self.eval_every and self.eval_metrics and epoch % self.eval_every == 0)


class Trainer:
    """Trains the parts it is given, writing into a run directory (see
    :func:`ganfw.training.assembly.assemble`)."""

    def __init__(self, *, parts: Parts, update: GANUpdate, streams: Streams, state: RunState, clock: Clock,
                 phase: StepPhase, requests: Requests, facts: RunFacts, settings: LoopSettings, reporter: Reporter,
                 ranks: Ranks, run: RunDir, precision: PrecisionChoice,
                 outputs: Callable[[Callable[[dict[str, Any]], None]], EpochOutputs],
                 evaluator: Evaluator | None):  # fmt: skip
        self.parts, self.update, self.streams, self.state, self.clock = parts, update, streams, state, clock
        self.phase, self.requests, self.facts, self.settings = phase, requests, facts, settings
        self.reporter, self.ranks, self.run, self.precision = reporter, ranks, run, precision
        self.device = facts.device
        self._make_outputs, self.evaluator = outputs, evaluator
        self.views = [LiveView(part.name, clock, requests, facts) for part in parts.hooked]
        self.window = Window()  # the steps since the last log line (kept by checkpoints)
        self.log: MetricsLog | None = None  # metrics.jsonl (rank 0), open while fitting
        self._interrupt = False  # Ctrl-C or SIGTERM
        self._stop_asked = False  # a callback on some rank asked to stop
        self._epoch_start = time.perf_counter()  # when the current epoch's training began
        self._delivering = False
        self._dispatch("setup")

    @property
    def step(self) -> int:
        """Steps completed so far (over resumes)."""
        return self.clock.step

    # ----------------------------------------------------------------- the loop
    def fit(self) -> bool:
        """Train up to ``train.epochs``; return False when interrupted (Ctrl-C, SIGTERM) after a checkpoint."""
        self.log = MetricsLog(self.run.metrics) if self.ranks.is_main else None
        outputs = self._make_outputs(self._record) if self.log else None
        self.reporter.start(
            total=self.clock.total_steps, done=self.clock.step, steps_per_epoch=self.clock.steps_per_epoch
        )
        previous = {sig: signal.signal(sig, self._request_interrupt) for sig in _STOP_SIGNALS}
        try:
            self.parts.schedule.call("begin", self.clock.total_steps)
            self._dispatch("on_run_start")
            announce(self.reporter, self._record, self.precision, self.device, self.clock.step)
            self._complete_epoch_outputs(outputs)
            while self.clock.step < self.clock.total_steps and not self.requests.stop_reason:
                if not self._train_epoch(outputs) or self._interrupt:
                    return self._interrupted()
            self._stopped()
            return True
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            with contextlib.suppress(TrainingStopped):
                self._dispatch("on_run_end")
            if self.log:
                self.log.close()
            self.log = None
            self.reporter.close()

    def _train_epoch(self, outputs: EpochOutputs | None) -> bool:
        """Train the rest of the current epoch (or up to the training budget's end), checkpoint it,
        then write its outputs; False when Ctrl-C stopped it mid-epoch."""
        clock, spe = self.clock, self.clock.steps_per_epoch
        epoch, images = clock.epoch, 0
        self._epoch_start = epoch_start = t0 = time.perf_counter()
        start = clock.step % spe
        for batch, real in enumerate(self.parts.data.batches(epoch, start, spe), start):
            with self._stop_on_component_error():
                report = self._train_step(real)
            images += len(real.images) * self.ranks.world
            self.window.add(report, images=len(real.images) * self.ranks.world, seconds=time.perf_counter() - t0)
            t0 = time.perf_counter()
            if clock.step % self.settings.log_every == 0 or batch == spe - 1:
                self._log_window(epoch)
            if self._interrupt and batch < spe - 1:
                return False
            self._check_budget()
            if self._stopping() and batch < spe - 1:
                self._share_stop()
                if self.requests.stop_reason != self._budget_reason:
                    return True
                if clock.step % self.settings.log_every:
                    self._log_window(epoch)
                break  # the deadline: this partial epoch ends like a whole one (checkpoint, grid, evaluation)
            every = self.settings.checkpoint_every
            if every and clock.step % every == 0:
                self.state.save(clock, self.window)
        seconds = time.perf_counter() - epoch_start
        clock.elapsed += seconds
        self.state.save(clock, self.window)  # first: nothing that follows (outputs, evaluation) can lose the epoch
        record = {
            "event": "epoch",
            "epoch": epoch + 1,
            "step": clock.step,
            "seconds": round(seconds, 3),
            "elapsed_s": round(clock.elapsed, 3),
            "images_per_s": round(images / seconds, 1),
            **({"partial": True} if clock.step % spe else {}),
        }
        self._epoch_end(epoch + 1, outputs, record, final=self.requests.stop_reason == self._budget_reason)
        self._share_stop()
        return True

    def _train_step(self, batch: Batch) -> StepReport:
        self.phase.begin()
        parts, step = self.parts, self.clock.step
        decision = parts.schedule.call("decide", step)
        self.update.set_learning_rates(parts.lr_schedule.call("factor", step, self._horizon()))
        with parts.generator.blame("sample_latent"):
            z = parts.G.sample_latent(len(batch.images), device=self.device, generator=self.streams.noise)
        fake_labels = parts.fake_labels(len(z), self.device, self.streams.noise)
        out = self.update(batch, z, fake_labels, decision)
        images = len(batch.images) * self.ranks.world
        report = StepReport(step=step, trained_d=decision.train_d, trained_g=decision.train_g, images=images,
                            **self._reduce(out))  # fmt: skip
        check_finite(report, self.run.checkpoints)
        if parts.augment is not None:
            parts.augment.call("observe", report)
        parts.schedule.call("observe", report)
        self.clock.step += 1
        self.phase.done()
        self._dispatch("on_step_end", report)
        return report

    def _reduce(self, out: StepOutputs) -> dict[str, Any]:
        """Step statistics averaged over ranks; a Ctrl-C or a stop request on any rank stops all."""
        stats = self.parts.loss.call("statistics", out.real_logits.float(), out.fake_logits.float())
        asked = self.requests.stop_reason is not None
        values, interrupt, stop = reduce_step(out, stats, self.ranks, self._interrupt, asked)
        self._interrupt, self._stop_asked = interrupt, stop
        return values

    def _log_window(self, epoch: int) -> None:
        record = step_record(self.window, self.clock.step, epoch, self.update.opt)
        for part, prefix in self.parts.logged():
            with self._stop_on_component_error():
                record.update({prefix + k: v for k, v in part.call("log").items()})
        self.window = Window()
        self._record(record)
        self.reporter.update(self.clock.step, record)

    # ----------------------------------------------------------------- callbacks and records
    def _dispatch(self, hook: str, *args: Any) -> None:
        """Call ``hook`` of every callback, in order, with its view; then deliver the warnings
        they raised."""
        for part, view in zip(self.parts.hooked, self.views):
            with self._stop_on_component_error():
                part.call(hook, view, *args)
        self._deliver_warnings()

    def _deliver_warnings(self) -> None:
        """Each queued warning, oldest first: on the progress line, and (rank 0) a ``warning``
        record, itself dispatched to ``on_log`` (whose warnings join the queue)."""
        if self._delivering:
            return
        self._delivering = True
        try:
            while self.requests.warnings:
                warning = self.requests.warnings.popleft()
                self.reporter.warning(warning.code, f"step {self.clock.step}: {warning.message}")
                self._record({"event": "warning", "step": self.clock.step, "epoch": self.clock.epoch + 1,
                              "source": warning.source, "code": warning.code, "message": warning.message})  # fmt: skip
        finally:
            self._delivering = False

    def _record(self, record: dict[str, Any]) -> None:
        """Write a ``metrics.jsonl`` record (rank 0), then tell the callbacks (``on_log``)."""
        if self.log:
            self.log.write(record)
            self._dispatch("on_log", record)

    # ----------------------------------------------------------------- epoch ends
    def _epoch_end(self, epoch: int, outputs: EpochOutputs | None, record: dict[str, Any], final: bool = False) -> None:
        """The epoch's outputs (rank 0), then the callbacks; a callback's state changed by an
        evaluation (or an observer's by its epoch-end checks) is saved by rewriting the epoch's
        checkpoint. ``final``: the training budget's last (partial) epoch, always evaluated."""
        start, observed, step = time.perf_counter(), self._observer_state(), self.clock.step
        drawn = self._grid_inputs()
        if outputs is not None:
            outputs.write(epoch, step, record, drawn)
            self.facts.latest_samples = outputs.latest_grid
        evaluator = self.evaluator if final or self.settings.eval_due(epoch) else None
        evaluation = None if evaluator is None else evaluator.evaluate(epoch, step, drawn[0])  # every rank its share
        scores = None if outputs is None else outputs.finish(epoch, step, evaluation)
        if scores is not None:
            self.facts.scores = scores
            self._dispatch("on_evaluation", scores)
        self._dispatch("on_epoch_end")
        self.clock.elapsed += time.perf_counter() - start  # counted in the next checkpoint
        best = self._best(scores)
        changed = self.parts.callbacks or best or observed != self._observer_state()
        if changed:
            path = self.state.save(self.clock, self.window, force=True)
            if best and (keeper := self.state.best) is not None:
                self.reporter.message(f"best {keeper.score} so far: {keeper.keep(path)}")
        self.reporter.epoch_end(epoch, self.settings.epochs)

    def _best(self, scores: dict[str, float] | None) -> bool:
        """Whether this epoch's evaluation is the best so far by ``[output] keep_best`` (rank 0)."""
        keeper = self.state.best
        if keeper is None or scores is None:
            return False
        return keeper.consider(scores, self.clock.step)

    def _observer_state(self) -> str:
        """The observers' state as JSON text (a snapshot: state dicts may share live objects)."""
        return json.dumps([part.obj.state_dict() for part in self.parts.observers])

    def _complete_epoch_outputs(self, outputs: EpochOutputs | None) -> None:
        """Resumed at the end of an epoch: write whatever of its outputs is missing (a run
        killed between that epoch's checkpoint and the end of its outputs)."""
        step, spe = self.clock.step, self.clock.steps_per_epoch
        if outputs is not None and step and step % spe == 0:
            epoch = step // spe
            evaluator = self.evaluator if self.settings.eval_due(epoch) else None
            outputs.complete(epoch, step, self.clock.elapsed, evaluator, self._grid_inputs())

    def _grid_inputs(self) -> tuple[Generator, Tensor, Tensor | None]:
        """What the epoch grid is drawn from: the sampling generator, fixed noise and labels."""
        return self.parts.sampler(), self.streams.fixed_z, self.streams.fixed_labels

    # ----------------------------------------------------------------- the training budget
    @property
    def _budget_reason(self) -> str | None:
        return None if self.settings.budget is None else f"the training budget of {self.settings.budget_text} is spent"

    def _spent(self) -> float:
        """Seconds of training so far (over resumes), the current epoch's included."""
        return self.clock.elapsed + time.perf_counter() - self._epoch_start

    def _check_budget(self) -> None:
        """Ask to stop once the training budget is spent (under torchrun, any rank's clock stops all)."""
        if self.settings.budget is not None and self._spent() >= self.settings.budget:
            self.requests.request_stop(self._budget_reason or "")

    def _horizon(self) -> int:
        """The step the learning-rate schedule anneals to: ``train.epochs``' last, or with a budget
        the step the run reaches at its deadline at the pace so far (never beyond the last epoch)."""
        clock, budget = self.clock, self.settings.budget
        spent = self._spent() if clock.step else 0.0
        if budget is None or spent <= 0:
            return clock.total_steps
        return min(clock.total_steps, max(clock.step + 1, round(clock.step * budget / spent)))

    # ----------------------------------------------------------------- run control
    def _stopping(self) -> bool:
        """Whether a callback asked to stop: one process stops after the step it asked in; under
        torchrun every rank learns of it in the next step's reduction, and all stop after that one."""
        return self._stop_asked or (not self.ranks.distributed and self.requests.stop_reason is not None)

    def _share_stop(self) -> bool:
        """Every rank learns the stop a callback asked for on any rank (with the first rank's
        reason), before another step or epoch begins (a collective: all ranks call it together).
        True when training stops."""
        reason = self.ranks.first(self.requests.stop_reason)
        if reason is None and self._stop_asked:
            reason = "another rank's callback asked to stop"
        self.requests.stop_reason = reason
        return reason is not None

    def _stopped(self) -> None:
        """A callback ended the run early: log the steps since the last log line, checkpoint,
        say why, log it."""
        reason = self.requests.stop_reason
        if not reason:
            return
        if self.window:
            self._log_window(self.clock.epoch)
        path = self.state.save(self.clock, self.window)
        self.reporter.message(f"stopped at step {self.clock.step}: {reason}; checkpoint {path}")
        self._record({"event": "stop", "step": self.clock.step, "reason": reason})

    def _interrupted(self) -> bool:
        path = self.state.save(self.clock, self.window)
        self.reporter.message(f"interrupted at step {self.clock.step}; checkpoint {path}")
        return False

    def _request_interrupt(self, signum: int, frame: Any) -> None:
        """Ctrl-C, SIGTERM (a scheduler's or torchrun's stop) or SIGUSR1 (a scheduler's warning):
        checkpoint after this step; a second one stops at once."""
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
            failed = self.phase.failed_step(self.clock.step)
            raise TrainingStopped(f"step {failed}: {e}; training stopped, {self._keep_last_good()}") from e

    def _keep_last_good(self) -> str:
        """Checkpoint the last good step when the state is at a step boundary; say what is kept."""
        safe = self.phase.checkpoint_safe
        if safe and self.clock.step > 0:
            return f"the last good step's checkpoint is {self.state.save(self.clock, self.window, together=False)}"
        last = latest_checkpoint(self.run.checkpoints)
        why = "no step completed" if safe else "the failed step had already updated the networks"
        return f"{why}, the last good checkpoint is {last}" if last else f"{why}, no checkpoint was written"

    def resume(self) -> Any:
        """Continue from the newest intact checkpoint (see :meth:`RunState.resume`)."""
        path = self.state.resume(self.clock, self.window, self.reporter.message)
        if self.ranks.is_main and self.run.metrics.exists():
            truncate_metrics(self.run.metrics, self.clock.step, read_metrics(self.run.metrics))
        return path
