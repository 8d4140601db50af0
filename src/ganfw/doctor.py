"""``ganfw doctor``: what this machine offers ganfw, as text to paste into a bug report.

    versions     ganfw, python, torch, torchvision, every plugin (and the ones that failed)
    devices      the CPU (model, vector units, torch's capability, threads), CUDA devices, MPS;
                 a CUDA build of torch where no GPU is visible (and its libraries' size)
    precisions   which of bf16 / fp16 each device runs natively, and what ``auto`` picks;
                 where a timed probe decides, the cached probe, its age, the load it was
                 measured under and how to measure again (``reprobe``: measure now)
    data         where the MNIST / Fashion-MNIST files are looked for, and whether they are there
    step probe   a few seconds of training steps of the course's DCGAN (batch 64) in each
                 candidate precision: images per second, and the ratio to fp32

Nothing here needs the network or CUDA; it always exits 0.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path

from ganfw.paths import user_cache_dir
from ganfw.plugins import Registry
from ganfw.precision import PrecisionChoice, Probe, cache_path, cpu_flags, cpu_model, cpu_vector_isa, resolve_precision
from ganfw.version import __version__

Print = Callable[[str], None]

#: The IDX files torchvision's layout keeps under ``<root>/<Dataset>/raw/``.
DATASETS = {"MNIST": "train-images-idx3-ubyte", "FashionMNIST": "train-images-idx3-ubyte"}
PROBE_BATCH = 64
#: PyTorch's index of CPU-only wheels (no CUDA libraries).
CPU_WHEELS = "https://download.pytorch.org/whl/cpu"
#: How to measure the precision probe again.
REPROBE = "ganfw doctor --reprobe"


def report(registry: Registry, probe_seconds: float, say: Print, reprobe: bool = False) -> None:
    """Print every section (see the module docstring); ``reprobe``: time the precision probe
    again (replacing the cached one where the machine is quiet) instead of showing the cached one."""
    import torch

    say(
        f"ganfw {__version__}  python {platform.python_version()}  torch {torch.__version__}  "
        f"torchvision {_version('torchvision')}  ({platform.platform()})"
    )
    _plugins(registry, say)
    devices = _devices(say)
    choices = {device: _precisions(device, reprobe, say) for device in devices}
    _data(say)
    if probe_seconds > 0:
        for device in devices:
            try:
                _step_probe(registry, device, choices[device], probe_seconds / len(devices), say)
            except Exception as e:
                say(f"{device} step probe failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}")


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except Exception as e:
        return f"unavailable ({type(e).__name__})"


def _plugins(registry: Registry, say: Print) -> None:
    seen: dict[str, str] = {}
    for c in registry.components:
        seen.setdefault(c.plugin, f"{c.plugin} ({c.package} {c.version})")
    say("plugins: " + ", ".join(seen[name] for name in sorted(seen)))
    for problem in registry.problems:
        say(f"  broken plugin: {problem.line()}")


def _devices(say: Print) -> list:
    """Print the devices; return them (torch.device), CPU first."""
    import torch

    flags = cpu_flags()
    capability = torch.backends.cpu.get_cpu_capability()
    say(
        f"cpu: {cpu_model()}; {os.cpu_count()} logical cores, torch uses {torch.get_num_threads()} threads; "
        f"vector units {cpu_vector_isa(flags, capability)} (torch capability {capability})"
    )
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            say(f"cuda:{i}: {p.name}, compute capability {p.major}.{p.minor}, {p.total_memory / 2**30:.1f} GiB")
            devices.append(torch.device("cuda", i))
    elif torch.version.cuda:
        say(_unused_cuda(torch.version.cuda, cuda_library_bytes()))
    else:
        say("cuda: none available (a CPU-only build of torch)")
    if torch.backends.mps.is_available():
        say("mps: available")
        devices.append(torch.device("mps"))
    return devices


def _unused_cuda(version: str, size: int) -> str:
    """The line for a CUDA build of torch where no GPU is visible: its libraries' ``size`` (bytes)
    and the CPU-only install."""
    return (
        f"cuda: none available, but torch is a CUDA build (CUDA {version}) whose CUDA libraries take "
        f"{size / 1e9:.1f} GB; where no GPU will be used, the CPU-only build is enough: "
        f"pip install torch torchvision --index-url {CPU_WHEELS}"
    )


def cuda_library_bytes(dists: Iterable[metadata.Distribution] | None = None) -> int:
    """Bytes on disk of the installed CUDA libraries: the files of the ``nvidia-*`` and ``cuda-*``
    distributions (``dists``: these instead of the installed ones)."""
    total = 0
    for dist in metadata.distributions() if dists is None else dists:
        if (dist.metadata["Name"] or "").lower().startswith(("nvidia-", "cuda-")):
            for file in dist.files or ():
                path = Path(file.locate())
                total += path.stat().st_size if path.is_file() else 0
    return total


def _precisions(device, reprobe: bool, say: Print) -> dict[str, PrecisionChoice]:
    """Print what ``auto`` picks on ``device`` and why, the probe behind it, and what bf16 and
    fp16 would do; return the choices by precision (``auto``, ``bf16``, ``fp16``)."""
    auto = resolve_precision("auto", device, refresh=reprobe)
    say(f"{device}: {auto.line()}")
    if auto.probe is not None:
        say(f"  probe: {_probe_line(auto.probe)}")
    choices = {"auto": auto}
    for name in ("bf16", "fp16"):  # bf16's probe was just taken for auto, where it needed one
        choices[name] = choice = resolve_precision(name, device, refresh=reprobe and name == "fp16")
        say(f"  {name}: {'slow here: ' + choice.warning if choice.warning else choice.reason}")
    return choices


def _probe_line(probe: Probe) -> str:
    """Where ``auto``'s probe comes from, how old it is and how to measure it again."""
    if not probe.trusted:
        return (
            f"not cached, as the machine was busy ({'; '.join(probe.doubts())}): runs take the guess and "
            f"probe again until a probe is quiet"
        )
    when = f"cached {_age(time.time() - probe.measured_at)} ago" if probe.cached else "measured now, cached"
    return f"{when} in {cache_path()} ({probe.conditions()}); to measure again: {REPROBE}, or delete that file"


def _age(seconds: float) -> str:
    """``seconds`` in words: 40 s, 12 min, 5 h, 1 day, 3 days."""
    if seconds >= 86400:
        days = round(seconds / 86400)
        return f"{days} day{'s' if days > 1 else ''}"
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{max(seconds, 0):.0f} s"


def _data(say: Print) -> None:
    env = os.environ.get("GANFW_DATA")
    roots = ([("GANFW_DATA", Path(env).expanduser())] if env else []) + [("user cache", user_cache_dir() / "data")]
    for source, root in roots:
        found = [name for name, file in DATASETS.items() if (root / name / "raw" / file).is_file()]
        say(f"data ({source}): {root.absolute()}: " + (", ".join(found) + " found" if found else "no dataset files"))


def _step_probe(registry: Registry, device, choices: dict[str, PrecisionChoice], seconds: float, say: Print) -> None:
    """Time training steps of the default DCGAN on random images in fp32 and each reduced
    precision that has a fast path on ``device`` (``choices``; a slow one could take many
    seconds a step)."""
    candidates = ["fp32"] + [name for name in ("bf16", "fp16") if not choices[name].warning]
    rates = {name: _steps_per_second(registry, device, name, seconds / len(candidates)) for name in candidates}
    fp32 = rates["fp32"]
    skipped = {"bf16", "fp16"} - set(candidates)
    say(
        f"{device} step probe (course DCGAN, batch {PROBE_BATCH}): "
        + ", ".join(f"{name} {rate * PROBE_BATCH:.0f} images/s ({rate / fp32:.2f}x)" for name, rate in rates.items())
        + (f"; not timed (no fast path): {', '.join(sorted(skipped))}" if skipped else "")
    )


def _steps_per_second(registry: Registry, device, precision_name: str, seconds: float) -> float:
    """Training steps a second of G and D (forward, backward, Adam) for about ``seconds``."""
    import torch
    import torch.nn.functional as F

    from ganfw.precision import Precision

    nets = []
    for kind in ("generator", "discriminator"):
        spec = registry.resolve(kind, "dcgan").spec
        nets.append(spec.load_factory()(spec.default_params(), image_shape=(1, 28, 28)).to(device))
    G, D = nets
    opt = torch.optim.Adam([*G.parameters(), *D.parameters()], lr=1e-4)
    precision = Precision(precision_name, device)
    real = torch.rand(PROBE_BATCH, 1, 28, 28, device=device) * 2 - 1
    z = torch.randn(PROBE_BATCH, G.latent_dim, device=device)

    def step() -> None:
        with precision.autocast():
            logits = D(torch.cat([real, G(z)])).float()
        target = torch.cat([torch.ones(PROBE_BATCH, device=device), torch.zeros(PROBE_BATCH, device=device)])
        opt.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(logits, target).backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step()  # warm-up
    steps, start = 0, time.perf_counter()
    while steps < 2 or time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps / (time.perf_counter() - start)
