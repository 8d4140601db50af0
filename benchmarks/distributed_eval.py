"""Training-time evaluation on one process and on several: does the wall time divide?

Under torchrun every rank draws and embeds its share of the evaluation's images and rank 0 scores
them (docs/scaling.md). This script evaluates the same generator (the shipped DCGAN's G, as
built for MNIST: untrained weights draw as fast as trained ones) with FID and KID on
``--images`` images, once on one process and once on ``--processes`` under ``torchrun --standalone``, the
reference features cached beforehand, and prints each wall time and their ratio. On a CPU the
processes share the cores one process's threads used (expect about 1x there); on N GPUs, one
per rank, the ratio is what N GPUs buy.

    python benchmarks/distributed_eval.py --data ../shared/data            # 10,000 images, 2 processes
    python benchmarks/distributed_eval.py --data ../shared/data --processes 4 --images 50000
    python benchmarks/distributed_eval.py --smoke --data ../shared/data    # seconds: the same lines

Output: ``1 process: X s``, ``N processes: Y s``, then ``speedup: X/Y``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

#: ``--smoke``: images to evaluate (the same code path, tiny).
SMOKE_N = 200


def evaluate_here(n: int, out: Path) -> None:
    """One process's part (alone, or one rank under torchrun): time the evaluation, rank 0 writes it."""
    from ganfw.distributed import join, leave, ranks_from_env
    from ganfw.evaluation.datasets import from_argument
    from ganfw.evaluation.evaluate import evaluate_generator
    from ganfw.plugins import load_registry

    ranks, registry = ranks_from_env(), load_registry()
    device = torch.device("cuda", ranks.local_rank) if torch.cuda.is_available() else torch.device("cpu")
    join(ranks, device, 600)
    spec = registry.resolve("generator", "dcgan").spec
    torch.manual_seed(0)
    generator = spec.load_factory()(spec.default_params(), image_shape=(1, 28, 28)).to(device)
    data = from_argument("mnist", registry)
    start = time.perf_counter()
    evaluation = evaluate_generator(generator, ["fid", "kid"], n, registry, data, seed=0, ranks=ranks)
    seconds = time.perf_counter() - start
    if evaluation is not None:
        out.write_text(json.dumps({"seconds": seconds, "fid": evaluation.scores["fid"], "world": ranks.world}))
    leave(together=True)


def launch(n: int, processes: int, out: Path) -> dict[str, float]:
    """Run :func:`evaluate_here` on ``processes`` processes (1: plainly) and read rank 0's result."""
    worker = [str(Path(__file__).resolve()), "--worker", "--images", str(n), "--out", str(out)]
    command = [sys.executable, *worker]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={processes}", *worker]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    if proc.returncode:
        sys.exit(f"the evaluation on {processes} process(es) failed:\n{proc.stderr[-3000:]}")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MNIST's data root (default: GANFW_DATA, then the user cache)")
    parser.add_argument("--images", type=int, default=10_000, help="images to evaluate")
    parser.add_argument("--processes", type=int, default=2, help="processes of the shared evaluation")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_N} images: checks that it works")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.data:
        os.environ["GANFW_DATA"] = str(Path(args.data).absolute())
    n = SMOKE_N if args.smoke else args.images
    if args.worker:
        evaluate_here(n, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if not args.smoke:  # cache the reference features first: both timed sides then read them
            launch(n, 1, Path(tmp) / "warm.json")
        alone = launch(n, 1, Path(tmp) / "alone.json")
        shared = launch(n, args.processes, Path(tmp) / "shared.json")
    print(f"images: {n}, FID {alone['fid']:.4f} alone, {shared['fid']:.4f} shared")
    print(f"1 process: {alone['seconds']:.2f} s")
    print(f"{shared['world']} processes: {shared['seconds']:.2f} s")
    print(f"speedup: {alone['seconds'] / shared['seconds']:.2f}")


if __name__ == "__main__":
    main()
