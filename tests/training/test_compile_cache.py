"""``train.compile`` keeps torch's inductor cache apart per ``ATEN_CPU_CAPABILITY``: kernels
compiled natively and read back with torch held to AVX2 (as docs/speed.md's AVX2 checks do on
an AVX-512 machine) computed garbage and corrupted memory."""

from __future__ import annotations

import os
import subprocess
import sys

# The generator's last layer of the MNIST DCGAN recipes: a 1-channel 5x5 stride-2 transposed
# convolution and tanh, in a training graph; prints the largest difference from eager mode.
COMPARE = """
import torch
import torch._dynamo  # as a trainer does: torch then sets TORCHINDUCTOR_CACHE_DIR to its default
from torch import nn
from ganfw.training.wrapping import compile_module

torch.manual_seed(0)
net = nn.Sequential(nn.ConvTranspose2d(4, 1, 5, 2, bias=False), nn.Tanh())
x = torch.randn(16, 4, 14, 14, requires_grad=True)
print(float((compile_module(net)(x) - net(x)).abs().max()))
"""


def compiled_difference(tmp_path, capability: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCHINDUCTOR_CACHE_DIR", "ATEN_CPU_CAPABILITY")}
    env.update(TMPDIR=str(tmp_path), OMP_NUM_THREADS="1")  # inductor's default cache: $TMPDIR/torchinductor_$USER
    if capability:
        env["ATEN_CPU_CAPABILITY"] = capability
    done = subprocess.run([sys.executable, "-c", COMPARE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return float(done.stdout.strip().splitlines()[-1])


def test_a_run_held_to_avx2_does_not_read_kernels_compiled_natively(tmp_path):
    assert compiled_difference(tmp_path, None) < 1e-5
    assert compiled_difference(tmp_path, "avx2") < 1e-5  # had read the native kernels: 1e6, NaN or a crash
    assert list(tmp_path.glob("torchinductor_*/capability-avx2"))
