"""Running the scripts of benchmarks/ as a user runs them, and reading what they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import PLUGIN_ENV, REPO

BENCHMARKS = REPO / "benchmarks"
NUMBER = r"-?[\d.]+"


def run_benchmark(script: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """``python benchmarks/SCRIPT --smoke ARGS`` run in ``cwd`` on the CPU with one thread (the
    docs' numbers are the CPU's; plugin switches cleared, ``env`` added); its stdout lines, after
    asserting that it exited 0."""
    full_env = {k: v for k, v in os.environ.items() if k not in PLUGIN_ENV}
    full_env |= {"OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""} | (env or {})
    proc = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=300,
    )
    assert proc.returncode == 0, f"{script} --smoke exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    return proc.stdout.splitlines()


def matching(lines: list[str], pattern: str) -> list[re.Match[str]]:
    """The lines that match ``pattern`` from their start to their end."""
    return [m for m in map(re.compile(pattern).fullmatch, lines) if m]


def one(lines: list[str], pattern: str) -> re.Match[str]:
    """The one line matching ``pattern`` whole."""
    found = matching(lines, pattern)
    assert len(found) == 1, f"{len(found)} lines match {pattern!r} in:\n" + "\n".join(lines)
    return found[0]


def tables(lines: list[str]) -> list[list[list[str]]]:
    """Every markdown table of the output, in order: its rows' cells, less the header row."""
    found: list[list[list[str]]] = []
    previous = ""
    for line in lines:
        if line.startswith("|") and not line.startswith("|---"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if previous.startswith("|"):
                found[-1].append(cells)
            else:
                found.append([])  # the header row
        previous = line
    return found
