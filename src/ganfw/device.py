"""Where training runs: device selection (precision: :mod:`ganfw.precision`)."""

from __future__ import annotations

import torch

from ganfw.errors import UserError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; an unavailable device is a :class:`UserError`."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"train.device = {name!r}, but no CUDA device is available (try 'auto' or 'cpu')")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"train.device = {name!r}, but only {torch.cuda.device_count()} CUDA device(s) exist")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"train.device = {name!r}, but MPS is not available (try 'auto' or 'cpu')")
    return device


def describe_machine(device_name: str, precision: str) -> str:
    """One line: the device ``train.device`` gives here, its threads, and what ``train.precision``
    resolves to there (or why the device is not available)."""
    from ganfw.precision import resolve_precision

    try:
        device = resolve_device(device_name)
    except UserError as e:
        return str(e)
    choice = resolve_precision(precision, device)
    warning = f"; warning: {choice.warning}" if choice.warning else ""
    return choice.where(device, torch.get_num_threads()) + warning


def environment(device: torch.device) -> dict[str, str | None]:
    """What a run trained with, for its ``start`` record and report: versions, the machine, the
    CPU (model and torch's vector capability), the GPU of ``device`` (``None`` on CPU/MPS)."""
    import platform

    from ganfw.precision import cpu_model
    from ganfw.version import __version__

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    return {
        "ganfw": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "gpu": gpu,
    }
