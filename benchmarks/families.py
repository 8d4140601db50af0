"""Time each network family's training step in ganfw against a plain PyTorch loop of the same networks.

For each family (DCGAN, SNGAN's ResNet, StyleGAN2; with ``--conditional`` also cdcgan, cresnet,
cstylegan2) at each side (32 and 64 px RGB; ``--grey`` adds 28 px grey), both sides train the
same G and D, built through the registry from the family's shipped recipe:

| family | recipe | loss | schedule | Adam (lr, betas) | batch | EMA of G |
| --- | --- | --- | --- | --- | ---: | --- |
| dcgan, cdcgan | `folder_dcgan` (cdcgan: its G and D named `cdcgan`) | non-saturating | alternating | 2e-4, (0.5, 0.999) | 64 | 0.999 |
| resnet, cresnet | `cifar10_resnet`, `cifar10_resnet_cond` | hinge | 5 D steps per G step | 2e-4, (0, 0.9) | 64 | - |
| stylegan2, cstylegan2 | `cifar10_stylegan2`, `cifar10_cstylegan2` | non-saturating + R1 (gamma 0.01, every 16 D steps) | alternating | 0.0025, (0, 0.99) | 64 | 0.99991 |

The plain loop is the straightforward code a user would write around those modules: fp32,
the images read by torchvision's ``ImageFolder`` once and held in memory (as torchvision's
CIFAR-10 holds its own) behind a ``DataLoader``, the recipe's loss written out, D's step on
a detached fake batch then G's against the updated D, the lazy R1 on every 16th D step (scaled by
16), the EMA after every step, ``nn.Dropout``. (It keeps the learning rate constant where
``cifar10_resnet*`` decay it linearly: one multiplication per step.) ganfw runs the recipe in its
``auto`` configuration (``train_step.FAST_PATH``: precision ``auto``, channels-last; fast dropout
by default) through ``train_step.trainer_step``. Both read the same synthetic images: seeded PNGs
written into a temporary folder (10 class sub-folders, read as classes by the conditional
variants only), so the benchmark runs offline.

The timed unit is one G update: one step of an alternating recipe, ``n`` steps of an n-critic
one; a row gives its median (over ``--repeats`` rounds of ``--steps`` units, interleaved plain,
ganfw, plain, ... as ``train_step.time_interleaved`` does) divided by its steps. Steps with a
lazy penalty are slower; both sides compute it on the same steps.

    python benchmarks/families.py                           # dcgan, resnet, stylegan2 at 32 and 64 px
    python benchmarks/families.py --conditional --grey      # also cdcgan, cresnet, cstylegan2; 28 px grey
    python benchmarks/families.py --families resnet --sizes 32 --set train.batch_size=128
    python benchmarks/families.py --smoke --conditional     # seconds: the same lines, tiny networks

``--smoke`` shrinks every network (``--set`` its widths), the batch to 4 and the images to 8,
and times one round of one unit: it checks that the benchmark works, its numbers mean nothing.

Prints the machine (CPU model, vector units, torch capability, threads), the device line with
ganfw's options and the precision ``auto`` picks, a markdown table with one row per (family,
images) - median seconds per step of each side and the speedup (plain / ganfw) - and last, for
each family, one line of its speedups.
"""

from __future__ import annotations

import argparse
import functools
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from train_step import FAST_PATH, machine_line, time_interleaved, trainer_step

REPO = Path(__file__).resolve().parents[1]
#: the synthetic data set: class sub-folders, images in each
CLASSES, PER_CLASS = 10, 16
#: ``--smoke``: (classes, images per class, batch size)
SMOKE = (2, 4, 4)


@dataclass(frozen=True)
class Family:
    """A network family as a shipped recipe trains it: ``name`` (its G and D), the recipe, the
    overrides that pick the networks, those that shrink them for ``--smoke``, and whether it is
    class-conditional."""

    name: str
    recipe: str
    sets: tuple[str, ...]
    tiny: tuple[str, ...]
    conditional: bool = False


_DCGAN_TINY = ("generator.params.widths=[16, 8, 8]", "discriminator.params.widths=[8, 8, 16]")
_RESNET_TINY = ("generator.params.ch=2", "discriminator.params.ch=2")
_STYLEGAN2_TINY = tuple(
    f"{net}.params.{key}" for net in ("generator", "discriminator") for key in ("channel_base=256", "channel_max=8")
) + ("generator.params.latent_dim=16", "generator.params.w_dim=16")
_CDCGAN = ("generator.name=cdcgan", "discriminator.name=cdcgan")

#: each family: its plain variant, then its class-conditional one
FAMILIES = {
    "dcgan": (
        Family("dcgan", "folder_dcgan", (), _DCGAN_TINY),
        Family("cdcgan", "folder_dcgan", _CDCGAN, _DCGAN_TINY, conditional=True),
    ),
    "resnet": (
        Family("resnet", "cifar10_resnet", (), _RESNET_TINY),
        Family("cresnet", "cifar10_resnet_cond", (), _RESNET_TINY, conditional=True),
    ),
    "stylegan2": (
        Family("stylegan2", "cifar10_stylegan2", (), _STYLEGAN2_TINY),
        Family("cstylegan2", "cifar10_cstylegan2", (), _STYLEGAN2_TINY, conditional=True),
    ),
}


@dataclass(frozen=True)
class Images:
    """A folder of synthetic training images: ``classes`` sub-folders of square PNGs."""

    folder: Path
    side: int
    channels: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W)"""
        return (self.channels, self.side, self.side)

    @property
    def label(self) -> str:
        """``3x32x32``: the images as the table names them."""
        return "x".join(map(str, self.shape))


def write_images(folder: Path, side: int, channels: int, classes: int, per_class: int) -> Images:
    """``classes`` sub-folders ``c0``, ``c1``, ... of ``per_class`` PNGs each, side x side, grey
    or RGB, of seeded uniform noise."""
    rng = np.random.default_rng(0)
    shape = (side, side) if channels == 1 else (side, side, 3)
    for k in range(classes):
        (folder / f"c{k}").mkdir(parents=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / f"c{k}" / f"{i:03d}.png")
    return Images(folder, side, channels)


@functools.cache
def registry():
    """The installed plugins' registry, loaded once."""
    from ganfw.plugins import load_registry

    return load_registry()


def load_family_recipe(family: Family, images: Images, smoke: bool, sets: list[str]):
    """The family's recipe training on all of ``images`` (nothing held out; the class
    sub-folders as labels only when the family is conditional), then under ``smoke`` the tiny
    widths and batch, then ``sets``."""
    from ganfw.recipe import load_recipe

    labels = "auto" if family.conditional else "none"
    data = (
        f'data={{name = "image-folder", params = {{path = {json.dumps(str(images.folder))}, '
        f'image_size = {images.side}, channels = {images.channels}, held_out = 0.0, labels = "{labels}"}}}}'
    )
    tiny = [*family.tiny, f"train.batch_size={SMOKE[2]}"] if smoke else []
    return load_recipe(REPO / "recipes" / f"{family.recipe}.toml", registry(), [data, *family.sets, *tiny, *sets])


def schedule_period(recipe) -> int:
    """Steps per G update: ``n`` for ``n-critic``, 1 for ``alternating``."""
    if recipe.schedule.ref == "n-critic":
        return recipe.schedule.params.n
    if recipe.schedule.ref == "alternating":
        return 1
    raise SystemExit(f"{recipe.path}: the plain loop has no {recipe.schedule.ref!r} schedule")


def plain_objective(recipe) -> tuple[str, tuple[float, int] | None]:
    """The recipe's loss as the plain loop writes it: the base loss's name, and R1's (gamma,
    every) when the recipe adds it (``r1``, or ``path-length`` with its weight 0 around ``r1``)."""
    choice = recipe.loss
    if choice.ref == "path-length":
        if choice.params.weight:
            raise SystemExit(f"{recipe.path}: the plain loop has no path-length penalty (--set loss.params.weight=0)")
        choice = choice.params.base
    r1 = None
    if choice.ref == "r1":
        r1, choice = (choice.params.gamma, choice.params.every), choice.params.base
    if choice.ref not in LOSSES:
        raise SystemExit(f"{recipe.path}: the plain loop has no {choice.ref!r} loss")
    return choice.ref, r1


def non_saturating(real: Tensor | None, fake: Tensor) -> Tensor:
    """D's loss (``real`` logits (B,) given) or G's (``real`` None): BCE on logits."""
    if real is None:
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))
    return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + F.binary_cross_entropy_with_logits(
        fake, torch.zeros_like(fake)
    )


def hinge(real: Tensor | None, fake: Tensor) -> Tensor:
    """D's hinge loss (``real`` logits (B,) given) or G's (``real`` None): ``-mean(fake)``."""
    if real is None:
        return -fake.mean()
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


LOSSES = {"non-saturating": non_saturating, "hinge": hinge}


class PlainLoop:
    """The straightforward PyTorch training loop of a recipe's networks: ``step()`` is one G
    update (``period`` steps: D's update on each, G's after the last), fp32, ``DataLoader`` batches
    (B, C, H, W) in [-1, 1] of the images ``ImageFolder`` decoded."""

    def __init__(self, recipe, images: Images, device: torch.device):
        from torchvision import datasets, transforms

        c = images.channels
        grey = [transforms.Grayscale(1)] if c == 1 else []
        to_tensor = [transforms.ToTensor(), transforms.Normalize((0.5,) * c, (0.5,) * c)]
        folder = datasets.ImageFolder(str(images.folder), transform=transforms.Compose(grey + to_tensor))
        decoded = torch.utils.data.TensorDataset(
            torch.stack([x for x, _ in folder]), torch.tensor(folder.targets)
        )  # decoded once, held in memory as torchvision's CIFAR-10 holds its images
        self.batch, self.device, self.classes = recipe.train.batch_size, device, len(folder.classes)
        self.loader = torch.utils.data.DataLoader(decoded, batch_size=self.batch, shuffle=True, drop_last=True)
        self.batches = iter(self.loader)
        torch.manual_seed(recipe.train.seed)
        self.G = self._network(recipe.generator, images.shape).to(device)
        self.D = self._network(recipe.discriminator, images.shape).to(device)
        self.opt_g, self.opt_d = (
            torch.optim.Adam(net.parameters(), lr=o.lr, betas=tuple(o.betas), eps=o.eps)
            for net, o in ((self.G, recipe.optim["generator"]), (self.D, recipe.optim["discriminator"]))
        )
        name, self.r1 = plain_objective(recipe)
        self.loss, self.period, self.d_updates = LOSSES[name], schedule_period(recipe), 0
        decays = [c.params.decay for c in recipe.callbacks if c.ref == "ema"]
        self.ema_decay = decays[0] if decays else None
        self.ema = None
        if self.ema_decay is not None:
            self.ema = self._network(recipe.generator, images.shape).to(device).eval().requires_grad_(False)
            self.ema.load_state_dict(self.G.state_dict())

    def _network(self, choice, shape: tuple[int, int, int]) -> nn.Module:
        """G or D from the registry's factory; a conditional one for this data's classes."""
        return choice.build(image_shape=shape, **({"num_classes": self.classes} if choice.conditional else {}))

    def next_batch(self) -> tuple[Tensor, Tensor]:
        """Images (B, C, H, W) and labels (B,), starting a new shuffle when one runs out."""
        try:
            images, labels = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            images, labels = next(self.batches)
        return images.to(self.device), labels.to(self.device)

    def call(self, net: nn.Module, x: Tensor, labels: Tensor) -> Tensor:
        """``net(x)``, with the labels when it is conditional."""
        return net(x, labels) if net.num_classes else net(x)

    def step(self) -> None:
        for i in range(self.period):
            real, labels = self.next_batch()
            z = torch.randn(self.batch, self.G.latent_dim, device=self.device)
            fake_labels = torch.randint(self.classes, (self.batch,), device=self.device)
            train_g = i == self.period - 1
            with torch.set_grad_enabled(train_g):
                fake = self.call(self.G, z, fake_labels)
            self.d_step(real, labels, fake.detach(), fake_labels)
            if train_g:
                g_loss = self.loss(None, self.call(self.D, fake, fake_labels))
                self.opt_g.zero_grad(set_to_none=True)
                g_loss.backward(inputs=list(self.G.parameters()))
                self.opt_g.step()
            self.ema_step()

    def d_step(self, real: Tensor, labels: Tensor, fake: Tensor, fake_labels: Tensor) -> None:
        """D's update on (B, C, H, W) real and generated images, with R1 when it is due."""
        d_loss = self.loss(self.call(self.D, real, labels), self.call(self.D, fake, fake_labels))
        if self.r1 is not None and self.d_updates % self.r1[1] == 0:
            gamma, every = self.r1
            x = real.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.call(self.D, x, labels).sum(), x, create_graph=True)
            d_loss = d_loss + every * gamma / 2 * grad.square().sum(dim=(1, 2, 3)).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.d_updates += 1

    @torch.no_grad()
    def ema_step(self) -> None:
        """The EMA of G's weights moves toward G; its buffers are G's."""
        if self.ema is None:
            return
        for mine, theirs in zip(self.ema.parameters(), self.G.parameters()):
            mine.lerp_(theirs, 1.0 - self.ema_decay)
        for mine, theirs in zip(self.ema.buffers(), self.G.buffers()):
            mine.copy_(theirs)


class GanfwLoop:
    """ganfw's training step on a recipe, ``period`` steps per ``step()`` (one G update)."""

    def __init__(self, recipe, run_dir: Path, device: torch.device):
        self.one, self.period = trainer_step(recipe, run_dir, device), schedule_period(recipe)

    def step(self) -> None:
        for _ in range(self.period):
            self.one()


def time_family(family: Family, images: Images, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Median seconds per step of the plain loop (``plain``) and of ganfw (``ganfw``, the
    recipe with ``FAST_PATH``) for ``family`` on ``images``; the batch size (``batch``)."""
    recipe = load_family_recipe(family, images, args.smoke, args.set)
    fast = load_family_recipe(family, images, args.smoke, FAST_PATH + args.set)
    with tempfile.TemporaryDirectory(prefix="ganfw-families-") as run_dir:
        loops = {"plain": PlainLoop(recipe, images, device), "ganfw": GanfwLoop(fast, Path(run_dir), device)}
        median = time_interleaved(loops, args, device)
    period = loops["ganfw"].period
    return {"plain": median["plain"] / period, "ganfw": median["ganfw"] / period, "batch": recipe.train.batch_size}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", nargs="+", choices=list(FAMILIES), default=list(FAMILIES), help="which families")
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 64], help="sides of the RGB images (px)")
    parser.add_argument("--grey", action="store_true", help="also 28x28 grey images (Fashion-MNIST's shape)")
    parser.add_argument("--conditional", action="store_true", help="also each family's class-conditional variant")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=1, help="timed G updates per round and side")
    parser.add_argument("--set", action="append", default=[], help="recipe override for both sides (repeatable)")
    parser.add_argument("--smoke", action="store_true", help="a few seconds, tiny networks: check that it runs")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats, args.steps = 1, 1
    return args


def image_sets(args: argparse.Namespace, root: Path) -> list[Images]:
    """The synthetic image folders below ``root``: RGB at each of ``--sizes``, grey at 28."""
    classes, per_class = SMOKE[:2] if args.smoke else (CLASSES, PER_CLASS)
    shapes = [(side, 3) for side in args.sizes] + ([(28, 1)] if args.grey else [])
    return [write_images(root / f"{c}x{s}", s, c, classes, per_class) for s, c in shapes]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    from ganfw.precision import resolve_precision

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    options = FAST_PATH + args.set
    precision = [s.split("=", 1)[1] for s in options if s.startswith("train.precision=")][-1]
    print(machine_line(device))
    print(
        f"device: {device}, {args.repeats} rounds x {args.steps} G updates per side, "
        f"ganfw options: {' '.join(options)}; {resolve_precision(precision.strip(chr(34)), device).line()}"
    )
    print("| family | recipe | images | batch | plain s/step | ganfw s/step | speedup |")
    print("|---|---|---|---:|---:|---:|---:|", flush=True)
    families = [f for name in args.families for f in FAMILIES[name][: 2 if args.conditional else 1]]
    speedups: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="ganfw-families-data-") as root:
        sets = image_sets(args, Path(root))
        for family in families:
            for images in sets:
                t = time_family(family, images, args, device)
                speedup = t["plain"] / t["ganfw"]
                speedups.setdefault(family.name, []).append(f"{speedup:.2f} at {images.label}")
                print(
                    f"| {family.name} | {family.recipe} | {images.label} | {t['batch']} | "
                    f"{t['plain']:.4f} | {t['ganfw']:.4f} | {speedup:.2f} |",
                    flush=True,
                )
    for name, found in speedups.items():
        print(f"{name}: speedup {', '.join(found)}")


if __name__ == "__main__":
    main()
