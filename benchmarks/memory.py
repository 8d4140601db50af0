"""Memory over a long run: does a training step leak?

Runs ``--steps`` training steps of a shipped recipe (on the first ``--limit`` MNIST images,
``[eval]`` off, nothing written but a checkpoint every ``--checkpoint-every`` steps into a
temporary run directory) and prints the peak resident set size after a warm-up and at the end.
Flat (a ratio near 1.00) means no leak: the peak is reached while warming up (allocator pools,
lazy imports) and never grows after.

    python benchmarks/memory.py                         # recipes/mnist_dcgan.toml, 300 steps
    python benchmarks/memory.py recipes/mnist_mlp.toml --steps 2000 --set train.batch_size=32

Output: one line per phase, then ``peak RSS after warm-up X MiB, at the end Y MiB: ratio R``.
Not a test (no timing or memory assertion); see docs/reliability.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mib() -> float:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """The resident set size now, from /proc (0 where there is none)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def build_trainer(recipe: Path, overrides: list[str], limit: int, run: Path):
    """A Trainer of ``recipe`` on ``limit`` images, evaluation off, writing into ``run``."""
    from ganfw.engine import Trainer
    from ganfw.plugins import load_registry
    from ganfw.progress import SilentReporter
    from ganfw.recipe import load_recipe
    from ganfw.rundir import RunDir

    sets = [f"data.limit={limit}", "eval.every=0", "train.device=cpu", *overrides]
    return Trainer(load_recipe(recipe, load_registry(), sets), RunDir(run), SilentReporter())


def train_steps(trainer, steps: int, checkpoint_every: int) -> None:
    """``steps`` more training steps, batch after batch of the in-memory images (B, C, H, W)."""
    bs, n = trainer.recipe.train.batch_size, len(trainer.images)
    for _ in range(steps):
        start = (trainer.step * bs) % max(n - bs + 1, 1)
        trainer._train_step(trainer.images[start : start + bs])
        if checkpoint_every and trainer.step % checkpoint_every == 0:
            trainer.save()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", nargs="?", default=str(REPO / "recipes" / "mnist_dcgan.toml"))
    parser.add_argument("--steps", type=int, default=300, help="training steps after the warm-up")
    parser.add_argument("--warmup", type=int, default=60, help="steps before the first measure (include a checkpoint)")
    parser.add_argument("--limit", type=int, default=2048, help="MNIST images kept (data.limit)")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="also checkpoint every N steps (0: never)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ganfw-memory-") as run:
        trainer = build_trainer(Path(args.recipe), args.overrides, args.limit, Path(run))
        print(f"{args.recipe}: built, peak RSS {peak_rss_mib():.0f} MiB", flush=True)
        train_steps(trainer, args.warmup, args.checkpoint_every)
        warm = peak_rss_mib()
        print(
            f"after {args.warmup} warm-up steps: peak RSS {warm:.0f} MiB, now {current_rss_mib():.0f} MiB", flush=True
        )
        train_steps(trainer, args.steps, args.checkpoint_every)
        end = peak_rss_mib()
        print(f"after {args.steps} more steps: peak RSS {end:.0f} MiB, now {current_rss_mib():.0f} MiB")
    print(f"peak RSS after warm-up {warm:.0f} MiB, at the end {end:.0f} MiB: ratio {end / warm:.3f}")


if __name__ == "__main__":
    sys.exit(main())
