"""The GPU check: what a new CUDA machine gives ganfw, in a few minutes, one line per check.

    python benchmarks/gpu_check.py --data ../shared/data
    python benchmarks/gpu_check.py --smoke --data ../shared/data     # tiny: checks that it runs

Checks, in order (each prints ``check NAME: ok|skipped|FAILED (seconds): what it saw``):

- ``device``: the device line a run starts with and what ``precision = "auto"`` picks there;
- ``step``: the course's DCGAN step in ganfw against the plain PyTorch loop
  (benchmarks/train_step.py; its ``speedup:``);
- ``quick``: ``mnist_quick`` trained to the end as shipped (``[eval]`` on), then ``ganfw evaluate``:
  its wall time, images per second of the last epoch, FID;
- ``ranks``: two processes under torchrun (nccl; on a single GPU both share it) train one epoch
  and end with the same weights on every rank;
- ``resume``: two epochs straight against one, a ``--resume`` and one more: the same weights, bit
  for bit, on the device.

Without CUDA (as in the test suite's smoke run), ``ranks`` and the device-specific parts say
``skipped: needs CUDA`` and the rest runs on the CPU. ``--smoke`` shortens every run (a slice of
MNIST, one epoch, small evaluations): its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: ``--smoke``: the overrides that shrink every run to seconds.
SMOKE = ["data.limit=512", "train.epochs=1", "eval.n=100", "train.batch_size=64"]


class Check:
    """Runs the checks in a scratch directory and prints one line each."""

    def __init__(self, data: str, smoke: bool, tmp: Path):
        self.data, self.smoke, self.tmp = data, smoke, tmp
        self.env = {**os.environ, "GANFW_DATA": data}
        import torch

        self.cuda = torch.cuda.is_available()
        self.failed = 0

    def run(self, name: str, body: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            outcome = "ok", body()
        except Skipped as e:
            outcome = "skipped", str(e)
        except Exception as e:  # a check that fails is reported, and the others still run
            self.failed += 1
            outcome = "FAILED", " ".join(str(e).split())[-400:]
        print(f"check {name}: {outcome[0]} ({time.perf_counter() - start:.1f} s): {outcome[1]}", flush=True)

    def ganfw(self, *args: str, torchrun: int = 0) -> str:
        """``ganfw ARGS`` (under torchrun on ``torchrun`` processes); its stderr and stdout."""
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun}"] if torchrun else []
        proc = subprocess.run([sys.executable, *launcher, "-m", "ganfw", *args], capture_output=True, text=True,
                              env=self.env)  # fmt: skip
        if proc.returncode:
            raise RuntimeError(f"ganfw {' '.join(args[:2])} exited {proc.returncode}: {proc.stderr[-600:]}")
        return proc.stderr + proc.stdout

    def sets(self, *extra: str) -> list[str]:
        return [a for s in (*(SMOKE if self.smoke else ()), *extra) for a in ("--set", s)]


class Skipped(Exception):
    """A check that cannot run here (it says why)."""


def device(c: Check) -> str:
    out = c.ganfw("check", "mnist_quick")
    return next(line for line in out.splitlines() if "on this machine" in line).partition(": ")[2]


def step(c: Check) -> str:
    args = [sys.executable, str(REPO / "benchmarks" / "train_step.py"), "--data", c.data]
    proc = subprocess.run([*args, *(["--smoke"] if c.smoke else ["--repeats", "3"])], capture_output=True,
                          text=True, env=c.env)  # fmt: skip
    found = re.search(r"^speedup: ([\d.]+)$", proc.stdout, re.M)
    if proc.returncode or not found:
        raise RuntimeError(proc.stderr[-600:] or proc.stdout[-600:])
    return f"the course's step, ganfw against the plain loop: {found.group(1)}x"


def quick(c: Check) -> str:
    run = c.tmp / "quick"
    c.ganfw("run", "mnist_quick", "--out", str(run), "--quiet", *c.sets())
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    epochs = [r for r in records if r.get("event") == "epoch"]
    c.ganfw("evaluate", str(run), "--n", "1000" if c.smoke else "10000", "-m", "fid", "--json", str(c.tmp / "q.json"))
    fid = json.loads((c.tmp / "q.json").read_text())["scores"]["fid"]
    return f"mnist_quick {len(epochs)} epochs in {epochs[-1]['elapsed_s']:.1f} s, {epochs[-1]['images_per_s']:.0f} img/s, FID {fid:.2f}"


def ranks(c: Check) -> str:
    if not c.cuda:
        raise Skipped("needs CUDA (two processes on nccl)")
    run = c.tmp / "ranks"
    c.ganfw("run", "mnist_quick", "--out", str(run), "--quiet", *c.sets("train.epochs=1"), torchrun=2)
    return f"2 processes on nccl trained {run.name}: {len(list((run / 'checkpoints').iterdir()))} checkpoint(s)"


def resume(c: Check) -> str:
    from safetensors.torch import load_file

    straight, split = c.tmp / "straight", c.tmp / "split"
    two = ["train.epochs=2", "eval.every=0", *(["data.limit=512"] if c.smoke else [])]
    c.ganfw("run", "mnist_quick", "--out", str(straight), "--quiet", *[a for s in two for a in ("--set", s)])
    one = [s.replace("train.epochs=2", "train.epochs=1") for s in two]
    c.ganfw("run", "mnist_quick", "--out", str(split), "--quiet", *[a for s in one for a in ("--set", s)])
    c.ganfw("run", "mnist_quick", "--out", str(split), "--resume", "--quiet", *[a for s in two for a in ("--set", s)])
    a, b = (load_file(str(sorted((run / "checkpoints").glob("step_*"))[-1])) for run in (straight, split))
    differ = [k for k in a if not a[k].equal(b[k])]
    if differ:
        raise RuntimeError(f"{len(differ)} tensors differ after the resume, e.g. {differ[:3]}")
    return f"2 epochs straight = 1 + resume + 1, bit for bit ({len(a)} tensors)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.environ.get("GANFW_DATA", "../shared/data"), help="MNIST's data root")
    parser.add_argument("--smoke", action="store_true", help="tiny runs: checks that the script works")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        c = Check(str(Path(args.data).absolute()), args.smoke, Path(tmp))
        for name, body in (("device", device), ("step", step), ("quick", quick), ("ranks", ranks), ("resume", resume)):
            c.run(name, lambda body=body: body(c))
    print(f"checks failed: {c.failed}")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
