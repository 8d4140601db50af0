"""Time to quality: train shipped recipes to a deadline on the machine at hand, and print the
table of docs/speed.md - FID at 1, 5 and 10 minutes and the best, per recipe, with the CPU kind -
and a plot of FID against training wall time.

    python benchmarks/time_to_quality.py --data ../shared/data --budget 10m --out runs/ttq \
        --plot docs/images/fid_vs_time.png
    python benchmarks/time_to_quality.py --data ../shared/data --budget 10m --recipe mnist_mlp --recipe mnist_10m
    python benchmarks/time_to_quality.py --data ../shared/data --run mnist_fast=runs/fast \
        --anchors ../shared/anchors

Each ``--recipe`` (by default every shipped recipe on MNIST or Fashion-MNIST, the data a 2-core
machine trains on in minutes) is trained by ``ganfw run NAME --budget B`` in a process of its own
(``--set KEY=VALUE`` is passed on to every run); ``--run NAME=DIR`` adds a finished run instead.
A run's curve is its training-time evaluations (``eval/fid`` in metrics.jsonl, at the recipe's
``eval.n`` samples) against ``elapsed_s``; "FID at 1 min" is the last of them at or before one
minute of training, "FID at the end" the run's last (under a budget: the evaluation at its deadline). Its table row then scores ``--n`` images (10,000) of its best checkpoint
(kept by FID under a budget; without one, the newest: the "scored" column). Run it alone on the machine: a timing
taken beside other work measures the other work.

``--anchors`` adds the course's anchor samples (``seed_epochNN.npy`` of plain PyTorch on
the 2-core AMX machine kind, ``--anchor-epoch-seconds`` an epoch, from ../shared/anchors/README.md):
their curve at ``--curve-n`` images (the training-time evaluations' n), and a row for each of
epoch 40 and later.

``--smoke`` scores 200 images where the table scores 10,000, and the anchors' curve at 100
(seconds, the same lines): it checks that the benchmark works, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganfw.artifacts import read_jsonl
from ganfw.bundled import bundled_recipes
from ganfw.config import budget_seconds
from ganfw.evaluation.datasets import from_argument
from ganfw.evaluation.evaluate import evaluate_generator, evaluate_images
from ganfw.evaluation.images import read_images
from ganfw.plugins import load_registry
from ganfw.precision import cpu_flags, cpu_model, cpu_vector_isa
from ganfw.recipe import load_recipe
from ganfw.sampling import load_generator
from ganfw.training.best import BEST_NAME

#: ``--smoke``: (images scored for a table row, images per point of the anchors' curve).
SMOKE = (200, 100)
#: The datasets the default recipes train on: a 2-core machine trains on them in minutes.
QUICK_DATASETS = ("mnist", "fashion-mnist")
#: Minutes of training at which the table reads each curve (those within the budget), before its end.
MARKS_MIN = (1, 5)

METRICS = ["fid", "kid", "inception-score", "class-coverage", "precision-recall"]
COLUMNS = [
    ("fid", "FID", "{:.2f}"),
    ("kid", "KID", "{:.3f}"),
    ("is", "IS", "{:.2f}"),
    ("coverage_entropy", "class entropy (bits)", "{:.3f}"),
    ("classes_missing", "classes missing", "{:.0f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
]


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


@dataclass(frozen=True)
class Curve:
    """A run's training-time evaluations: ``times`` (seconds of training) and ``fids`` (at
    ``n`` samples each); ``epochs`` and ``total`` (seconds) of its last epoch; the CPU kind and
    precision of its ``start`` record."""

    times: list[float]
    fids: list[float]
    epochs: int
    total: float
    machine: str
    precision: str
    n: int

    def at(self, seconds: float) -> str:
        """The last FID evaluated at or before ``seconds`` of training, or "-"."""
        reached = [f for t, f in zip(self.times, self.fids) if t <= seconds]
        return f"{reached[-1]:.2f}" if reached else "-"


def read_curve(run: Path) -> Curve:
    """The :class:`Curve` of the run directory ``run``."""
    records = read_jsonl(run / "metrics.jsonl")
    elapsed = {r["epoch"]: r["elapsed_s"] for r in records if r.get("event") == "epoch"}
    evals = [r for r in records if r.get("event") == "eval" and r["epoch"] in elapsed and "eval/fid" in r]
    start = next((r for r in records if r.get("event") == "start"), {})
    env = start.get("environment", {})
    machine = env.get("gpu") or f"{env.get('cpu', '?')} ({env.get('cpu_capability', '?')})"
    recipe = load_recipe(run / "recipe.toml", load_registry())
    return Curve(
        [elapsed[r["epoch"]] for r in evals],
        [r["eval/fid"] for r in evals],
        max(elapsed),
        elapsed[max(elapsed)],
        machine,
        start.get("precision", "?"),
        recipe.eval.n,
    )


def default_recipes() -> list[str]:
    """The shipped recipes on MNIST or Fashion-MNIST, by name."""
    registry = load_registry()
    return [r.name for r in bundled_recipes() if load_recipe(r.path, registry).data.ref in QUICK_DATASETS]


def train(name: str, args: argparse.Namespace) -> Path:
    """``ganfw run NAME --budget B`` into ``args.out / NAME``, alone in a process; its directory."""
    out = args.out / name
    command = [sys.executable, "-m", "ganfw", "run", name, "--out", str(out), "--quiet"]
    command += ["--budget", args.budget]
    for override in args.set:
        command += ["--set", override]
    print(f"training {name} for {args.budget} ...", file=sys.stderr, flush=True)
    subprocess.run(command, check=True, env={**os.environ, "GANFW_DATA": args.data}, stdout=sys.stderr)
    return out


def header(marks: list[float]) -> list[str]:
    at = " | ".join([*(f"FID at {minutes(m)}" for m in marks), "FID at the end"])
    cells = " | ".join(h for _, h, _ in COLUMNS)
    return [
        f"| recipe | machine | precision | epochs | training time | eval n | {at} | scored | {cells} |",
        "|---|---|---|---:|---:|---:|" + "---:|" * (len(marks) + 2 + len(COLUMNS)),
    ]


def row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def run_row(name: str, run: Path, args: argparse.Namespace, ax: Axes) -> str:
    """A run's table row - its curve read at the marks, then ``args.n`` images of its best
    checkpoint scored - with its curve drawn on ``ax``."""
    registry = load_registry()
    curve = read_curve(run)
    best = run / "checkpoints" / BEST_NAME
    data = from_argument(str(run / "recipe.toml"), registry, args.data)
    generator = load_generator(best if best.exists() else run, registry)
    scores = evaluate_generator(generator, METRICS, args.n, registry, data).scores
    ax.plot([t / 60 for t in curve.times], curve.fids, "o-", label=name)
    first = [name, curve.machine, curve.precision, str(curve.epochs), minutes(curve.total), str(curve.n)]
    kept = "best" if best.exists() else "newest"
    at = [*map(curve.at, args.marks), curve.at(curve.total)]
    return row([*first, *at, kept, *(fmt.format(scores[k]) for k, _, fmt in COLUMNS)])


def anchor_rows(args: argparse.Namespace, ax: Axes) -> list[str]:
    """The anchors' curve (FID of their first ``args.curve_n`` images against their training
    time) on ``ax``, and a table row for each anchor of epoch 40 and later (``args.n`` images)."""
    data = from_argument("mnist", load_registry(), args.data)
    files = sorted(args.anchors.glob("seed_epoch*.npy"))
    epochs = [int(f.stem.removeprefix("seed_epoch")) for f in files]
    fids, scored = [], {}
    for epoch, file in zip(epochs, files):
        images = read_images(file, (1, 28, 28))
        fids.append(evaluate_images(images[: args.curve_n], ["fid"], load_registry(), data).scores["fid"])
        if epoch >= 40:
            scored[epoch] = evaluate_images(images[: args.n], METRICS, load_registry(), data).scores
    times = [e * args.anchor_epoch_seconds for e in epochs]
    ax.plot([t / 60 for t in times], fids, "o-", label="mnist_dcgan_seed (anchors)")
    curve = Curve(times, fids, max(epochs), max(times), "AMX (the course's machine)", "fp32", args.curve_n)
    return [
        row(
            [f"mnist_dcgan_seed (anchor, epoch {epoch})", curve.machine, "fp32", str(epoch)]
            + [minutes(epoch * args.anchor_epoch_seconds), str(curve.n), *map(curve.at, args.marks)]
            + [curve.at(epoch * args.anchor_epoch_seconds), "-"]
            + [fmt.format(scores[k]) for k, _, fmt in COLUMNS]
        )
        for epoch, scores in scored.items()
    ]


def save_plot(figure: Figure, ax: Axes, path: Path) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("training wall time (minutes, log scale)")
    ax.set_ylabel("FID (the judge's features, training-time evaluations)")
    ax.set_title("Time to quality")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="data root holding MNIST/raw/ and FashionMNIST/raw/")
    parser.add_argument("--budget", default="10m", help="training time of each --recipe (ganfw run --budget)")
    parser.add_argument("--recipe", action="append", default=[], help="a shipped recipe or file to train")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="passed to every run")
    parser.add_argument("--out", type=Path, default=Path("runs/time_to_quality"), help="the runs' parent folder")
    parser.add_argument("--run", action="append", default=[], metavar="NAME=DIR", help="a finished run")
    parser.add_argument("--anchors", type=Path, help="folder of the course's seed_epochNN.npy")
    parser.add_argument("--anchor-epoch-seconds", type=float, default=8242 / 50)
    parser.add_argument("--n", type=int, default=10_000, help="images scored for each table row")
    parser.add_argument("--curve-n", type=int, default=1000, help="images per point of the anchors' curve")
    parser.add_argument("--plot", type=Path, help="write the FID-vs-time plot here (PNG)")
    parser.add_argument("--smoke", action="store_true", help="seconds, on small sets: check that it runs")
    args = parser.parse_args()
    budget = budget_seconds(args.budget)
    if budget is None:
        parser.error("--budget: a duration such as 90s, 10m or 1h30m")
    args.marks = [m * 60.0 for m in MARKS_MIN if m * 60 < budget]
    if not args.recipe and not args.run:
        args.recipe = default_recipes()
    if args.smoke:
        args.n, args.curve_n = SMOKE
    return args


def main() -> None:
    args = parse_args()
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"machine: {cpu_model()}, vector units {cpu_vector_isa(cpu_flags(), capability)}, {os.cpu_count()} cores")
    runs = [(name, train(name, args)) for name in args.recipe]
    runs += [(spec.partition("=")[0], Path(spec.partition("=")[2])) for spec in args.run]
    figure = Figure(figsize=(7, 4.5))
    ax = figure.add_subplot()
    rows = [run_row(name, run, args, ax) for name, run in runs]
    if args.anchors:
        rows += anchor_rows(args, ax)
    print("\n".join([*header(args.marks), *rows]))
    if args.plot:
        save_plot(figure, ax, args.plot)


if __name__ == "__main__":
    main()
