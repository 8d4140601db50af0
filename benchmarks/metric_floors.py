"""The numbers of docs/metrics.md: every metric's floor (real digits), ceiling (noise), its bias
at 1,000 vs 10,000 images, and the scores of the anchor samples (the course's recipe).

    python benchmarks/metric_floors.py --data ../shared/data --anchors ../shared/anchors
    python benchmarks/metric_floors.py --data ../shared/data --dataset fashion-mnist

Prints markdown tables. Every set is scored against the dataset's test split (MNIST by default)
with its judge and seed 0, as ``ganfw evaluate FILE --dataset DATASET --n N`` would score it.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="data root holding MNIST/raw/ (FashionMNIST/raw/)")
    parser.add_argument("--dataset", default="mnist", help="the dataset (or a recipe naming one)")
    parser.add_argument("--anchors", type=Path, help="folder of seed_epochNN.npy anchor samples (MNIST)")
    args = parser.parse_args()

    registry = load_registry()
    data = from_argument(args.dataset, registry, args.data)
    train = data.dataset.load()  # (60000, 1, 28, 28) in [-1, 1]
    print(f"## Floors and ceilings ({data.key})\n")
    table(
        [
            (f"{data.key} train, first 10k", train[:10000]),
            (f"{data.key} train, next 10k", train[10000:20000]),
            (f"{data.key} train, first 1k", train[:1000]),
            ("uniform noise", uniform_noise(10000, seed=0)),
            ("uniform noise", uniform_noise(1000, seed=0)),
            ("Gaussian blobs", gaussian_blobs(10000, seed=0)),
            ("Gaussian blobs", gaussian_blobs(1000, seed=0)),
        ],
        data,
    )

    print("## FID of real images at 1k: spread over ten disjoint slices of the training split\n")
    fids = [evaluate_images(train[i * 1000 : (i + 1) * 1000], ["fid"], registry, data).scores["fid"] for i in range(10)]
    mean = sum(fids) / len(fids)
    std = math.sqrt(sum((f - mean) ** 2 for f in fids) / (len(fids) - 1))
    print(f"FID at 1k: mean {mean:.2f}, std {std:.2f}, min {min(fids):.2f}, max {max(fids):.2f}\n")

    if args.anchors:
        files = sorted(args.anchors.glob("seed_epoch*.npy"))
        print("## Anchors (the course's recipe), 10k samples\n")
        table([(f.stem, read_images(f, (1, 28, 28))) for f in files], data)
        print("## Anchors, first 1k samples (what training-time evaluation sees with [eval] n = 1000)\n")
        table([(f.stem, read_images(f, (1, 28, 28))[:1000]) for f in files], data)


if __name__ == "__main__":
    main()
