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
``$XDG_CACHE_HOME/ganfw/precision.json`` (:func:`cache_path`).

A probe taken on a busy machine is not trusted (:meth:`Probe.doubts`): the load average before
it, the CPU time other processes took during it and the spread of its repeats are measured. A
probe disturbed by a burst is repeated once after a pause (not where the load average says the
machine stays busy); one still disturbed is never cached: the run takes the hardware's guess
(bf16 where the CPU has vector bf16 units, else fp32) and says so, later runs in the same process
(a sweep, a benchmark) take that reading too, and the next process probes again.

Only :func:`resolve_precision`, :func:`probe_speedup` and :class:`Precision` import torch.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass, field, fields
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
#: A reading this far below 1 (5x slower than fp32) stands even on a busy machine: no load turns
#: it into a fast path (the probe does not time such a precision past its first step).
DECISIVE = 0.2
#: Cores' worth of other work a probe tolerates beyond the cores its threads leave free.
BACKGROUND_CORES = 0.25
#: A probe whose typical repeat (the median) is this much slower than its fastest was disturbed.
MAX_SPREAD = 0.25
#: Probes at most in one run: a disturbed one is repeated once, after a pause.
PROBE_TRIES = 2
REPROBE_PAUSE_S = 1.0
#: Untrusted probes this process took, by machine key: a process that builds many runs (a
#: benchmark, a sweep) probes a busy machine once, not once per run.
_UNTRUSTED: dict[str, Probe] = {}


@dataclass(frozen=True)
class PrecisionChoice:
    """What ``train.precision`` resolved to on one device, and why (one line for the user)."""

    requested: str  # auto | fp32 | bf16 | fp16
    name: str  # fp32 | bf16 | fp16
    reason: str
    warning: str | None = None  # an explicit reduced precision without a fast path
    probe: Probe | None = None  # the timed probe behind the choice, where one was needed

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


# ----------------------------------------------------------------------- the machine's load
def load_average() -> float | None:
    """The 1-minute load average (processes running or waiting to run, this one included), or
    None where the OS does not give one."""
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


@dataclass(frozen=True)
class CpuClock:
    """One reading of the clocks a probe's load is measured with, in seconds."""

    wall: float  # time.perf_counter()
    own: float  # CPU time of this process, all its threads
    machine: float | None  # CPU time of every process since boot (/proc/stat); None off Linux

    def others_since(self, start: CpuClock) -> float | None:
        """Cores' worth of CPU time that other processes took between ``start`` and this reading."""
        if self.machine is None or start.machine is None or self.wall <= start.wall:
            return None
        return max(0.0, (self.machine - start.machine) - (self.own - start.own)) / (self.wall - start.wall)


def cpu_clock() -> CpuClock:
    """Read the clocks now (the machine's CPU time from ``/proc/stat``'s first line: user, nice,
    system, irq, softirq and steal time)."""
    machine = None
    with contextlib.suppress(OSError, ValueError), open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in f.readline().split()[1:9])
        machine = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    return CpuClock(time.perf_counter(), time.process_time(), machine)


# ----------------------------------------------------------------------- the timed probe
@dataclass(frozen=True)
class Probe:
    """One timed probe of a reduced precision against fp32, and the machine's load while it ran.

    ``speedup``: fp32 time / reduced time (above 1 the reduced precision is faster; 0: autocast
    to it fails). ``spread``: how much slower the typical (median) repeat was than the fastest,
    the worse of the two precisions (0.1: 10 %). ``others``: cores' worth of CPU time other
    processes took during it; ``average``: the 1-minute load average before it (None: unknown).
    ``cores``: the machine's logical cores; ``threads``: the probe's (torch's). ``measured_at``:
    seconds since the epoch; ``cached``: read from the cache.
    """

    speedup: float
    spread: float = 0.0
    others: float | None = None
    average: float | None = None
    cores: int = 1
    threads: int = 1
    measured_at: float = field(default_factory=time.time)
    cached: bool = False

    @property
    def free(self) -> float:
        """Cores' worth of other work the probe tolerates: the cores its threads leave free, and
        a little background."""
        return max(self.cores - self.threads, 0) + BACKGROUND_CORES

    @property
    def sustained(self) -> bool:
        """Whether the load average (less one for this process) says the machine is busy: a
        second probe a moment later would be no quieter."""
        return self.average is not None and self.average - 1 > self.free

    def doubts(self) -> list[str]:
        """Why this probe cannot be trusted, in words (empty: the machine was quiet)."""
        doubts = [f"load average {self.average:.1f} on {self.cores} cores"] if self.sustained else []
        if self.others is not None and self.others > self.free:
            doubts.append(f"other processes took {self.others:.1f} cores during the probe")
        if self.spread > MAX_SPREAD:
            doubts.append(f"its repeats varied by {self.spread:.0%}")
        return doubts

    @property
    def trusted(self) -> bool:
        """Quiet, or so far below fp32 (or failing) that no load explains it."""
        return self.speedup < DECISIVE or not self.doubts()

    def conditions(self) -> str:
        """The load it was measured under, in words."""
        if not self.speedup:
            return "autocast failed: nothing timed"
        parts = [f"{self.threads} threads on {self.cores} cores"]
        if self.average is not None:
            parts.append(f"load average {self.average:.1f}")
        if self.others is not None:
            parts.append(f"other processes {self.others:.1f} cores")
        return ", ".join([*parts, f"repeats within {self.spread:.0%}"])

    def cache_entry(self) -> dict[str, float | int | None]:
        entry = asdict(self)
        del entry["cached"]
        return entry

    @classmethod
    def from_cache(cls, entry: object) -> Probe | None:
        """The trusted probe a cache entry holds, or None for anything else (a bare number, from
        before probes measured the load, is measured again)."""
        if not isinstance(entry, dict):
            return None
        values = {f.name: entry.get(f.name) for f in fields(cls) if f.name != "cached"}
        numbers = [v for name, v in values.items() if v is not None or name not in ("others", "average")]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            return None
        probe = cls(**values, cached=True)  # type: ignore[arg-type]
        return probe if probe.trusted else None


def cache_path() -> Path:
    """Where probes are cached: ``precision.json`` in the user cache."""
    return user_cache_dir() / "precision.json"


def _machine_key(device: torch.device, dtype_name: str) -> str:
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    isa = torch.backends.cpu.get_cpu_capability() + "/" + os.environ.get("ONEDNN_MAX_CPU_ISA", "any")
    return f"{device.type}|{name}|{isa}|{torch.get_num_threads()} threads|torch {torch.__version__}|{dtype_name}"


def _time_steps(device: torch.device, dtype_name: str) -> tuple[list[float], list[float]]:
    """Seconds of fp32 and of reduced-precision steps of one layer pair of a DCGAN's training
    step - a transposed convolution (128 -> 64 channels, 5x5, 7x7 -> 14x14), batch norm, a
    convolution back to 7x7 and a linear layer, forward and backward at batch 64 - timed
    alternately. (Smaller layers mislead: their time is overhead.) A reduced precision 5x slower
    than fp32 on its first step (which includes its warm-up) is not timed further; otherwise that
    first step is left out."""
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
    fp32, reduced = [step(False)], [step(True)]
    if reduced[0] < 1 / DECISIVE * fp32[0]:  # close enough to need a careful look
        for _ in range(4):
            fp32.append(step(False))
            reduced.append(step(True))
    return fp32, reduced[1:] or reduced


def _measure(device: torch.device, dtype_name: str) -> Probe:
    """Time the probe (:func:`_time_steps`) and, on the CPU, the machine's load around it (a GPU's
    probe is judged by its spread alone). The fastest step of each precision counts: other work
    only ever adds time."""
    import torch

    on_cpu = device.type == "cpu"
    average, start = load_average() if on_cpu else None, cpu_clock()
    fp32, reduced = _time_steps(device, dtype_name)
    others = cpu_clock().others_since(start) if on_cpu else None
    spread = max(statistics.median(times) / min(times) - 1 for times in (fp32, reduced))
    return Probe(
        speedup=round(min(fp32) / min(reduced), 4),
        spread=round(spread, 4),
        others=None if others is None else round(others, 3),
        average=None if average is None else round(average, 2),
        cores=os.cpu_count() or 1,
        threads=torch.get_num_threads(),
    )


def _probe(device: torch.device, dtype_name: str) -> Probe:
    """Measure; where the probe was disturbed by a passing burst (not by a load average that
    says the machine stays busy), measure once more after a pause."""
    for attempt in range(PROBE_TRIES):
        if attempt:
            time.sleep(REPROBE_PAUSE_S)
        try:
            probe = _measure(device, dtype_name)
        except RuntimeError:  # autocast to this dtype is not supported on this device at all
            return Probe(0.0)
        if probe.trusted or probe.sustained:
            break
    return probe


def probe_speedup(device: torch.device, dtype_name: str, refresh: bool = False) -> Probe:
    """How much faster ``dtype_name`` autocast runs than fp32 on ``device``, measured once per
    machine and torch version, then read from the cache (``refresh``: measure again). Only a
    trusted probe is cached (and replaces the cached one): an untrusted one holds for this
    process alone, and the next process probes again."""
    key = _machine_key(device, dtype_name)
    if not refresh and key in _UNTRUSTED:
        return _UNTRUSTED[key]
    try:
        cache = json.loads(cache_path().read_text())
        if not isinstance(cache, dict):
            cache = {}
    except (OSError, ValueError):
        cache = {}
    cached = None if refresh else Probe.from_cache(cache.get(key))
    if cached is not None:
        return cached
    probe = _probe(device, dtype_name)
    _UNTRUSTED.pop(key, None)
    if not probe.trusted:
        _UNTRUSTED[key] = probe
    else:
        cache[key] = probe.cache_entry()
        with contextlib.suppress(OSError):  # a read-only home only costs the next run a probe
            write_text(cache_path(), json.dumps(cache, indent=1, sort_keys=True) + "\n")
    return probe


# ----------------------------------------------------------------------- resolution
def _hardware(device: torch.device, dtype_name: str) -> tuple[bool | None, str]:
    """Whether ``device`` runs ``dtype_name`` natively and fast, from the hardware alone: (True
    or False, why) where that is conclusive, else (None, the CPU's vector units for it, or "")."""
    import torch

    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        gpu = f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor})"
        if dtype_name == "fp16" or major >= 8:
            return True, f"{gpu} has native {dtype_name}"
        return False, f"{gpu} has no native bf16"
    if device.type != "cpu":
        return None, ""
    native, has = cpu_native(dtype_name, cpu_flags(), torch.backends.cpu.get_cpu_capability())
    return native, f"this CPU has native {dtype_name} ({has})" if native else has


def _busy(probe: Probe) -> str:
    return "" if probe.trusted else f" while the machine was busy ({'; '.join(probe.doubts())})"


def _measured(device: torch.device, dtype_name: str, has: str, refresh: bool) -> tuple[Probe, str]:
    """The probe of ``dtype_name`` on ``device`` (whose CPU ``has`` these units) and what it
    says, in words."""
    probe = probe_speedup(device, dtype_name, refresh)
    has = f"this CPU has {has}, and " if has else ""
    if not probe.speedup:
        return probe, f"{has}{dtype_name} autocast fails on this {device.type}"
    s = probe.speedup
    verdict = f"{s:.1f}x faster" if s >= 1 else f"{1 / s:.1f}x slower"
    return probe, f"{has}{dtype_name} measured {verdict} than fp32 on this {device.type}{_busy(probe)}"


def _auto(device: torch.device, refresh: bool) -> PrecisionChoice:
    """``auto``: bf16 where it is native (or a trusted probe finds it fast enough); where the
    probe is not trusted, the hardware's guess: bf16 where the CPU has vector bf16 units (the
    speed page measures 1.7-2.0x on AVX512-BF16 without AMX), else fp32."""
    native, why = _hardware(device, "bf16")
    probe = None
    if native is None:
        has = why
        probe, why = _measured(device, "bf16", has, refresh)
        native = probe.speedup >= FAST_ENOUGH
        if not probe.trusted:
            native = bool(has)
            guess = f"the guess for {has} (bf16)" if has else "the safe guess (fp32)"
            why += f", so this run takes {guess} and the next run probes again"
    if native:
        return PrecisionChoice("auto", "bf16", why, probe=probe)
    if device.type == "cuda":
        return PrecisionChoice("auto", "fp16", f"{why}; fp16 with loss scaling instead")
    return PrecisionChoice("auto", "fp32", why, probe=probe)


def _explicit(requested: str, device: torch.device, refresh: bool) -> PrecisionChoice:
    """``bf16`` or ``fp16`` as asked; without a fast path, with a warning that gives the
    measured slowdown; refused where autocast to it fails."""
    native, why = _hardware(device, requested)
    if native:
        return PrecisionChoice(requested, requested, why)
    if native is None:
        probe, why = _measured(device, requested, why, refresh)
    else:  # no fast path: how slow it is, for the warning
        probe = probe_speedup(device, requested, refresh)
        if 0 < probe.speedup < 1:
            why += f", and {requested} measured {1 / probe.speedup:.1f}x slower than fp32 here{_busy(probe)}"
    if not probe.speedup:
        raise UserError(f'train.precision = {requested!r}: {why}; use "auto" or "fp32"')
    if probe.speedup >= 1:  # no warning where it is not slower
        return PrecisionChoice(requested, requested, why, probe=probe)
    warning = (
        f"train.precision = {requested!r} on {device.type}: {why}; "
        f'set train.precision = "auto" (or "fp32") for this machine\'s fast path'
    )
    return PrecisionChoice(requested, requested, why, warning, probe)


def resolve_precision(requested: str, device: torch.device, refresh: bool = False) -> PrecisionChoice:
    """What ``train.precision = requested`` means on ``device`` (``refresh``: measure again
    where a measurement decides, instead of reading the cache)."""
    if requested == "fp32":
        return PrecisionChoice(requested, "fp32", "no autocast")
    if requested in REDUCED:
        return _explicit(requested, device, refresh)
    return _auto(device, refresh)


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
