"""Which precision a run trains in: ``train.precision = "auto"`` takes the fastest correct one.

    auto   bf16 where the device runs it natively (a CPU with AMX or AVX512-BF16; a CUDA device
           of compute capability 8.0 or newer), fp16 with loss scaling on older CUDA devices,
           fp32 everywhere else
    fp32 | bf16 | fp16
           as asked; a reduced precision with no fast path on the device still runs, with one
           warning that gives its measured slowdown against fp32

A CPU's native support is read from its feature flags (``/proc/cpuinfo``). Where they say
nothing (another OS, another architecture), a timed probe of one convolution decides (well
under a second), cached per machine in ``$XDG_CACHE_HOME/ganfw/precision.json``.

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
    """Whether this CPU computes ``bf16``/``fp16`` natively for torch: (True, unit),
    (False, why), or (None, "") where its flags cannot tell (then :func:`probe_speedup` decides).
    The units count only where torch runs its AVX-512 kernels (``capability``)."""
    units = {"bf16": (("amx_bf16", "AMX"), ("avx512_bf16", "AVX512-BF16")),
             "fp16": (("amx_fp16", "AMX-FP16"), ("avx512_fp16", "AVX512-FP16"))}[dtype_name]
    if not flags or "sse2" not in flags:  # not x86, or unknown: measure instead
        return None, ""
    for flag, unit in units:
        if flag in flags and capability.startswith("AVX512"):
            return True, unit
    return False, f"this CPU has no native {dtype_name} ({cpu_vector_isa(flags, capability)})"


# ----------------------------------------------------------------------- the timed probe
def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "ganfw" / "precision.json"


def _machine_key(device: torch.device, dtype_name: str) -> str:
    import torch

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = cpu_model()
    isa = torch.backends.cpu.get_cpu_capability() + "/" + os.environ.get("ONEDNN_MAX_CPU_ISA", "any")
    return f"{device.type}|{name}|{isa}|{torch.get_num_threads()} threads|torch {torch.__version__}|{dtype_name}"


def _time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def _measure(device: torch.device, dtype_name: str) -> float:
    """fp32 time / reduced-precision time of a small convolution's forward and backward pass
    (batch 16, 32 -> 64 channels, 5x5, 14x14): above 1 the reduced precision is faster."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(16, 32, 14, 14, generator=gen).to(device)
    w = torch.randn(64, 32, 5, 5, generator=gen).to(device).requires_grad_()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype_name]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def step(reduced: bool):
        def run():
            with torch.autocast(device.type, dtype=dtype, enabled=reduced):
                F.conv2d(x, w, padding=2).float().square().mean().backward()
            sync()
        return run

    fp32 = _time(step(False), repeats=3)
    reduced = _time(step(True), repeats=1)
    if reduced < 5 * fp32:  # close enough to need a careful look
        reduced = _time(step(True), repeats=3)
    return fp32 / reduced


def probe_speedup(device: torch.device, dtype_name: str) -> float:
    """How much faster ``dtype_name`` autocast runs than fp32 on ``device`` (0.02 = 50x slower),
    measured once per machine and torch version, then read from the cache."""
    key = _machine_key(device, dtype_name)
    path = _cache_file()
    try:
        cache = json.loads(path.read_text())
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    if isinstance(cache.get(key), (int, float)):
        return float(cache[key])
    cache[key] = speedup = round(_measure(device, dtype_name), 4)
    with contextlib.suppress(OSError):  # a read-only home only costs the next run a probe
        write_text(path, json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return speedup


# ----------------------------------------------------------------------- resolution
def _native(device: torch.device, dtype_name: str) -> tuple[bool, str]:
    """(runs natively and fast, why) for ``dtype_name`` on ``device``."""
    import torch

    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        if dtype_name == "fp16" or major >= 8:
            return True, f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor}) has native {dtype_name}"
        return False, f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor}) has no native bf16"
    if device.type == "cpu":
        native, why = cpu_native(dtype_name, cpu_flags(), torch.backends.cpu.get_cpu_capability())
    else:
        native, why = None, ""
    if native is not None:
        return native, why if not native else f"this CPU has native {dtype_name} ({why})"
    speedup = probe_speedup(device, dtype_name)
    verdict = "faster" if speedup >= 1 else "slower"
    ratio = speedup if speedup >= 1 else 1 / speedup
    return speedup >= FAST_ENOUGH, f"{dtype_name} measured {ratio:.1f}x {verdict} than fp32 on this {device.type}"


def resolve_precision(requested: str, device: torch.device) -> PrecisionChoice:
    """What ``train.precision = requested`` means on ``device``."""
    if requested == "fp32":
        return PrecisionChoice(requested, "fp32", "no autocast")
    if requested in REDUCED:
        native, why = _native(device, requested)
        if native:
            return PrecisionChoice(requested, requested, why)
        speedup = probe_speedup(device, requested)
        if speedup >= 1:  # no native unit, yet not slower: nothing to warn about
            return PrecisionChoice(requested, requested, f"{why}, yet measured {speedup:.1f}x faster than fp32")
        warning = (f"train.precision = {requested!r} on {device.type}: {why}, and measured {1 / speedup:.1f}x "
                   f"slower than fp32 here; set train.precision = \"auto\" (or \"fp32\") for this machine's fast path")
        return PrecisionChoice(requested, requested, why, warning)
    native_bf16, why = _native(device, "bf16")
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
