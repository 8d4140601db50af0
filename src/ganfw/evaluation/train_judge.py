"""Train the judge on the MNIST training split and write its weights (the shipped ones came from
this command; docs/metrics.md records the numbers it printed)::

    python -m ganfw.evaluation.train_judge --data ../shared/data --seed 0 \\
        --out src/ganfw/evaluation/judge.safetensors

Deterministic given the seed (initialisation, batch order, augmentation and dropout all draw
from it). Light augmentation: each training image is rotated by up to 10 degrees, scaled by
0.9..1.1 and shifted by up to 2 pixels. The forward passes autocast to the precision that
``train.precision = "auto"`` picks on this CPU (fp32 weights); the shipped weights were trained
in bf16 on an AMX CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import Tensor

from ganfw.atomic import atomic_path
from ganfw.evaluation.images import from_uint8
from ganfw.evaluation.judge import JudgeNet, calibrate, judge_images
from ganfw.precision import Precision, resolve_precision
from ganfw_plugins.mnist.dataset import load_labels, load_split


def augment(images: Tensor, rng: torch.Generator) -> Tensor:
    """Random small affine warps of (N, 1, 28, 28) images in [-1, 1] (background stays -1)."""
    n = len(images)
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(10)
    scale = 0.9 + torch.rand(n, generator=rng) * 0.2
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * (2 / 14)  # 2 pixels in [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images + 1, grid, align_corners=False) - 1  # zero padding = background


def accuracy(net: JudgeNet, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` (N, 1, 28, 28) whose predicted digit is ``labels`` (N,)."""
    net.eval()
    _, logits = judge_images(net, images)
    return (logits.argmax(1) == labels).float().mean().item()


def train(
    data_root: str | Path,
    *,
    seed: int = 0,
    epochs: int = 12,
    batch_size: int = 128,
    lr: float = 2e-3,
    limit: int | None = None,
    log=print,
) -> JudgeNet:
    """Train a :class:`JudgeNet` on the first ``limit`` (default all) training images (Adam with
    a cosine decay of the learning rate to zero over the run), then :func:`calibrate` its
    features on the same (unaugmented) images."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    images = from_uint8(load_split(data_root, train=True))[:limit]
    labels = load_labels(data_root, train=True)[:limit]
    net = JudgeNet().to(memory_format=torch.channels_last)
    cpu = torch.device("cpu")
    precision = Precision(resolve_precision("auto", cpu).name, cpu)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * math.ceil(len(images) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    for epoch in range(epochs):
        net.train()
        start, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(images), generator=rng).split(batch_size):
            x = augment(images[idx], rng).contiguous(memory_format=torch.channels_last)
            with precision.autocast():
                _, logits = net(x)
            loss = F.cross_entropy(logits.float(), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log(f"epoch {epoch + 1}/{epochs}: loss {total / len(images):.4f} ({time.perf_counter() - start:.0f} s)")
    net.eval()
    calibrate(net, images)
    return net


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="data root holding MNIST/raw/")
    parser.add_argument("--out", required=True, type=Path, help="where to write the weights (.safetensors)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    net = train(args.data, seed=args.seed, epochs=args.epochs)
    seconds = time.perf_counter() - start
    test_images = from_uint8(load_split(args.data, train=False))
    test_acc = accuracy(net, test_images, load_labels(args.data, train=False))
    record = {"seed": args.seed, "epochs": args.epochs, "test_accuracy": round(test_acc, 4), "torch": torch.__version__}
    with atomic_path(args.out) as tmp:
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp),
                  metadata={"judge": json.dumps(record)})
    print(json.dumps({**record, "train_seconds": round(seconds)}))


if __name__ == "__main__":
    main()
