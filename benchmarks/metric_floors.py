"""The numbers of docs/metrics.md: every metric's floor (real digits), ceiling (noise), its bias
at 1,000 vs 10,000 images, and the scores of the anchor samples (the course's recipe).

    python benchmarks/metric_floors.py --data ../shared/data --anchors ../shared/anchors
    python benchmarks/metric_floors.py --data ../shared/data --dataset fashion-mnist
    python benchmarks/metric_floors.py --data ../shared/data --anchors ../shared/anchors --smoke

Prints markdown tables. Every set is scored against the dataset's test split (MNIST by default)
with its judge and seed 0, as ``ganfw evaluate FILE --dataset DATASET --n N`` would score it.
``--smoke`` prints the same tables with sets of 200 and 50 images and two slices (seconds): it
checks that the benchmark works, its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from torch import Tensor

from ganfw.evaluation.datasets import EvalData, from_argument
from ganfw.evaluation.evaluate import evaluate_images
from ganfw.evaluation.images import read_images
from ganfw.plugins import load_registry

#: ``--smoke``: (images of a large set, of a small set, slices of real images).
SMOKE = (200, 50, 2)

METRICS = ["fid", "kid", "inception-score", "class-coverage", "precision-recall"]

#: The columns of every table: (score key, header, format).
COLUMNS = [
    ("fid", "FID", "{:.2f}"),
    ("kid", "KID", "{:.4f}"),
    ("is", "IS", "{:.2f}"),
    ("coverage_entropy", "class entropy (bits)", "{:.3f}"),
    ("classes_missing", "digits missing", "{:.0f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("density", "density", "{:.3f}"),
    ("coverage", "coverage", "{:.3f}"),
]


def uniform_noise(n: int, seed: int) -> Tensor:
    """(n, 1, 28, 28) pixels uniform in [-1, 1]."""
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def gaussian_blobs(n: int, seed: int) -> Tensor:
    """(n, 1, 28, 28) black images with 1 to 3 white Gaussian blobs each (centres within the
    middle 20x20, widths 1.5 to 4 pixels): digit-like ink without digit shapes."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.arange(28.0)
    ink = torch.zeros(n, 28, 28)
    count = torch.randint(1, 4, (n,), generator=g)
    for blob in range(3):
        centre = 4 + torch.rand(n, 2, generator=g) * 20
        width = 1.5 + torch.rand(n, 1, 1, generator=g) * 2.5
        dy = (grid[None, :, None] - centre[:, 0, None, None]) ** 2
        dx = (grid[None, None, :] - centre[:, 1, None, None]) ** 2
        ink += torch.exp(-(dy + dx) / (2 * width**2)) * (blob < count).float()[:, None, None]
    return (ink.clamp(0, 1) * 2 - 1).unsqueeze(1)


def row(name: str, images: Tensor, data: EvalData) -> str:
    start = time.perf_counter()
    scores = evaluate_images(images, METRICS, load_registry(), data).scores
    cells = [fmt.format(scores[key]) for key, _, fmt in COLUMNS]
    return f"| {name} | {len(images):,} | " + " | ".join(cells) + f" | {time.perf_counter() - start:.1f} |"


def table(rows: list[tuple[str, Tensor]], data: EvalData) -> None:
    print("| set | n | " + " | ".join(h for _, h, _ in COLUMNS) + " | seconds |")
    print("|---|---:|" + "---:|" * (len(COLUMNS) + 1))
    for name, images in rows:
        print(row(name, images, data), flush=True)
    print()


def count(n: int) -> str:
    """A set's size as the tables name it: ``10k``, ``1k``, ``500``."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def floors(train: Tensor, data: EvalData, large: int, small: int) -> None:
    """The table of real images, noise and blobs at ``large`` and ``small`` images."""
    print(f"## Floors and ceilings ({data.key})\n")
    table(
        [
            (f"{data.key} train, first {count(large)}", train[:large]),
            (f"{data.key} train, next {count(large)}", train[large : 2 * large]),
            (f"{data.key} train, first {count(small)}", train[:small]),
            ("uniform noise", uniform_noise(large, seed=0)),
            ("uniform noise", uniform_noise(small, seed=0)),
            ("Gaussian blobs", gaussian_blobs(large, seed=0)),
            ("Gaussian blobs", gaussian_blobs(small, seed=0)),
        ],
        data,
    )


def real_spread(train: Tensor, data: EvalData, small: int, slices: int) -> None:
    """FID of ``slices`` disjoint slices of ``small`` real training images: mean, std, range."""
    print(f"## FID of real images at {count(small)}: spread over {slices} disjoint slices of the training split\n")
    fids = [
        evaluate_images(train[i * small : (i + 1) * small], ["fid"], load_registry(), data).scores["fid"]
        for i in range(slices)
    ]
    mean = sum(fids) / len(fids)
    std = math.sqrt(sum((f - mean) ** 2 for f in fids) / (len(fids) - 1))
    print(f"FID at {count(small)}: mean {mean:.2f}, std {std:.2f}, min {min(fids):.2f}, max {max(fids):.2f}\n")


def anchors(folder: Path, data: EvalData, large: int, small: int) -> None:
    """The tables of the anchor samples, their first ``large`` and first ``small`` images."""
    files = sorted(folder.glob("seed_epoch*.npy"))
    print(f"## Anchors (the course's recipe), {count(large)} samples\n")
    table([(f.stem, read_images(f, (1, 28, 28))[:large]) for f in files], data)
    print(f"## Anchors, first {count(small)} samples (what training-time evaluation sees with [eval] n = {small})\n")
    table([(f.stem, read_images(f, (1, 28, 28))[:small]) for f in files], data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="data root holding MNIST/raw/ (FashionMNIST/raw/)")
    parser.add_argument("--dataset", default="mnist", help="the dataset (or a recipe naming one)")
    parser.add_argument("--anchors", type=Path, help="folder of seed_epochNN.npy anchor samples (MNIST)")
    parser.add_argument("--smoke", action="store_true", help="seconds, on small sets: check that it runs")
    args = parser.parse_args()
    large, small, slices = SMOKE if args.smoke else (10_000, 1000, 10)

    data = from_argument(args.dataset, load_registry(), args.data)
    train = data.dataset.load()  # (60000, 1, 28, 28) in [-1, 1]
    floors(train, data, large, small)
    real_spread(train, data, small, slices)
    if args.anchors:
        anchors(args.anchors, data, large, small)


if __name__ == "__main__":
    main()
