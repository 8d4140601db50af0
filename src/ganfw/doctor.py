"""``ganfw doctor``: what this machine offers ganfw, as text to paste into a bug report.

    versions     ganfw, python, torch, torchvision, every plugin (and the ones that failed)
    devices      the CPU (model, vector units, torch's capability, threads), CUDA devices, MPS
    precisions   which of bf16 / fp16 each device runs natively, and what ``auto`` picks
                 (where a timed probe decides, measured afresh and cached for the next runs)
    data         where the MNIST / Fashion-MNIST files are looked for, and whether they are there
    step probe   a few seconds of training steps of the course's DCGAN (batch 64) in each
                 candidate precision: images per second, and the ratio to fp32

Nothing here needs the network or CUDA; it always exits 0.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

from ganfw.paths import user_cache_dir
from ganfw.plugins import Registry
from ganfw.precision import cpu_flags, cpu_model, cpu_vector_isa, resolve_precision
from ganfw.version import __version__

Print = Callable[[str], None]

#: The IDX files torchvision's layout keeps under ``<root>/<Dataset>/raw/``.
DATASETS = {"MNIST": "train-images-idx3-ubyte", "FashionMNIST": "train-images-idx3-ubyte"}
PROBE_BATCH = 64


def report(registry: Registry, probe_seconds: float, say: Print) -> None:
    """Print every section (see the module docstring)."""
    import torch

    say(
        f"ganfw {__version__}  python {platform.python_version()}  torch {torch.__version__}  "
        f"torchvision {_version('torchvision')}  ({platform.platform()})"
    )
    _plugins(registry, say)
    devices = _devices(say)
    _precisions(devices, say)
    _data(say)
    if probe_seconds > 0:
        for device in devices:
            try:
                _step_probe(registry, device, probe_seconds / len(devices), say)
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
    else:
        say(f"cuda: none available (torch built for CUDA {torch.version.cuda or '-'})")
    if torch.backends.mps.is_available():
        say("mps: available")
        devices.append(torch.device("mps"))
    return devices


def _precisions(devices: list, say: Print) -> None:
    for device in devices:
        say(f"{device}: {resolve_precision('auto', device, refresh=True).line()}")
        for name in ("bf16", "fp16"):
            choice = resolve_precision(name, device, refresh=name == "fp16")
            say(f"  {name}: {'slow here: ' + choice.warning if choice.warning else choice.reason}")


def _data(say: Print) -> None:
    env = os.environ.get("GANFW_DATA")
    roots = ([("GANFW_DATA", Path(env).expanduser())] if env else []) + [("user cache", user_cache_dir() / "data")]
    for source, root in roots:
        found = [name for name, file in DATASETS.items() if (root / name / "raw" / file).is_file()]
        say(f"data ({source}): {root.absolute()}: " + (", ".join(found) + " found" if found else "no dataset files"))


def _step_probe(registry: Registry, device, seconds: float, say: Print) -> None:
    """Time training steps of the default DCGAN on random images in each candidate precision."""
    candidates = _candidates(device)
    rates = {name: _steps_per_second(registry, device, name, seconds / len(candidates)) for name in candidates}
    fp32 = rates["fp32"]
    skipped = {"bf16", "fp16"} - set(candidates)
    say(
        f"{device} step probe (course DCGAN, batch {PROBE_BATCH}): "
        + ", ".join(f"{name} {rate * PROBE_BATCH:.0f} images/s ({rate / fp32:.2f}x)" for name, rate in rates.items())
        + (f"; not timed (no fast path): {', '.join(sorted(skipped))}" if skipped else "")
    )


def _candidates(device) -> list[str]:
    """fp32, and each reduced precision that has a fast path on ``device`` (a slow one could
    take many seconds a step)."""
    return ["fp32"] + [name for name in ("bf16", "fp16") if not resolve_precision(name, device).warning]


def _steps_per_second(registry: Registry, device, precision_name: str, seconds: float) -> float:
    """Training steps a second of G and D (forward, backward, Adam) for about ``seconds``."""
    import torch
    import torch.nn.functional as F

    from ganfw.params import build
    from ganfw.precision import Precision

    nets = []
    for kind in ("generator", "discriminator"):
        spec = registry.resolve(kind, "dcgan").spec
        nets.append(spec.load_factory()(build(spec.params, {}), image_shape=(1, 28, 28)).to(device))
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
