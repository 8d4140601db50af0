"""Run by torchrun in tests/training/test_distributed.py: train a recipe, then every rank saves its
final weights (parameters; batch-norm running statistics are per rank by design) to
``<out>.rank<R>.safetensors`` so the test can compare ranks.

    python -m torch.distributed.run --standalone --nproc_per_node=2 tests/helpers/ddp_worker.py \
        RECIPE OUT [--resume] [--crash-at STEP] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from safetensors.torch import save_file

from ganfw import engine
from ganfw.plugins import load_registry
from ganfw.progress import PlainReporter
from ganfw.recipe import load_recipe
from ganfw.rundir import RunDir


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("recipe")
    parser.add_argument("out", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--crash-at", type=int, help="rank 1 raises at this step")
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args()
    rank = int(os.environ["RANK"])

    original_step, original_fit = engine.Trainer._train_step, engine.Trainer.fit

    def step(self, real):
        if rank == 1 and self.step == args.crash_at:
            raise SystemExit("rank 1 crashes on purpose")
        return original_step(self, real)

    def fit_and_dump(self):
        finished = original_fit(self)
        state = {f"generator.{k}": v for k, v in self.parts.G.named_parameters()}
        state.update({f"discriminator.{k}": v for k, v in self.parts.D.named_parameters()})
        save_file({k: v.detach().contiguous() for k, v in state.items()}, f"{args.out}.rank{rank}.safetensors")
        return finished

    engine.Trainer._train_step, engine.Trainer.fit = step, fit_and_dump
    recipe = load_recipe(args.recipe, load_registry(), args.set)
    engine.train(recipe, RunDir(args.out), PlainReporter(), args.resume)


if __name__ == "__main__":
    main()
