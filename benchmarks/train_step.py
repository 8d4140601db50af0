"""Time the seed recipe's DCGAN training step in ganfw against a plain PyTorch loop.

Both sides train the same networks (the course's DCGAN, batch 256, BCE on logits, Adam 1e-4,
simultaneous update). The plain loop is the straightforward code a user would write: fp32, a
torchvision dataset behind a DataLoader, two discriminator passes, one optimiser step each.
ganfw runs the seed recipe in its ``auto`` configuration: ``train.precision = "auto"`` (bf16
only where the machine runs it natively and faster, else fp32) and the speed options that pay
(``--set`` any recipe key to change them). Repeats are interleaved (plain, ganfw, plain, ...) so
that both see the same machine state.

    python benchmarks/train_step.py --data ../shared/data
    python benchmarks/train_step.py --data ../shared/data --set train.precision=fp32
    python benchmarks/train_step.py --data ../shared/data --lever train.channels_last=false
    python benchmarks/train_step.py --data ../shared/data --smoke    # seconds: the same lines, tiny

``--smoke`` runs the same measurement on the first 64 images at batch 16, one round of one
step (and one step for each side's peak memory): it checks that the benchmark works, its
numbers mean nothing.

Prints the machine (CPU model, vector units as torch uses them, threads), median step times,
the ratio, peak memory (each side measured in a fresh subprocess), a row per ``--lever``, the
achieved FLOP rate against the CPU's estimated peaks, and last a line ``speedup: X.XX``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ganfw.contracts import Batch

REPO = Path(__file__).resolve().parents[1]
SEED_RECIPE = REPO / "recipes" / "mnist_dcgan_seed.toml"
#: ganfw's configuration: the levers that pay on both CPU kinds measured (docs/speed.md); the
#: fused D pass and torch.compile made the step slower on both, fast_dropout is on by default.
FAST_PATH = ["train.precision=auto", "train.channels_last=true"]
BATCH = 256
#: ``--smoke``: (batch size, images kept, rounds, timed steps, steps of the peak-memory runs).
SMOKE = (16, 64, 1, 1, 1)


class PlainLoop:
    """The straightforward PyTorch training step: DataLoader batches, fp32, two D passes."""

    def __init__(self, data_root: str, device: torch.device, batch: int, limit: int | None):
        import torchvision
        from torchvision import transforms

        from ganfw_plugins.dcgan import DCGANDiscriminatorParams, DCGANGeneratorParams
        from ganfw_plugins.dcgan.models import DCGANDiscriminator, DCGANGenerator

        dataset = torchvision.datasets.MNIST(
            data_root,
            train=True,
            download=False,
            transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]),
        )
        if limit is not None:
            dataset = torch.utils.data.Subset(dataset, range(min(limit, len(dataset))))
        self.loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True)
        self.batches = iter(self.loader)
        self.device, self.batch = device, batch
        self.G = DCGANGenerator(DCGANGeneratorParams(), image_shape=(1, 28, 28)).to(device)
        self.D = DCGANDiscriminator(DCGANDiscriminatorParams(), image_shape=(1, 28, 28)).to(device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-7)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-7)

    def next_batch(self) -> torch.Tensor:
        """The next (B, 1, 28, 28) batch in [-1, 1], starting a new shuffle when one runs out."""
        try:
            images, _ = next(self.batches)
        except StopIteration:
            self.batches = iter(self.loader)
            images, _ = next(self.batches)
        return images.to(self.device)

    def step(self) -> None:
        real = self.next_batch()
        z = torch.randn(self.batch, 100, device=self.device)
        fake = self.G(z)
        real_out, fake_out = self.D(real), self.D(fake)
        g_loss = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
        d_loss = F.binary_cross_entropy_with_logits(
            real_out, torch.ones_like(real_out)
        ) + F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
        self.opt_g.zero_grad()
        self.opt_d.zero_grad()
        g_grads = torch.autograd.grad(g_loss, list(self.G.parameters()), retain_graph=True)
        d_grads = torch.autograd.grad(d_loss, list(self.D.parameters()))
        for p, g in zip(self.G.parameters(), g_grads):
            p.grad = g
        for p, g in zip(self.D.parameters(), d_grads):
            p.grad = g
        self.opt_g.step()
        self.opt_d.step()


def trainer_step(recipe, run_dir: Path, device: torch.device) -> Callable[[], None]:
    """One ganfw training step per call, on the batches of the Trainer's own data source (the
    dataset held on ``device``: epoch after epoch, (B, C, H, W) in [-1, 1]).

    The one place this benchmark reaches inside ``ganfw.training`` (a step has no public
    surface): it builds the Trainer with ``ganfw.engine.assemble(recipe, RunDir, reporter)``, reads
    the data source ``trainer.parts.data.batches(epoch, start, stop)`` and the epoch length
    ``trainer.clock.steps_per_epoch``, and calls the private ``trainer._train_step(batch)``. Adapt
    this function when those change.
    """
    from ganfw.engine import assemble
    from ganfw.progress import SilentReporter
    from ganfw.rundir import RunDir

    trainer = assemble(recipe, RunDir(run_dir), SilentReporter())
    steps = trainer.clock.steps_per_epoch

    def batches() -> Iterator[Batch]:
        for epoch in itertools.count():
            yield from trainer.parts.data.batches(epoch, 0, steps)

    stream = batches()
    return lambda: trainer._train_step(next(stream))


class GanfwLoop:
    """ganfw's own training step on the seed recipe (data resident as one tensor)."""

    def __init__(self, args: argparse.Namespace, overrides: list[str], run_dir: Path, device: torch.device):
        from ganfw.plugins import load_registry
        from ganfw.precision import resolve_precision
        from ganfw.recipe import load_recipe

        sets = [f"data.root={json.dumps(args.data)}", *sizes(args), *overrides]
        recipe = load_recipe(SEED_RECIPE, load_registry(), sets)
        self.step = trainer_step(recipe, run_dir, device)
        #: the precision the run resolved (``resolve_precision`` caches it per machine)
        self.precision_line = resolve_precision(recipe.train.precision, device).line()


def sizes(args: argparse.Namespace) -> list[str]:
    """The recipe overrides that give ganfw the plain loop's batch size and images."""
    return [f"train.batch_size={args.batch}"] + ([] if args.limit is None else [f"data.limit={args.limit}"])


def build(variant: str, args: argparse.Namespace, device: torch.device):
    if variant == "plain":
        return PlainLoop(args.data, device, args.batch, args.limit)
    return GanfwLoop(args, FAST_PATH + args.set, Path("/tmp/ganfw-bench-run"), device)


def peak_memories_mib(args: argparse.Namespace) -> dict[str, float]:
    """Peak memory of each side in a fresh process running ``args.memory_steps`` steps (peak RSS
    on the CPU, torch and its libraries included; peak allocated memory on CUDA). The two
    processes run at the same time: each one's peak is its own."""
    procs = {}
    for variant in ("plain", "ganfw"):
        cmd = [sys.executable, __file__, "--data", args.data, "--only", variant, "--steps", str(args.memory_steps)]
        cmd += ["--batch", str(args.batch)] + ([] if args.limit is None else ["--limit", str(args.limit)])
        for s in args.set:
            cmd += ["--set", s]
        procs[variant] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks = {}
    for variant, proc in procs.items():
        out, err = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"the {variant} side's memory run failed (exit {proc.returncode}): {err.strip()[-2000:]}")
        peaks[variant] = float(out.strip().splitlines()[-1])
    return peaks


def measure_only(args: argparse.Namespace, device: torch.device) -> None:
    loop = build(args.only, args, device)
    for _ in range(args.steps):
        loop.step()
    if device.type == "cuda":
        print(torch.cuda.max_memory_allocated(device) / 2**20)
    else:  # VmHWM: this process's peak RSS (ru_maxrss would include the parent's, kept across exec)
        status = Path("/proc/self/status").read_text()
        print(int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024)


def step_flops(loop: GanfwLoop) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        loop.step()
    return counter.get_total_flops()


def machine_line(device: torch.device) -> str:
    """The machine the numbers come from: CPU model, its vector units as torch uses them, threads."""
    from ganfw.precision import cpu_flags, cpu_model, cpu_vector_isa

    capability = torch.backends.cpu.get_cpu_capability()
    line = (
        f"machine: {cpu_model()}, vector units {cpu_vector_isa(cpu_flags(), capability)} "
        f"(torch capability {capability}), {torch.get_num_threads()} threads"
    )
    if device.type == "cuda":
        line += f"; {torch.cuda.get_device_name(device)}"
    return line


def cpu_peak_gflops() -> dict[str, float]:
    """Estimated peaks of this CPU as torch drives it: threads x clock x FLOPs per cycle and
    core - two FMA units of 8 (AVX2) or 16 (AVX-512) fp32 lanes; for bf16, two AVX512-BF16 dot
    product units (128 FLOP/cycle) or AMX (1024 FLOP/cycle)."""
    from ganfw.precision import cpu_flags

    mhz = 0.0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    flags = cpu_flags() or frozenset()
    avx512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")
    ghz_cores = torch.get_num_threads() * mhz / 1e3
    peaks = {
        "fp32 (AVX-512 FMA, 2 units)" if avx512 else "fp32 (AVX2 FMA, 2 units)": ghz_cores * (64 if avx512 else 32)
    }
    if avx512 and "amx_bf16" in flags:
        peaks["bf16 (AMX)"] = ghz_cores * 1024
    elif avx512 and "avx512_bf16" in flags:
        peaks["bf16 (AVX512-BF16, 2 units)"] = ghz_cores * 128
    return peaks


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("GANFW_DATA", "../shared/data"), help="MNIST root")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round and variant")
    parser.add_argument("--set", action="append", default=[], help="extra recipe override for the ganfw side")
    parser.add_argument(
        "--lever",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="also time ganfw with this one option changed (repeatable; a row each)",
    )
    parser.add_argument("--smoke", action="store_true", help="a few seconds on tiny data: check that it runs")
    parser.add_argument("--only", choices=["plain", "ganfw"], help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=BATCH, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--memory-steps", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.batch, args.limit, args.repeats, args.steps, args.memory_steps = SMOKE
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if args.only:
        measure_only(args, device)
        return

    loops = {"plain": build("plain", args, device), "ganfw": build("ganfw", args, device)}
    for i, lever in enumerate(args.lever):  # the ganfw configuration with one option changed
        loops[f"ganfw {lever}"] = GanfwLoop(
            args, FAST_PATH + args.set + [lever], Path(f"/tmp/ganfw-bench-lever{i}"), device
        )
    median = time_interleaved(loops, args, device)
    print(machine_line(device))
    print(
        f"device: {device}, batch {args.batch}, {args.repeats} rounds x {args.steps} steps, "
        f"ganfw options: {' '.join(FAST_PATH + args.set)}; {loops['ganfw'].precision_line}"
    )
    peaks = peak_memories_mib(args)
    for name in ("plain", "ganfw"):
        print(
            f"{name:>6}: median {median[name] * 1e3:8.1f} ms/step  {args.batch / median[name]:7.1f} images/s  "
            f"peak memory {peaks[name]:7.0f} MiB"
        )
    for name in list(loops)[2:]:
        print(
            f"  lever: {name}: median {median[name] * 1e3:8.1f} ms/step, "
            f"{median['plain'] / median[name]:.2f}x plain ({median['ganfw'] / median[name]:.2f}x ganfw)"
        )
    flops = step_flops(loops["ganfw"])
    rate = flops / median["ganfw"] / 1e9
    print(f"FLOPs per step: {flops / 1e9:.2f} GFLOP; ganfw achieves {rate:.1f} GFLOP/s")
    if device.type == "cpu":
        for label, peak in cpu_peak_gflops().items():
            print(f"  = {rate / peak:.1%} of the estimated {label} peak of {peak:.0f} GFLOP/s")
    print(f"speedup: {median['plain'] / median['ganfw']:.2f}")


def time_interleaved(loops: dict, args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Median seconds per step of each loop, over ``args.repeats`` rounds that take
    ``args.steps`` steps of every loop in turn (after two warm-up steps each)."""
    for loop in loops.values():  # warm-up: allocator, autotuning, first-call overheads
        for _ in range(2):
            loop.step()
    times: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(args.repeats):
        for name, loop in loops.items():
            for _ in range(args.steps):
                if device.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                loop.step()
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


if __name__ == "__main__":
    main()
