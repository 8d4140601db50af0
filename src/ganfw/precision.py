"""Which precision a run trains in: ``train.precision = "auto"`` takes the fastest correct one.

    auto   bf16 where the device runs it natively (a CPU with AMX or AVX512-BF16; a CUDA device
           of compute capability 8.0 or newer), fp16 with loss scaling on older CUDA devices,
           fp32 everywhere else
    fp32 | bf16 | fp16
           as asked; a reduced precision with no fast path on the device still runs, with one
           warning that gives its measured slowdown against fp32

A CPU's native support is read from its feature flags (``/proc/cpuinfo``). Where they say
nothing (another OS, another architecture) or cannot tell (vector bf16 without AMX), a timed
probe of one DCGAN layer pair's training step decides (about 0.3 s), cached per machine in
``$XDG_CACHE_HOME/ganfw/precision.json``.

Only :func:`resolve_precision`, :func:`probe_speedup` and :class:`Precision` import torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ganfw.atomic import write_text
from ganfw.errors import UserError
from ganfw.paths import user_cache_dir

if TYPE_CHECKING:
    import torch

REDUCED = ("bf16", "fp16")
#: A reduced precision counts as fast where the probe finds it this much faster than fp32.
FAST_ENOUGH = 1.2


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``train.precision`` resolved to on one device, and why (one line for the user)."""

    requested: str  # auto | fp32 | bf16 | fp16
    name: str  # fp32 | bf16 | fp16
    reason: str
    warning: str | None = None  # an explicit reduced precision without a fast path

    def line(self) -> str:
        if self.requested == "auto":
            return f"precision auto -> {self.name}: {self.reason}"
        return f"precision {self.name} (from the recipe): {self.reason}"

    def where(self, device: torch.device, threads: int) -> str:
        """The line a run starts with: ``device cpu, 2 threads, precision auto -> fp32: ...``."""
        return f"device {device}, {threads} threads, {self.line()}"


# ----------------------------------------------------------------------- CPU features
@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from ``/proc/cpuinfo`` (x86 ``flags``, ARM ``Features``), or
    None where that file does not exist."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what the platform module says."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_vector_isa(flags: frozenset[str] | None, capability: str) -> str:
    """The widest vector instruction set an x86 CPU offers to torch, as users know it: AVX-512
    (with its bf16 units named), AVX2, ...; ``capability`` is torch's
    (``torch.backends.cpu.get_cpu_capability()``, lowered by ``ATEN_CPU_CAPABILITY``)."""
    if not flags or "sse2" not in flags:
        return capability
    if "avx512f" in flags and capability.startswith("AVX512"):
        extras = [name for flag, name in (("avx512_bf16", "BF16"), ("amx_bf16", "AMX")) if flag in flags]
        return "AVX-512" + (f" + {' + '.join(extras)}" if extras else "")
    return {"DEFAULT": "no AVX2"}.get(capability, capability)


def cpu_native(dtype_name: str, flags: frozenset[str] | None, capability: str) -> tuple[bool | None, str]:
    """Whether this CPU trains in ``bf16``/``fp16`` natively and fast for torch: (True, unit)
    for matrix units (AMX), (False, why) where it lacks the instructions, and (None, what it
    has) where only a measurement can tell: vector bf16 alone (AVX512-BF16 without AMX) can
    still lose to fp32 over a whole training step, and flags say nothing off x86.
    The units count only where torch runs its AVX-512 kernels (``capability``)."""
    matrix, vector = {"bf16": ("amx_bf16", "avx512_bf16"), "fp16": ("amx_fp16", "avx512_fp16")}[dtype_name]
    if not flags or "sse2" not in flags:  # not x86, or unknown
        return None, ""
    if capability.startswith("AVX512"):
        if matrix in flags:
            return True, "AMX" if dtype_name == "bf16" else "AMX-FP16"
        if vector in flags:
            return None, vector.upper().replace("_", "-")
    return False, f"this CPU has no native {dtype_name} ({cpu_vector_isa(flags, capability)})"


# ----------------------------------------------------------------------- the timed probe
def _machine_key(device: torch.device, dtype_name: str) -> str:
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    isa = torch.backends.cpu.get_cpu_capability() + "/" + os.environ.get("ONEDNN_MAX_CPU_ISA", "any")
    return f"{device.type}|{name}|{isa}|{torch.get_num_threads()} threads|torch {torch.__version__}|{dtype_name}"


def _measure(device: torch.device, dtype_name: str) -> float:
    """fp32 time / reduced-precision time of one layer pair of a DCGAN's training step - a
    transposed convolution (128 -> 64 channels, 5x5, 7x7 -> 14x14), batch norm, a convolution
    back to 7x7 and a linear layer, forward and backward at batch 64 - timed alternately: above
    1 the reduced precision is faster. (Smaller layers mislead: their time is overhead.) A
    reduced precision 5x slower than fp32 on its first step is not timed further."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1),
        nn.BatchNorm2d(64),
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 5, 2, 2),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(128 * 7 * 7, 1),
    ).to(device)
    x = torch.randn(64, 128, 7, 7, device=device, requires_grad=True)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step(reduced: bool) -> float:
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=reduced):
            out = net(x)
        out.float().square().mean().backward()
        sync()
        return time.perf_counter() - t0

    step(False)  # warm-up: kernel selection, allocator
    fp32, reduced = [step(False)], [step(True)]  # the first reduced step includes its warm-up
    if reduced[0] < 5 * fp32[0]:  # close enough to need a careful look
        for _ in range(4):
            fp32.append(step(False))
            reduced.append(step(True))
    # The fastest of each: other work on the machine only ever adds time.
    return min(fp32) / min(reduced[1:] or reduced)


def probe_speedup(device: torch.device, dtype_name: str, refresh: bool = False) -> float:
    """How much faster ``dtype_name`` autocast runs than fp32 on ``device`` (0.02 = 50x slower),
    measured once per machine and torch version, then read from the cache (``refresh``:
    measure again, and cache the new value)."""
    key = _machine_key(device, dtype_name)
    path = user_cache_dir() / "precision.json"
    try:
        cache = json.loads(path.read_text())
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), (int, float)) and not refresh:
        return float(cache[key])
    try:
        speedup = round(_measure(device, dtype_name), 4)
    except RuntimeError:  # autocast to this dtype is not supported on this device at all
        speedup = 0.0
    cache[key] = speedup
    with contextlib.suppress(OSError):  # a read-only home only costs the next run a probe
        write_text(path, json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return speedup


# ----------------------------------------------------------------------- resolution
def _native(device: torch.device, dtype_name: str, refresh: bool) -> tuple[bool, str, float | None]:
    """(fast here, why, measured speedup over fp32 or None) for ``dtype_name`` on ``device``:
    from the hardware where it is conclusive, else from :func:`probe_speedup`."""
    import torch

    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        gpu = f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor})"
        if dtype_name == "fp16" or major >= 8:
            return True, f"{gpu} has native {dtype_name}", None
        return False, f"{gpu} has no native bf16", None
    native, has = None, ""
    if device.type == "cpu":
        native, has = cpu_native(dtype_name, cpu_flags(), torch.backends.cpu.get_cpu_capability())
    if native is not None:
        return native, has if not native else f"this CPU has native {dtype_name} ({has})", None
    speedup = probe_speedup(device, dtype_name, refresh)
    has = f"this CPU has {has}, and " if has else ""
    if not speedup:
        return False, f"{has}{dtype_name} autocast fails on this {device.type}", speedup
    verdict = f"{speedup:.1f}x faster" if speedup >= 1 else f"{1 / speedup:.1f}x slower"
    return speedup >= FAST_ENOUGH, f"{has}{dtype_name} measured {verdict} than fp32 on this {device.type}", speedup


def resolve_precision(requested: str, device: torch.device, refresh: bool = False) -> PrecisionChoice:
    """What ``train.precision = requested`` means on ``device`` (``refresh``: measure again
    where a measurement decides, instead of reading the cache)."""
    if requested == "fp32":
        return PrecisionChoice(requested, "fp32", "no autocast")
    if requested in REDUCED:
        native, why, speedup = _native(device, requested, refresh)
        if speedup is None and not native:
            speedup = probe_speedup(device, requested, refresh)
            why += f", and {requested} measured {1 / speedup:.1f}x slower than fp32 here" if 0 < speedup < 1 else ""
        if not speedup and not native:
            raise UserError(f'train.precision = {requested!r}: {why}; use "auto" or "fp32"')
        if native or speedup >= 1:  # no warning where it is not slower
            return PrecisionChoice(requested, requested, why)
        warning = (
            f"train.precision = {requested!r} on {device.type}: {why}; "
            f'set train.precision = "auto" (or "fp32") for this machine\'s fast path'
        )
        return PrecisionChoice(requested, requested, why, warning)
    native_bf16, why, _ = _native(device, "bf16", refresh)
    if native_bf16:
        return PrecisionChoice("auto", "bf16", why)
    if device.type == "cuda":
        return PrecisionChoice("auto", "fp16", f"{why}; fp16 with loss scaling instead")
    return PrecisionChoice("auto", "fp32", why)


class Precision:
    """Autocast and gradient scaling for ``fp32`` (a no-op), ``bf16`` or ``fp16``.

    ``fp16`` scales losses (one scaler per network); ``bf16`` needs no scaling.
    """

    def __init__(self, name: str, device: torch.device):
        import torch

        self.name = name
        self.device = device
        self.dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(name)
        self.scaled = name == "fp16"

    def autocast(self) -> contextlib.AbstractContextManager:
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        import torch

        return torch.amp.GradScaler(self.device.type, enabled=self.scaled)
