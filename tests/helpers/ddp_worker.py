"""Run by torchrun in tests/training/test_distributed.py: train a recipe, then every rank saves its
final weights (parameters; batch-norm running statistics are per rank by design) to
``<out>.rank<R>.safetensors`` so the test can compare ranks, the steps of the checkpoints it
wrote, in order, to ``<out>.rank<R>.saves.json``, and the gloo threads still alive once training
returned or raised (none: the process group was freed, see ``ganfw.distributed.leave``) to
``<out>.rank<R>.threads.json``.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/helpers/ddp_worker.py \
        RECIPE OUT [--resume] [--crash-at STEP] [--signal-at STEP [--send-signal NAME] [--signal-rank R]]
        [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import signal
from pathlib import Path

from safetensors.torch import save_file

from ganfw import engine
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir
from ganfw.training import state


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("out", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--crash-at", type=int, help="rank 1 raises at this step")
    parser.add_argument("--signal-at", type=int, help="send --send-signal to this process after this step")
    # Not "--signal": torchrun's parser reads the script's arguments too, and refuses that one as
    # an ambiguous abbreviation of its --signals-to-handle.
    parser.add_argument("--send-signal", default="SIGINT", help="SIGINT, SIGTERM, SIGUSR1 or SIGKILL")
    parser.add_argument("--signal-rank", type=int, help="only this rank signals itself (default: every rank)")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    rank = int(os.environ["RANK"])

    original_step, original_fit = engine.Trainer._train_step, engine.Trainer.fit

    def step(self, real):
        if rank == 1 and self.step == args.crash_at:
            raise SystemExit("rank 1 crashes on purpose")
        report = original_step(self, real)
        if self.step == args.signal_at and args.signal_rank in (None, rank):
            os.kill(os.getpid(), getattr(signal, args.send_signal))  # as a terminal, a scheduler or the kernel would
        return report

    def fit_and_dump(self):
        finished = original_fit(self)
        weights = {f"generator.{k}": v for k, v in self.parts.G.named_parameters()}
        weights.update({f"discriminator.{k}": v for k, v in self.parts.D.named_parameters()})
        save_file({k: v.detach().contiguous() for k, v in weights.items()}, f"{args.out}.rank{rank}.safetensors")
        return finished

    saves: list[int] = []
    original_save = state.save_checkpoint

    def counted_save(path, *rest, **kwargs):
        saves.append(int(path.stem.removeprefix("step_")))
        Path(f"{args.out}.rank{rank}.saves.json").write_text(json.dumps(saves))
        return original_save(path, *rest, **kwargs)

    engine.Trainer._train_step, engine.Trainer.fit = step, fit_and_dump
    state.save_checkpoint = counted_save
    recipe = load_recipe(args.recipe, load_registry(), args.set)
    # torchrun stops the other ranks with SIGTERM once one fails. While training, ganfw's handler
    # turns it into a stop after the current step (what the crash test checks); after that, this
    # rank ignores it and lives on to report its threads.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        engine.train(recipe, RunDir(args.out), PlainReporter(), args.resume)
    finally:
        Path(f"{args.out}.rank{rank}.threads.json").write_text(json.dumps(gloo_threads()))


def gloo_threads() -> list[str]:
    """The names of this process's gloo threads (its worker threads ``pt_gloo_runloop``, its
    transport's ``gloo_tcp_loop``), from Linux's /proc (none elsewhere)."""
    names = []
    for task in Path("/proc/self/task").glob("*"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names.append((task / "comm").read_text().strip())
    return sorted(name for name in names if "gloo" in name)


if __name__ == "__main__":
    try:
        main()
    finally:
        gc.freeze()  # as the ganfw command exits (ganfw.cli.script): no walk of torch's objects
