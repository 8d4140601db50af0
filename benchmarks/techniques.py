"""The effect of a technique at equal training time: each variant of a recipe trains for the same
wall-clock budget (Ctrl-C at the budget saves a checkpoint), then its sampling generator (the EMA
where a run has one) is scored on 10,000 images (``--n``), as ``ganfw evaluate`` scores it.

    python benchmarks/techniques.py recipes/mnist_quick.toml --budget 60 --data ../shared/data \
        --variant baseline= --variant ema='callbacks=[{name="ema"}]' \
        --variant diffaugment='augment={name="diffaugment"}' --variant relativistic='loss={name="relativistic"}'

With ``--epochs N`` every variant trains N epochs instead (equal steps), and the table gives
the seconds each took. A variant is ``NAME=OVERRIDE;OVERRIDE;...`` (each a ``--set`` of ``ganfw run``; empty: the recipe
as shipped). Every variant runs in turn on the same machine, one process at a time, and the
table gives the training seconds each really had. Prints the machine line first: numbers are
only comparable on one machine kind.

``--smoke`` trains each variant one epoch on 256 images and scores 200 samples (seconds a
variant, the same lines): it checks that the benchmark works, its numbers mean nothing.

    python benchmarks/techniques.py recipes/mnist_quick.toml --data ../shared/data --smoke \
        --variant baseline= --variant ema='callbacks=[{name="ema"}]'
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from train_step import machine_line

from ganfw.artifacts import read_jsonl
from ganfw.device import describe_machine

#: ``--smoke``: (epochs, images scored, overrides that every variant starts from).
SMOKE = (1, 200, ["data.limit=256"])


def train_for(
    recipe: str, overrides: list[str], out: Path, budget: float, data: str, epochs: int | None
) -> tuple[float, int]:
    """Run ``ganfw run`` until it finishes or ``budget`` seconds have passed (then Ctrl-C, which
    checkpoints); return the seconds of training of its last complete epoch and its steps."""
    # The benchmark keeps the time (a recipe's own train.budget is lifted).
    sets = [f"data.root={json.dumps(data)}", "eval.every=0", f"train.epochs={epochs or 1000}", 'train.budget=""']
    sets += overrides
    cmd = [sys.executable, "-m", "ganfw", "run", recipe, "--out", str(out), "--quiet"]
    for item in sets:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        proc.wait(timeout=None if epochs else budget + 20)  # + start-up; training time is read from the log
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        proc.wait()
    if not list((out / "checkpoints").glob("*.safetensors")):
        raise SystemExit(f"{out}: no checkpoint; ganfw run said: {proc.stderr.read()[-2000:]}")
    epochs = [r for r in read_jsonl(out / "metrics.jsonl") if r.get("event") == "epoch"]
    steps = [r for r in read_jsonl(out / "metrics.jsonl") if "event" not in r]
    return epochs[-1]["elapsed_s"] if epochs else 0.0, steps[-1]["step"] if steps else 0


def score(run: Path, metrics: str, data: str, n: int) -> dict[str, float]:
    """The run's scores on ``n`` samples of its sampling generator, as ``ganfw evaluate RUN --n N
    --metrics METRICS`` scores them (through the Python API, in this process)."""
    from ganfw import api

    return api.score(run, n=n, metrics=metrics.split(","), data_root=data, bootstrap=0).scores


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe")
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=SETS")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training per variant")
    parser.add_argument("--data", required=True, help="data root (MNIST/raw/ below it)")
    parser.add_argument("--metrics", default="fid,precision-recall", help="metrics scored at the end")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of for --budget seconds")
    parser.add_argument("--n", type=int, default=10_000, help="samples scored per variant")
    parser.add_argument("--runs", type=Path, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--smoke", action="store_true", help="seconds a variant, on tiny data: check that it runs")
    args = parser.parse_args()
    args.base = []  # overrides before every variant's own
    if args.smoke:
        args.epochs, args.n, args.base = SMOKE
    return args


def main() -> None:
    args = parse_args()
    print(f"# {machine_line(torch.device('cpu'))}; {describe_machine('auto', 'auto')}")
    length = f"{args.epochs} epochs" if args.epochs else f"{args.budget:.0f} s of training"
    print(f"# {args.recipe}, {length} per variant, scored on {args.n:,} samples\n")
    root = args.runs or Path(tempfile.mkdtemp(prefix="techniques-"))
    rows = []
    for variant in args.variant:
        name, _, sets = variant.partition("=")
        overrides = args.base + [s for s in sets.split(";") if s]
        seconds, steps = train_for(args.recipe, overrides, root / name, args.budget, args.data, args.epochs)
        rows.append((name, steps, seconds, score(root / name, args.metrics, args.data, args.n)))
        print(f"# {name}: {steps} steps, {seconds:.0f} s: {rows[-1][3]}", flush=True)
    keys = list(rows[0][3])
    print("\n| variant | steps | training s | " + " | ".join(keys) + " |")
    print("|---|---:|---:|" + "---:|" * len(keys))
    for name, steps, seconds, scores in rows:
        print(
            f"| {name} | {steps} | {seconds:.0f} | "
            + " | ".join(f"{scores.get(k, float('nan')):.4g}" for k in keys)
            + " |"
        )


if __name__ == "__main__":
    main()
