"""Time to quality: the judge's scores of finished runs and of the course's anchor samples, and a
plot of FID against training wall time.

    python benchmarks/time_to_quality.py --data ../shared/data --anchors ../shared/anchors \
        --run mnist_fast=runs/fast --run mnist_dcgan=runs/dcgan --plot docs/images/fid_vs_time.png

A run's curve is its training-time evaluations (``eval/fid`` in metrics.jsonl, at the recipe's
``eval.n``) against ``elapsed_s``; its table row scores 10,000 images of its newest checkpoint.
The anchors are samples of the course's recipe after epochs 1..50 (plain PyTorch on the same
2-core machine kind, ``--anchor-epoch-seconds`` each, from ../shared/anchors/README.md); their
curve uses their first ``--curve-n`` images, so that both curves are measured at the same n.
Prints a markdown table, then for each run the best training-time FID reached within
``--budget`` seconds of training (default 600: "quality at 10 minutes").

``--smoke`` scores 200 images where the table scores 10,000, and the anchors' curve at 100
(seconds, the same lines): it checks that the benchmark works, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ganfw.artifacts import read_jsonl
from ganfw.evaluation.datasets import EvalData, from_argument
from ganfw.evaluation.evaluate import evaluate_generator, evaluate_images
from ganfw.evaluation.images import read_images
from ganfw.plugins import load_registry
from ganfw.sampling import load_generator

#: ``--smoke``: (images scored for a table row, images per point of the anchors' curve).
SMOKE = (200, 100)

METRICS = ["fid", "kid", "inception-score", "class-coverage", "precision-recall"]
COLUMNS = [
    ("fid", "FID", "{:.2f}"),
    ("kid", "KID", "{:.3f}"),
    ("is", "IS", "{:.2f}"),
    ("coverage_entropy", "class entropy (bits)", "{:.3f}"),
    ("classes_missing", "digits missing", "{:.0f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
]


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def table_row(name: str, epochs: int, seconds: float, scores: dict[str, float]) -> str:
    cells = " | ".join(fmt.format(scores[key]) for key, _, fmt in COLUMNS)
    return f"| {name} | {epochs} | {minutes(seconds)} | {cells} |"


def run_curve(run: Path) -> tuple[list[float], list[float], int, float]:
    """(elapsed seconds, FID) at each training-time evaluation, the epochs and the total time."""
    records = read_jsonl(run / "metrics.jsonl")
    elapsed = {r["epoch"]: r["elapsed_s"] for r in records if r.get("event") == "epoch"}
    evals = [
        (elapsed[r["epoch"]], r["eval/fid"]) for r in records if r.get("event") == "eval" and r["epoch"] in elapsed
    ]
    return [t for t, _ in evals], [f for _, f in evals], max(elapsed), elapsed[max(elapsed)]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="data root holding MNIST/raw/")
    parser.add_argument("--anchors", type=Path, required=True, help="folder of seed_epochNN.npy")
    parser.add_argument("--anchor-epoch-seconds", type=float, default=8242 / 50)
    parser.add_argument("--run", action="append", default=[], metavar="NAME=DIR", help="a finished run")
    parser.add_argument("--n", type=int, default=10_000, help="images scored for each table row")
    parser.add_argument("--curve-n", type=int, default=1000, help="images per point of the anchors' curve")
    parser.add_argument("--plot", type=Path, help="write the FID-vs-time plot here (PNG)")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training for the best-FID line")
    parser.add_argument("--smoke", action="store_true", help="seconds, on small sets: check that it runs")
    args = parser.parse_args()
    if args.smoke:
        args.n, args.curve_n = SMOKE
    return args


def anchor_rows(args: argparse.Namespace, data: EvalData, ax: Axes) -> None:
    """The anchors' curve (FID of their first ``args.curve_n`` images against their training
    time) on ``ax``, and a table row for each anchor of epoch 40 and later (``args.n`` images)."""
    files = sorted(args.anchors.glob("seed_epoch*.npy"))
    epochs = [int(re.search(r"(\d+)", f.stem).group(1)) for f in files]
    curve = []
    for epoch, file in zip(epochs, files):
        images = read_images(file, (1, 28, 28))
        curve.append(evaluate_images(images[: args.curve_n], ["fid"], load_registry(), data).scores["fid"])
        if epoch >= 40:
            scores = evaluate_images(images[: args.n], METRICS, load_registry(), data).scores
            name = f"mnist_dcgan_seed (anchor, epoch {epoch})"
            print(table_row(name, epoch, epoch * args.anchor_epoch_seconds, scores))
    ax.plot([e * args.anchor_epoch_seconds / 60 for e in epochs], curve, "o-", label="mnist_dcgan_seed (anchors)")


def run_row(spec: str, args: argparse.Namespace, ax: Axes) -> str:
    """A finished run's table row (``args.n`` images of its newest checkpoint) and its curve on
    ``ax``; returns its best-FID-within-the-budget line."""
    registry = load_registry()
    name, _, directory = spec.partition("=")
    run = Path(directory)
    times, fids, n_epochs, total = run_curve(run)
    data = from_argument(str(run / "recipe.toml"), registry, args.data)
    scores = evaluate_generator(load_generator(run, registry), METRICS, args.n, registry, data).scores
    print(table_row(name, n_epochs, total, scores))
    ax.plot([t / 60 for t in times], fids, "o-", label=name)
    within = [(f, t) for t, f in zip(times, fids) if t <= args.budget]
    return f"{name}: best training-time FID within {minutes(args.budget)}: " + (
        f"{min(within)[0]:.2f} (at {minutes(min(within)[1])})" if within else "no evaluation in time"
    )


def save_plot(figure: Figure, ax: Axes, curve_n: int, path: Path) -> None:
    ax.set_xscale("log")
    ax.set_xlabel("training wall time on the 2-core CPU (minutes, log scale)")
    ax.set_ylabel(f"FID (judge features, {curve_n} samples)")
    ax.set_title("Time to quality on MNIST")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))


def main() -> None:
    args = parse_args()
    mnist = from_argument("mnist", load_registry(), args.data)  # the anchors are MNIST samples
    print("| recipe | epochs | training wall time | " + " | ".join(h for _, h, _ in COLUMNS) + " |")
    print("|---|---:|---:|" + "---:|" * len(COLUMNS))
    figure = Figure(figsize=(7, 4.5))
    ax = figure.add_subplot()
    anchor_rows(args, mnist, ax)
    best = [run_row(spec, args, ax) for spec in args.run]
    print("\n".join(best))
    if args.plot:
        save_plot(figure, ax, args.curve_n, args.plot)


if __name__ == "__main__":
    main()
