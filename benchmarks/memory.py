"""Memory over a long run: does training leak?

Trains a shipped recipe as ``ganfw run`` does (``ganfw.engine.train``, in this process) on the
first ``--limit`` MNIST images, for whole epochs until ``--warmup`` + ``--steps`` steps are done,
with ``[eval]`` off and a checkpoint every ``--checkpoint-every`` steps (and at each epoch's
end, with its grid and curves) into a temporary run directory. The GIF and the report page are
off: they grow with the number of epochs by design. Prints the peak resident set size at the
end of the first epoch past ``--warmup`` steps and at the end of the run. Flat (a ratio near
1.00) means no leak: the peak is reached while warming up (allocator pools, lazy imports, the
first checkpoint and epoch end) and never grows after.

    python benchmarks/memory.py                         # recipes/mnist_dcgan.toml, 300 steps
    python benchmarks/memory.py recipes/mnist_mlp.toml --steps 2000 --set train.batch_size=32
    python benchmarks/memory.py --smoke                 # seconds: the same lines, tiny

``--smoke`` trains 4 steps after 2 (64 images, batch 16, a checkpoint every 2 steps): it checks
that the benchmark works, its numbers mean nothing.

Output: one line per phase, then ``peak RSS after warm-up X MiB, at the end Y MiB: ratio R``.
Not a test (no timing or memory assertion); see docs/reliability.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

from ganfw.progress import SilentReporter

REPO = Path(__file__).resolve().parents[1]
#: ``--smoke``: (warm-up steps, steps after it, images kept, checkpoint every, batch size).
SMOKE = (2, 4, 64, 2, 16)


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


class PeakAfterWarmup(SilentReporter):
    """A progress reporter for ``ganfw.engine.train`` that notes (and prints) the peak RSS at the
    end of the first epoch that ends at or past step ``warmup``: the warm-up is whole epochs, so
    that it holds an epoch's end (checkpoint, grid, curves) as every later epoch does."""

    def __init__(self, warmup: int):
        self.warmup, self.warm_step, self.warm = warmup, 0, 0.0
        self.total, self.steps_per_epoch = 0, 1

    def start(self, total: int, done: int, steps_per_epoch: int) -> None:
        self.total, self.steps_per_epoch = total, steps_per_epoch

    def epoch_end(self, epoch: int, epochs: int) -> None:
        step = epoch * self.steps_per_epoch
        if not self.warm and step >= self.warmup:
            self.warm_step, self.warm = step, peak_rss_mib()
            print(f"after {step} warm-up steps: peak RSS {self.warm:.0f} MiB, now {current_rss_mib():.0f} MiB")


def load(recipe: Path, overrides: list[str], args: argparse.Namespace):
    """The recipe with the benchmark's settings: ``args.limit`` images, evaluation, GIF and report
    off, a checkpoint every ``args.checkpoint_every`` steps, and enough whole epochs for
    ``args.warmup + args.steps`` steps."""
    from ganfw.plugins import load_registry
    from ganfw.recipe import load_recipe

    sets = [
        f"data.limit={args.limit}",
        "eval.every=0",
        "train.device=cpu",
        "output.gif=false",
        "output.report=false",
        f"output.checkpoint_every={args.checkpoint_every}",
        *overrides,
    ]
    registry = load_registry()
    per_epoch = max(1, args.limit // load_recipe(recipe, registry, sets).train.batch_size)
    epochs = -(-(args.warmup + args.steps) // per_epoch)
    return load_recipe(recipe, registry, [*sets, f"train.epochs={epochs}"])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", nargs="?", default=str(REPO / "recipes" / "mnist_dcgan.toml"))
    parser.add_argument("--steps", type=int, default=300, help="training steps after the warm-up (at least)")
    parser.add_argument("--warmup", type=int, default=60, help="steps before the first measure (include a checkpoint)")
    parser.add_argument("--limit", type=int, default=2048, help="MNIST images kept (data.limit)")
    parser.add_argument("--checkpoint-every", type=int, default=50, help="also checkpoint every N steps (0: never)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--smoke", action="store_true", help="a few seconds on tiny data: check that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.warmup, args.steps, args.limit, args.checkpoint_every, batch = SMOKE
        args.overrides = [f"train.batch_size={batch}", *args.overrides]
    return args


def main(argv: list[str] | None = None) -> None:
    from ganfw.engine import train
    from ganfw.rundir import RunDir

    args = parse_args(argv)
    recipe = load(Path(args.recipe), args.overrides, args)
    print(f"{args.recipe}: loaded, peak RSS {peak_rss_mib():.0f} MiB", flush=True)
    reporter = PeakAfterWarmup(args.warmup)
    with tempfile.TemporaryDirectory(prefix="ganfw-memory-") as run:
        train(recipe, RunDir(Path(run)), reporter, resume=False)
    end = peak_rss_mib()
    print(
        f"after {reporter.total - reporter.warm_step} more steps: peak RSS {end:.0f} MiB, now {current_rss_mib():.0f} MiB"
    )
    print(f"peak RSS after warm-up {reporter.warm:.0f} MiB, at the end {end:.0f} MiB: ratio {end / reporter.warm:.3f}")


if __name__ == "__main__":
    sys.exit(main())
