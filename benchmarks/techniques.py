"""The effect of a technique at equal training time: each variant of a recipe trains for the same
wall-clock budget (Ctrl-C at the budget saves a checkpoint), then its sampling generator (the EMA
where a run has one) is scored on 10,000 images.

    python benchmarks/techniques.py recipes/mnist_quick.toml --budget 60 --data ../shared/data \
        --variant baseline= --variant ema='callbacks=[{name="ema"}]' \
        --variant diffaugment='augment={name="diffaugment"}' --variant relativistic='loss={name="relativistic"}'

With ``--epochs N`` every variant trains N epochs instead (equal steps), and the table gives
the seconds each took. A variant is ``NAME=OVERRIDE;OVERRIDE;...`` (each a ``--set`` of ``ganfw run``; empty: the recipe
as shipped). Every variant runs in turn on the same machine, one process at a time, and the
table gives the training seconds each really had. Prints the machine line first: numbers are
only comparable on one machine kind.
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


def train_for(
    recipe: str, overrides: list[str], out: Path, budget: float, data: str, epochs: int | None
) -> tuple[float, int]:
    """Run ``ganfw run`` until it finishes or ``budget`` seconds have passed (then Ctrl-C, which
    checkpoints); return the seconds of training of its last complete epoch and its steps."""
    sets = [f"data.root={json.dumps(data)}", "eval.every=0", f"train.epochs={epochs or 1000}", *overrides]
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


def score(run: Path, metrics: str, data: str) -> dict[str, float]:
    """The run's scores on 10,000 samples of its sampling generator (``ganfw evaluate``)."""
    out = run / "scores.json"
    cmd = [
        sys.executable,
        "-m",
        "ganfw",
        "evaluate",
        str(run),
        "--n",
        "10000",
        "--metrics",
        metrics,
        "--json",
        str(out),
        "--data",
        data,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"{run}: ganfw evaluate failed: {result.stderr.strip()}")
    return json.loads(out.read_text())["scores"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipe")
    parser.add_argument("--variant", action="append", required=True, metavar="NAME=SETS")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of training per variant")
    parser.add_argument("--data", required=True, help="data root (MNIST/raw/ below it)")
    parser.add_argument("--metrics", default="fid,precision-recall", help="metrics scored at the end")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of for --budget seconds")
    parser.add_argument("--runs", type=Path, help="keep the runs here (default: a temporary folder)")
    args = parser.parse_args()
    print(f"# {machine_line(torch.device('cpu'))}; {describe_machine('auto', 'auto')}")
    length = f"{args.epochs} epochs" if args.epochs else f"{args.budget:.0f} s of training"
    print(f"# {args.recipe}, {length} per variant, scored on 10,000 samples\n")
    root = args.runs or Path(tempfile.mkdtemp(prefix="techniques-"))
    rows = []
    for variant in args.variant:
        name, _, sets = variant.partition("=")
        seconds, steps = train_for(
            args.recipe, [s for s in sets.split(";") if s], root / name, args.budget, args.data, args.epochs
        )
        rows.append((name, steps, seconds, score(root / name, args.metrics, args.data)))
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
