"""``ganfw train-judge``: train the judge of a labelled dataset on its training images, measure
its accuracy on the held-out split, and write its weights with what it knows (see
:class:`ganfw.evaluation.judge.JudgeInfo`) where evaluation finds them (the user cache) or to
``--out``. The shipped judges came from this command (docs/metrics.md records their numbers)::

    ganfw train-judge mnist --data ../shared/data --seed 0 --out src/ganfw/evaluation/judges/mnist.safetensors

Deterministic given the seed (initialisation, batch order, augmentation and dropout all draw
from it). Light augmentation: each training image is rotated by up to 10 degrees, scaled by
0.9..1.1 and shifted by up to 2 pixels. The forward passes autocast to the precision that
``train.precision = "auto"`` picks on this CPU (fp32 weights), recorded with the judge: the
same seed gives the same weights on machines that pick the same precision.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ganfw.contracts import as_image_shape
from ganfw.errors import UserError
from ganfw.evaluation.datasets import EvalData
from ganfw.evaluation.judge import JudgeInfo, JudgeNet, calibrate, judge_images, save_judge
from ganfw.evaluation.judges import cache_dir, file_name
from ganfw.evaluation.reference import held_out, split_name
from ganfw.precision import Precision, resolve_precision


def augment(images: Tensor, rng: torch.Generator) -> Tensor:
    """Random small affine warps of (N, C, H, W) images in [-1, 1] (the background brought in
    is -1)."""
    n, height, width = len(images), images.shape[2], images.shape[3]
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(10)
    scale = 0.9 + torch.rand(n, generator=rng) * 0.2
    shift = torch.rand(n, 2, generator=rng) * 2 - 1  # times 2 pixels in [-1, 1] coordinates, below
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, shift[:, 0] * (4 / width)], 1),
            torch.stack([sin, cos, shift[:, 1] * (4 / height)], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images + 1, grid, align_corners=False) - 1  # zero padding = background


def accuracy(net: JudgeNet, images: Tensor, labels: Tensor) -> float:
    """Share of ``images`` (N, C, H, W) whose predicted class is ``labels`` (N,)."""
    net.eval()
    _, logits = judge_images(net, images)
    return (logits.argmax(1) == labels).float().mean().item()


def train(
    images: Tensor,
    labels: Tensor,
    classes: int,
    *,
    seed: int = 0,
    epochs: int = 12,
    batch_size: int = 128,
    lr: float = 2e-3,
    precision: str = "fp32",
    log: Callable[[str], None] = print,
) -> JudgeNet:
    """Train a :class:`JudgeNet` on ``images`` (N, C, H, W) in [-1, 1] of ``labels`` (N,) int64
    in [0, classes) (Adam with a cosine decay of the learning rate to zero over the run; the
    forward passes autocast to ``precision``: ``"fp32"``, ``"bf16"`` or ``"fp16"``), then
    :func:`calibrate` its features on the same (unaugmented) images."""
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    net = JudgeNet(as_image_shape(images.shape[1:]), classes).to(memory_format=torch.channels_last)
    autocast = Precision(precision, torch.device("cpu"))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * math.ceil(len(images) / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    for epoch in range(epochs):
        net.train()
        start, total = time.perf_counter(), 0.0
        for idx in torch.randperm(len(images), generator=rng).split(batch_size):
            x = augment(images[idx], rng).contiguous(memory_format=torch.channels_last)
            with autocast.autocast():
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


def train_and_save(
    data: EvalData, *, epochs: int, seed: int, out: Path | None, log: Callable[[str], None]
) -> tuple[JudgeInfo, Path]:
    """Train the judge of ``data``, measure it on the held-out split, write it to ``out``
    (default: the user cache, where evaluation finds it); its record and where it went.

    Refused with one line, before any training: a dataset without labels, or without labels
    on its held-out split."""
    if not data.dataset.num_classes:
        raise UserError(
            f"the dataset {data.describe()}: a judge learns a dataset's classes; "
            "score it with ganfw evaluate --features inception"
        )
    split = held_out(data)
    if split.labels is None:
        raise UserError(
            f"the dataset {data.describe()} has no labels on its held-out split: "
            "a judge's accuracy cannot be measured there"
        )
    images, labels = data.dataset.load(), data.dataset.load_labels()
    if labels is None:
        raise UserError(f"the dataset {data.describe()} gave no labels for its training images (load_labels())")
    precision = resolve_precision("auto", torch.device("cpu")).name
    net = train(images, labels, data.dataset.num_classes, seed=seed, epochs=epochs, precision=precision, log=log)
    info = JudgeInfo(
        dataset=data.key,
        image_shape=as_image_shape(data.dataset.image_shape),
        classes=tuple(data.dataset.class_names),
        accuracy=round(accuracy(net, split.images, split.labels), 4),
        split=split_name(split),
        n_held_out=len(split.images),
        training={
            "seed": seed,
            "epochs": epochs,
            "n_train": len(images),
            "precision": precision,
            "torch": torch.__version__,
        },
    )
    path = out if out is not None else cache_dir() / file_name(data.key)
    save_judge(net, info, path)
    return info, path
