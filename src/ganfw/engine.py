"""Where a training step happens: the one training loop, readable top to bottom.

    for each epoch:                      (a fresh shuffle of the in-memory dataset)
        for each batch:
            ask the Schedule what to update
            D step and/or G step         (jointly from one forward pass, or D then G)
            tell the Schedule what happened
            log every `output.log_every` steps; checkpoint every `output.checkpoint_every`
        sample the 4x4 grid, redraw the GIF and curves, checkpoint

Shapes: ``real`` (B, C, H, W) in [-1, 1]; ``z`` (B, Z); logits (B,).
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from dataclasses import asdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganfw import artifacts
from ganfw.checkpoint import (
    Checkpoint,
    CorruptCheckpoint,
    check_optimizer,
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
    load_module,
    load_training_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from ganfw.config import OptimizerConfig
from ganfw.contracts import Decision, StepReport
from ganfw.device import resolve_device
from ganfw.distributed import Ranks, join, leave, rank_device, ranks_from_env
from ganfw.errors import UserError
from ganfw.fast_dropout import use_uniform_dropout
from ganfw.plugins import Registry, load_registry
from ganfw.precision import Precision, resolve_precision
from ganfw.preflight import check_last_batch
from ganfw.progress import Reporter
from ganfw.recipe import ComponentChoice, ComponentError, Recipe
from ganfw.rundir import MetricsLog, RunDir, discard_if_unused, read_metrics, truncate_metrics

#: Recipe entries a resumed run must share with its checkpoint (everything that shapes the
#: weights, the optimiser state or the order of the data).
_RESUME_FIXED = [
    ("generator",), ("discriminator",), ("loss",), ("schedule",), ("data",), ("optim",),
    ("train", "batch_size"), ("train", "drop_last"), ("train", "seed"), ("output", "samples"),
]


#: What an update returns: real logits (B,), fake logits (B,), D loss, G loss (scalars).
Outputs = tuple[Tensor, Tensor, Tensor, Tensor]


class TrainingStopped(UserError):
    """Training cannot go on (a NaN/Inf loss, a component that raised); the last good checkpoint
    is kept."""


def adam(module: nn.Module, cfg: OptimizerConfig) -> torch.optim.Adam:
    return torch.optim.Adam(
        module.parameters(), lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps, weight_decay=cfg.weight_decay
    )


class Trainer:
    """Builds the components of a recipe and trains them, writing into a run directory."""

    def __init__(self, recipe: Recipe, run: RunDir, reporter: Reporter, ranks: Ranks | None = None,
                 registry: Registry | None = None):
        self.recipe, self.run, self.reporter = recipe, run, reporter
        self.registry = registry or load_registry()  # metric components for [eval]
        self.ranks = ranks = ranks or ranks_from_env()
        train = recipe.train
        self.device = rank_device(resolve_device(train.device), ranks)
        join(ranks, self.device, train.dist_timeout)
        self.precision_choice = resolve_precision(train.precision, self.device)
        self.precision = Precision(self.precision_choice.name, self.device)
        torch.manual_seed(train.seed)  # the same initial weights on every rank

        dataset = recipe.data.build(root=recipe.data_root, limit=recipe.data_limit)
        memory_format = torch.channels_last if train.channels_last else torch.contiguous_format
        images = dataset.load().to(self.device)  # (N, C, H, W) in [-1, 1]
        self.images = images.contiguous(memory_format=memory_format)
        self.G = recipe.generator.build(image_shape=dataset.image_shape).to(self.device, memory_format=memory_format)
        self.D = recipe.discriminator.build(image_shape=dataset.image_shape).to(self.device, memory_format=memory_format)
        self._check_networks(dataset.image_shape)
        self._wrap_networks()
        self.loss = recipe.loss.build()
        self.schedule = recipe.schedule.build()
        self.opt_g = adam(self.G, recipe.optim["generator"])
        self.opt_d = adam(self.D, recipe.optim["discriminator"])
        self.scaler_g, self.scaler_d = self.precision.scaler(), self.precision.scaler()

        if ranks.distributed:  # different dropout masks and noise on each rank
            torch.manual_seed(train.seed + ranks.rank)
        self.noise = torch.Generator(self.device).manual_seed(train.seed + 1 + 1000 * ranks.rank)
        fixed = torch.Generator(self.device).manual_seed(train.seed + 2)
        self.fixed_z = self.G.sample_latent(recipe.output.samples, device=self.device, generator=fixed)

        n, bs = len(self.images) // ranks.world, train.batch_size  # images each rank sees an epoch
        self.steps_per_epoch = n // bs if train.drop_last else math.ceil(n / bs)
        if self.steps_per_epoch == 0:
            raise UserError(f"train.batch_size = {bs} exceeds the {n} images with train.drop_last = true")
        check_last_batch(recipe, len(self.images), ranks.world, (self.G, self.D))
        self.step = 0
        self.elapsed = 0.0  # seconds of training (steps and epoch-end outputs), over resumes too
        self._stop_requested = False
        self._saved_step: int | None = None  # the step of the last checkpoint written or loaded
        self._mid_step = False  # an optimiser has stepped in a step that has not completed
        self._step_done = True  # no step is under way (the last one completed)

    @torch.no_grad()
    def _check_networks(self, image_shape: tuple[int, int, int]) -> None:
        """Hold G and D to their contracts on two samples before training (eval mode, no RNG
        drawn from the training streams): a broken component stops here with one line naming
        it, instead of failing somewhere inside the step."""
        z = torch.randn(2, self.G.latent_dim, generator=torch.Generator().manual_seed(0)).to(self.device)
        expected = (2, *image_shape)
        modes = self.G.training, self.D.training
        self.G.eval(), self.D.eval()
        try:
            fake = _call(self.recipe.generator, self.G, z)
            if tuple(fake.shape) != expected or not fake.is_floating_point():
                raise ComponentError(f"{self.recipe.generator.who} broke the generator contract: forward(z) returned "
                                     f"{fake.dtype} {tuple(fake.shape)}, expected floats of shape {expected}")
            if fake.abs().max() > 1 + 1e-3:
                raise ComponentError(f"{self.recipe.generator.who} broke the generator contract: images must lie in "
                                     f"[-1, 1], got values up to {fake.abs().max().item():.3g}")
            logits = _call(self.recipe.discriminator, self.D, fake)
            if tuple(logits.shape) != (2,):
                raise ComponentError(f"{self.recipe.discriminator.who} broke the discriminator contract: "
                                     f"forward(images) returned shape {tuple(logits.shape)}, expected (2,)")
        finally:
            self.G.train(modes[0])
            self.D.train(modes[1])

    def _wrap_networks(self) -> None:
        """The modules the step calls: DDP-wrapped across ranks, optionally compiled (and, with
        ``train.fast_dropout`` on the CPU, their ``nn.Dropout`` layers drawing uniform masks).

        ``g_train``/``d_train`` compute the gradients of their own network (DDP all-reduces
        them); ``d_frozen`` is D as seen by G's loss in sequential updates, without DDP, as no
        D gradient is wanted there. Checkpoints save the plain ``G`` and ``D``.
        """
        train = self.recipe.train
        if train.fast_dropout and self.device.type == "cpu":
            use_uniform_dropout(self.G), use_uniform_dropout(self.D)
        g, d = self.G, self.D
        if self.ranks.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            if train.sync_batchnorm:
                g, d = nn.SyncBatchNorm.convert_sync_batchnorm(g), nn.SyncBatchNorm.convert_sync_batchnorm(d)
            ids = [self.device.index] if self.device.type == "cuda" else None
            g, d = DDP(g, device_ids=ids), DDP(d, device_ids=ids)
        compile_ = torch.compile if train.compile else (lambda m: m)
        self.g_train, self.d_train = compile_(g), compile_(d)
        self.d_frozen = compile_(self.D) if self.ranks.distributed else self.d_train

    # ----------------------------------------------------------------- the loop
    def fit(self) -> bool:
        """Train up to ``train.epochs``; return False when interrupted (Ctrl-C) after a checkpoint."""
        log = MetricsLog(self.run.metrics) if self.ranks.is_main else None
        self._announce(log)
        total = self.recipe.train.epochs * self.steps_per_epoch
        self.reporter.start(total=total, done=self.step, steps_per_epoch=self.steps_per_epoch)
        previous_handler = signal.signal(signal.SIGINT, self._request_stop)
        try:
            self._complete_epoch_outputs(log)
            while self.step < total:
                if not self._train_epoch(log) or self._stop_requested:
                    return self._interrupted()
        finally:
            signal.signal(signal.SIGINT, previous_handler)
            if log:
                log.close()
            self.reporter.close()
        return True

    def _train_epoch(self, log: MetricsLog | None) -> bool:
        """Train the rest of the current epoch, checkpoint it, then write its outputs (grid,
        records, evaluation); False when Ctrl-C stopped it mid-epoch."""
        bs, every, spe = self.recipe.train.batch_size, self.recipe.output.checkpoint_every, self.steps_per_epoch
        epoch = self.step // spe
        order = self._epoch_order(epoch)
        epoch_start, epoch_step0 = time.perf_counter(), self.step
        window = _Window()
        for batch in range(self.step % spe, spe):
            t0 = time.perf_counter()
            with self._stop_on_component_error():
                report = self._train_step(self.images[order[batch * bs : (batch + 1) * bs]])
            window.add(report, images=min(bs, len(order) - batch * bs) * self.ranks.world,
                       seconds=time.perf_counter() - t0)
            if self.step % self.recipe.output.log_every == 0 or batch == spe - 1:
                with self._stop_on_component_error():
                    record = self._record(window.mean(), epoch)
                if log:
                    log.write(record)
                self.reporter.update(self.step, record)
                window = _Window()
            if self._stop_requested and batch < spe - 1:
                return False
            if every and self.step % every == 0:
                self.save()
        seconds = time.perf_counter() - epoch_start
        self.elapsed += seconds
        self.save()  # first: nothing that follows (outputs, evaluation) can lose the epoch
        record = {"event": "epoch", "epoch": epoch + 1, "step": self.step, "seconds": round(seconds, 3),
                  "elapsed_s": round(self.elapsed, 3),
                  "images_per_s": round((self.step - epoch_step0) * bs * self.ranks.world / seconds, 1)}
        outputs_start = time.perf_counter()
        self._epoch_outputs(epoch + 1, log, record, grid=True, evaluate=self._eval_due(epoch + 1))
        self.elapsed += time.perf_counter() - outputs_start  # counted in the next checkpoint
        self.reporter.epoch_end(epoch + 1, self.recipe.train.epochs)
        return True

    def _announce(self, log: MetricsLog | None) -> None:
        """Say where and in which precision this run trains: one line, and a ``start`` record."""
        choice = self.precision_choice
        threads = torch.get_num_threads()
        self.reporter.message(choice.where(self.device, threads))
        if choice.warning:
            self.reporter.message(f"warning: {choice.warning}")
        if log:
            log.write({"event": "start", "step": self.step, "device": str(self.device), "threads": threads,
                       "precision": choice.name, "precision_requested": choice.requested,
                       "precision_reason": choice.reason})

    def _interrupted(self) -> bool:
        path = self.save()
        self.reporter.message(f"interrupted at step {self.step}; checkpoint {path}")
        return False

    def _request_stop(self, signum: int, frame: Any) -> None:
        if self._stop_requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self._stop_requested = True
        self.reporter.message("stopping after this step (Ctrl-C again to abort without a checkpoint)")

    def _epoch_order(self, epoch: int) -> Tensor:
        """This rank's share of a permutation of the dataset, (N / world,), the same for a given
        (seed, epoch) - so a run resumed mid-epoch sees the same batches."""
        rng = torch.Generator().manual_seed((self.recipe.train.seed * 1_000_003 + epoch) % 2**63)
        order = torch.randperm(len(self.images), generator=rng)
        share = len(self.images) // self.ranks.world
        return order[self.ranks.rank :: self.ranks.world][:share].to(self.device)

    @contextlib.contextmanager
    def _stop_on_component_error(self) -> Iterator[None]:
        """A component that raised in the loop (:func:`_blame`) stops the run with one line naming
        it. The last good step is checkpointed first, unless an optimiser had already stepped in
        the failed step (its state is then half-updated and the newest checkpoint is named)."""
        try:
            yield
        except ComponentError as e:
            failed = self.step if self._step_done else self.step + 1
            raise TrainingStopped(f"step {failed}: {e}; training stopped, {self._keep_last_good()}") from e

    def _keep_last_good(self) -> str:
        """Checkpoint the last good step when the state is at a step boundary; say what is kept."""
        if not self._mid_step and self.step > 0:
            return f"the last good step's checkpoint is {self.save()}"
        last = latest_checkpoint(self.run.checkpoints)
        why = "the failed step had already updated the networks" if self._mid_step else "no step completed"
        return f"{why}, the last good checkpoint is {last}" if last else f"{why}, no checkpoint was written"

    def _blame(self, section: str, call: str) -> contextlib.AbstractContextManager[None]:
        """A context in which the ``section`` component's code runs (see :func:`_blame`)."""
        return _blame(getattr(self.recipe, section), call)

    # ----------------------------------------------------------------- one step
    def _train_step(self, real: Tensor) -> StepReport:
        self._step_done = False
        with self._blame("schedule", "decide"):
            decision = self.schedule.decide(self.step)
        with self._blame("generator", "sample_latent"):
            z = self.G.sample_latent(real.shape[0], device=self.device, generator=self.noise)
        update = self._joint_update if decision.joint else self._sequential_update
        stats = self._reduce(update(real, z, decision))
        report = StepReport(step=self.step, trained_d=decision.train_d, trained_g=decision.train_g, **stats)
        for name in ("d_loss", "g_loss"):
            if not math.isfinite(getattr(report, name)):
                last = latest_checkpoint(self.run.checkpoints)
                kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
                raise TrainingStopped(f"step {self.step + 1}: {name} is {getattr(report, name)}; training stopped, {kept}")
        with self._blame("schedule", "observe"):
            self.schedule.observe(report)
        self.step += 1
        self._mid_step, self._step_done = False, True
        return report

    def _joint_update(self, real: Tensor, z: Tensor, decision: Decision) -> Outputs:
        """Both losses from one forward pass; both networks step on gradients taken at the
        same state (G's gradient flows through the not-yet-updated D)."""
        d_net = self.d_train if decision.train_d else self.d_frozen
        with self.precision.autocast():
            with torch.set_grad_enabled(decision.train_g), self._blame("generator", "forward"):
                fake = self.g_train(z)
            real_logits, fake_logits = self._discriminate(d_net, real, fake)
            d_loss = self._d_loss(real_logits, fake_logits, real, fake, decision.train_d)
            with self._blame("loss", "g_loss"):
                g_loss = self.loss.g_loss(fake_logits.float())
        if decision.train_d:
            self._backward(d_loss, self.D, self.opt_d, self.scaler_d, retain_graph=decision.train_g)
        if decision.train_g:
            self._backward(g_loss, self.G, self.opt_g, self.scaler_g)
        if decision.train_d:
            self._optimizer_step(self.opt_d, self.scaler_d)
        if decision.train_g:
            self._optimizer_step(self.opt_g, self.scaler_g)
        return real_logits, fake_logits, d_loss, g_loss

    def _sequential_update(self, real: Tensor, z: Tensor, decision: Decision) -> Outputs:
        """D steps on a detached fake batch, then G steps against the updated D."""
        with self.precision.autocast(), torch.set_grad_enabled(decision.train_g), self._blame("generator", "forward"):
            fake = self.g_train(z)
        with self.precision.autocast(), torch.set_grad_enabled(decision.train_d):
            real_logits, fake_logits = self._discriminate(self.d_train, real, fake.detach())
            d_loss = self._d_loss(real_logits, fake_logits, real, fake.detach(), decision.train_d)
        if decision.train_d:
            self._backward(d_loss, self.D, self.opt_d, self.scaler_d)
            self._optimizer_step(self.opt_d, self.scaler_d)
        if decision.train_g:
            with self.precision.autocast():
                with self._blame("discriminator", "forward"):
                    logits = self.d_frozen(fake)
                with self._blame("loss", "g_loss"):
                    g_loss = self.loss.g_loss(logits.float())
            self._backward(g_loss, self.G, self.opt_g, self.scaler_g)
            self._optimizer_step(self.opt_g, self.scaler_g)
        else:
            with self._blame("loss", "g_loss"):
                g_loss = self.loss.g_loss(fake_logits.float())
        return real_logits, fake_logits, d_loss, g_loss

    def _discriminate(self, d_net: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """Logits on real (B,) and generated (B,) images: two D passes, or one over both."""
        with self._blame("discriminator", "forward"):
            return self._d_passes(d_net, real, fake)

    def _d_passes(self, d_net: nn.Module, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        if self.recipe.train.fused_d_pass:
            logits = d_net(torch.cat([real, fake]))
            return logits[: len(real)], logits[len(real) :]
        return d_net(real), d_net(fake)

    def _reduce(self, outputs: Outputs) -> dict[str, float]:
        """Step statistics averaged over ranks (so every rank's schedule decides alike), in one
        device->host transfer; a Ctrl-C on any rank stops all of them after this step."""
        real_logits, fake_logits, d_loss, g_loss = outputs
        r, f = real_logits.detach().float(), fake_logits.detach().float()
        values = torch.stack([
            d_loss.detach().float(), g_loss.detach().float(),
            torch.sigmoid(r).mean(), torch.sigmoid(f).mean(),
            (r > 0).float().mean(), (f < 0).float().mean(),
            torch.tensor(float(self._stop_requested), device=r.device),
        ])
        *stats, stop = self.ranks.mean(values).tolist()
        self._stop_requested = stop > 0
        return dict(zip(("d_loss", "g_loss", "d_real", "d_fake", "acc_real", "acc_fake"), stats))

    def _d_loss(self, real_logits: Tensor, fake_logits: Tensor, real: Tensor, fake: Tensor, train_d: bool) -> Tensor:
        with self._blame("loss", "d_loss"):
            loss = self.loss.d_loss(real_logits.float(), fake_logits.float())
        if train_d and self.loss.has_regularizer:
            with self._blame("loss", "regularizer"):
                loss = loss + self.loss.regularizer(self.D, real, fake.detach())
        return loss

    @staticmethod
    def _backward(loss: Tensor, net: nn.Module, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
                  retain_graph: bool = False) -> None:
        """Gradients of ``loss`` for ``net``'s parameters only (the other network's are untouched)."""
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward(inputs=list(net.parameters()), retain_graph=retain_graph)

    def _optimizer_step(self, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler) -> None:
        self._mid_step = True  # until the step completes, the state is no step's
        scaler.step(opt)
        scaler.update()

    # ----------------------------------------------------------------- outputs
    def _record(self, means: dict[str, float], epoch: int) -> dict[str, Any]:
        record: dict[str, Any] = {"step": self.step, "epoch": epoch + 1}
        record.update({k: round(v, 6) for k, v in means.items()})
        record["d_acc"] = round((means["acc_real"] + means["acc_fake"]) / 2, 6)
        record["lr_g"] = self.opt_g.param_groups[0]["lr"]
        record["lr_d"] = self.opt_d.param_groups[0]["lr"]
        with self._blame("schedule", "log"):
            record.update(self.schedule.log())
        return record

    def _eval_due(self, epoch: int) -> bool:
        cfg = self.recipe.eval
        return bool(cfg.every and cfg.metrics and epoch % cfg.every == 0)

    def _epoch_outputs(self, epoch: int, log: MetricsLog | None, record: dict[str, Any] | None,
                       grid: bool, evaluate: bool) -> None:
        """After epoch ``epoch`` (1-based, its checkpoint written): the epoch ``record``, the grid,
        the GIF, the evaluation, the curves - rank 0 only, cheapest first, and without touching any
        random stream of training (so that a resumed run continues bit for bit)."""
        if not self.ranks.is_main or log is None:
            return
        with _isolated_rng(self.device):
            if record is not None:
                log.write(record)
            if grid:
                self._draw_grid(epoch)
            if evaluate:
                self._evaluate(epoch, log)
            artifacts.plot_curves(read_metrics(self.run.metrics), self.run.curves)

    def _complete_epoch_outputs(self, log: MetricsLog | None) -> None:
        """Resumed at the end of an epoch: write whatever of its outputs is missing (a run
        killed between that epoch's checkpoint and the end of its outputs)."""
        if not self.ranks.is_main or log is None or self.step == 0 or self.step % self.steps_per_epoch:
            return
        epoch = self.step // self.steps_per_epoch
        events = {(r.get("event"), r.get("epoch")) for r in read_metrics(self.run.metrics)}
        record = None if ("epoch", epoch) in events else {
            "event": "epoch", "epoch": epoch, "step": self.step, "elapsed_s": round(self.elapsed, 3), "recovered": True}
        grid = not self.run.sample_grid(epoch).exists()
        evaluate = self._eval_due(epoch) and ("eval", epoch) not in events
        if record is not None or grid or evaluate:
            self.reporter.message(f"writing the missing outputs of epoch {epoch}")
            self._epoch_outputs(epoch, log, record, grid, evaluate)

    def _evaluate(self, epoch: int, log: MetricsLog) -> None:
        """Score the generator (``[eval]``); log ``eval/<score>``. A failure stops the run with
        one line; the epoch's checkpoint is already written and ``--resume`` redoes it."""
        from ganfw.evaluation.evaluate import evaluate_generator

        cfg = self.recipe.eval
        try:
            scores = evaluate_generator(self.G, cfg.metrics, cfg.n, self.registry,
                                        seed=self.recipe.train.seed, data_root=self.recipe.data_root)
        except Exception as e:  # a metric plugin's code, the data, the disk
            reason = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {' '.join(str(e).split())}"
            raise TrainingStopped(f"epoch {epoch}: evaluation failed: {reason}; the epoch's checkpoint "
                                  f"{self.run.checkpoints / checkpoint_name(self.step)} is kept "
                                  "(--resume redoes the evaluation)") from e
        log.write({"event": "eval", "epoch": epoch, "step": self.step, "n": cfg.n,
                   **{f"eval/{k}": round(v, 6) for k, v in scores.items()}})
        self.reporter.message(f"epoch {epoch}: " + "  ".join(f"{k} {v:.4g}" for k, v in scores.items()))

    def _draw_grid(self, epoch: int) -> None:
        """The grid of epoch ``epoch`` (1-based) from the fixed noise, G in eval mode; the GIF."""
        self.G.eval()
        with torch.no_grad():
            grid = self.G(self.fixed_z).float().cpu()  # (samples, C, H, W)
        self.G.train()
        artifacts.save_grid(grid, self.run.sample_grid(epoch))
        if self.recipe.output.gif:
            artifacts.save_gif(self.run.sample_grids(), self.run.gif)

    # ----------------------------------------------------------------- checkpoints
    def save(self) -> Path:
        """Checkpoint the current step (rank 0 writes; every rank returns the path)."""
        path = self.run.checkpoints / checkpoint_name(self.step)
        if self._saved_step == self.step or not self.ranks.is_main:
            return path
        self._saved_step = self.step
        state = {
            "step": self.step,
            "elapsed_s": self.elapsed,
            "steps_per_epoch": self.steps_per_epoch,
            "image_shape": list(self.G.image_shape),
            "precision": self.precision.name,
            "schedule": self.schedule.state_dict(),
            "scalers": {"generator": self.scaler_g.state_dict(), "discriminator": self.scaler_d.state_dict()},
            "recipe": self.recipe.to_toml(),
        }
        extra = {"rng_cpu": torch.get_rng_state(), "rng_noise": self.noise.get_state(), "fixed_z": self.fixed_z}
        if self.device.type == "cuda":
            extra["rng_cuda"] = torch.cuda.get_rng_state(self.device)
        save_checkpoint(path, {"generator": self.G, "discriminator": self.D},
                        {"generator": self.opt_g, "discriminator": self.opt_d}, extra, state)
        prune_checkpoints(self.run.checkpoints, self.recipe.output.keep_checkpoints)
        return path

    def resume(self) -> Path:
        """Continue from the run directory's newest intact checkpoint; a corrupt one is reported
        and the previous one used (the next checkpoint at that step replaces the corrupt file)."""
        candidates = list_checkpoints(self.run.checkpoints)[::-1]
        if not candidates:
            raise UserError(f"{self.run.path}: no checkpoint to resume from in {self.run.checkpoints}")
        for i, path in enumerate(candidates):
            try:
                self._restore(path)
            except CorruptCheckpoint as e:
                fallback = f"falling back to {candidates[i + 1]}" if i + 1 < len(candidates) else "no older checkpoint"
                self.reporter.message(f"warning: {e}; {fallback}")
                continue
            self._check_epochs_left(path)
            self._saved_step = self.step
            if self.ranks.is_main and self.run.metrics.exists():
                truncate_metrics(self.run.metrics, self.step, read_metrics(self.run.metrics))
            return path
        raise UserError(f"{self.run.checkpoints}: no intact checkpoint to resume from (all {len(candidates)} are corrupt)")

    def _check_epochs_left(self, path: Path) -> None:
        """Refuse to resume with a ``train.epochs`` that ends before the checkpoint's step (before
        anything in the run directory changes)."""
        epochs, spe = self.recipe.train.epochs, self.steps_per_epoch
        if self.step > epochs * spe:
            raise UserError(f"{self.recipe.path}: train.epochs = {epochs} ends at step {epochs * spe}, but {path} is "
                            f"at step {self.step}; set train.epochs to {math.ceil(self.step / spe)} or more to continue")

    def _restore(self, path: Path) -> None:
        """Load every part of the training state from checkpoint ``path``, checked."""
        ckpt = load_training_checkpoint(path)
        _check_resumable(self.recipe, ckpt.recipe, path)
        if ckpt.state["steps_per_epoch"] != self.steps_per_epoch:
            raise UserError(f"{path}: the checkpoint has {ckpt.state['steps_per_epoch']} steps per epoch, "
                            f"this recipe {self.steps_per_epoch} (did data.limit change?)")
        load_module(self.G, ckpt, "generator", path)
        load_module(self.D, ckpt, "discriminator", path)
        try:
            self.opt_g.load_state_dict(check_optimizer(ckpt, "generator", list(self.G.parameters()), path))
            self.opt_d.load_state_dict(check_optimizer(ckpt, "discriminator", list(self.D.parameters()), path))
            self.scaler_g.load_state_dict(ckpt.state["scalers"]["generator"])
            self.scaler_d.load_state_dict(ckpt.state["scalers"]["discriminator"])
            self.schedule.load_state_dict(ckpt.state["schedule"])
            self._restore_rng(ckpt)
        except (KeyError, TypeError, ValueError, RuntimeError) as e:
            raise CorruptCheckpoint(f"{path}: corrupt checkpoint: {type(e).__name__}: "
                                    f"{' '.join(str(e).split())[:200]}") from None
        self.step = ckpt.state["step"]
        self.elapsed = ckpt.state["elapsed_s"]

    def _restore_rng(self, ckpt: Checkpoint) -> None:
        """The random streams as saved (one process), or reseeded per rank (torchrun: the file
        holds rank 0's streams only); the fixed sample noise (samples, Z)."""
        if self.ranks.distributed:
            seed = (self.recipe.train.seed, self.ranks.rank, ckpt.state["step"]).__hash__() & 0x7FFF_FFFF
            torch.manual_seed(seed)
            self.noise.manual_seed(seed + 1)
        else:
            torch.set_rng_state(ckpt.tensors["extra.rng_cpu"])
            self.noise.set_state(ckpt.tensors["extra.rng_noise"])
            if "extra.rng_cuda" in ckpt.tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(ckpt.tensors["extra.rng_cuda"], self.device)
        fixed_z = ckpt.tensors["extra.fixed_z"]
        if fixed_z.shape != self.fixed_z.shape:
            raise ValueError(f"extra.fixed_z has shape {tuple(fixed_z.shape)}, expected {tuple(self.fixed_z.shape)}")
        self.fixed_z = fixed_z.to(self.device)


def _isolated_rng(device: torch.device):
    """A context in which the global CPU generator (and ``device``'s, on CUDA) may be drawn from
    or reseeded: it is restored on exit."""
    return torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else [])


@contextlib.contextmanager
def _blame(choice: ComponentChoice, call: str) -> Iterator[None]:
    """Run ``choice``'s code: any error it raises (a plugin's bug, or torch refusing what it
    does) becomes a one-line :class:`ComponentError` naming the component, its plugin and
    ``call``; a :class:`UserError` passes as is."""
    try:
        yield
    except UserError:
        raise
    except Exception as e:  # third-party code
        raise ComponentError(f"{choice.who} raised in {call}: {type(e).__name__}: {' '.join(str(e).split())}") from e


def _call(choice: ComponentChoice, net: nn.Module, x: Tensor) -> Tensor:
    """``net(x)``, an error in the component's code becoming one line naming it."""
    try:
        return net(x)
    except Exception as e:  # third-party code
        raise ComponentError(f"{choice.who} failed on its first input {tuple(x.shape)}: "
                             f"{type(e).__name__}: {' '.join(str(e).split())}") from e


def _check_resumable(recipe: Recipe, saved: dict[str, Any], path: Path) -> None:
    current = recipe.resolved()
    for key in _RESUME_FIXED:
        a, b = _dig(saved, key), _dig(current, key)
        if a != b:
            raise UserError(f"{path}: cannot resume with a different {'.'.join(key)} (checkpoint: {a!r}, recipe: {b!r})")


def _dig(table: dict, key: tuple[str, ...]) -> Any:
    for part in key:
        table = table.get(part, {}) if isinstance(table, dict) else {}
    return table


class _Window:
    """Running means of step statistics between two log lines."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps = 0
        self.images = 0
        self.seconds = 0.0

    def add(self, report: StepReport, images: int, seconds: float) -> None:
        values = asdict(report)
        del values["step"]
        for key, value in values.items():
            key = {"trained_d": "stepped_d", "trained_g": "stepped_g"}.get(key, key)
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.steps += 1
        self.images += images
        self.seconds += seconds

    def mean(self) -> dict[str, float]:
        means = {k: v / self.steps for k, v in self.sums.items()}
        means["images_per_s"] = self.images / self.seconds if self.seconds else 0.0
        return means


def train(recipe: Recipe, run: RunDir, reporter: Reporter, resume: bool, registry: Registry | None = None) -> bool:
    """Train ``recipe`` into ``run``; return False if interrupted. Writes ``recipe.toml`` first.

    Under torchrun every rank calls this; rank 0 alone writes into ``run``.
    """
    from ganfw.atomic import write_text

    ranks = ranks_from_env()
    try:
        trainer = Trainer(recipe, run, reporter, ranks, registry)
        if resume and latest_checkpoint(run.checkpoints) is None:
            reporter.message(f"{run.path}: no checkpoint (the run stopped before its first one): starting it over")
            resume = False
        if resume:
            path = trainer.resume()
            reporter.message(f"resuming from {path} (step {trainer.step})")
        if ranks.is_main:
            write_text(run.recipe, recipe.to_toml())
        return trainer.fit()
    except BaseException as e:
        discard_if_unused(run.path)
        if not (isinstance(e, RuntimeError) and ranks.distributed):
            raise
        last = latest_checkpoint(run.checkpoints)
        raise UserError(f"rank {ranks.rank}: training stopped, the process group failed (another rank may have "
                        f"crashed): {str(e).splitlines()[0]}; last checkpoint: {last}") from None
    finally:
        leave()
