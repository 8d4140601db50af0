"""Where training runs: device selection and mixed precision."""

from __future__ import annotations

import contextlib

import torch

from ganfw.errors import UserError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


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


class Precision:
    """Autocast and gradient scaling for ``fp32`` (a no-op), ``bf16`` or ``fp16``.

    ``fp16`` scales losses (one scaler per network); ``bf16`` needs no scaling.
    """

    def __init__(self, name: str, device: torch.device):
        self.name = name
        self.device = device
        self.dtype = _DTYPES.get(name)
        self.scaled = name == "fp16"

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler:
        return torch.amp.GradScaler(self.device.type, enabled=self.scaled)
