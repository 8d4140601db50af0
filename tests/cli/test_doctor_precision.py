"""``ganfw doctor`` and the precision probe: the cached decision with its age, the load it was
measured under and how to measure again; a busy probe left out of the cache; measuring again on
request; and a CUDA build of torch where no GPU is visible, with its libraries' size."""

from __future__ import annotations

import time
from importlib import metadata
from pathlib import Path

import pytest
import torch

from ganfw import doctor
from ganfw.doctor import cuda_library_bytes, report
from ganfw.plugins import load_registry
from ganfw.precision import Probe, cache_path, probe_speedup
from tests.helpers.cli import cli
from tests.training.test_precision import CPU
from tests.training.test_precision_probe import BUSY, QUIET, cached, pretend_zen5

AUTO = "cpu: precision auto -> bf16: this CPU has AVX512-BF16, and bf16 measured 1.7x faster than fp32 on this cpu"


@pytest.fixture
def zen5(monkeypatch, tmp_path) -> list[Probe]:
    return pretend_zen5(monkeypatch, tmp_path)


def precision_lines(reprobe: bool = False) -> list[str]:
    """``ganfw doctor``'s lines for the CPU's precisions (no step probe)."""
    lines: list[str] = []
    report(load_registry(), 0, lines.append, reprobe=reprobe)
    start = lines.index(next(line for line in lines if line.startswith("cpu: precision auto")))
    return lines[start : start + 2]


def test_doctor_shows_the_cached_decision_its_age_and_how_to_measure_again(zen5, capsys):
    zen5.append(Probe(1.7, **QUIET, measured_at=time.time() - 2 * 3600))
    probe_speedup(CPU, "bf16")  # a run two hours ago
    code, out, _ = cli(capsys, "doctor", "--probe-seconds", "0")  # measures nothing: no reading left
    assert code == 0
    assert f"{AUTO}\n  probe: cached 2 h ago in {cache_path()} (2 threads on 2 cores, load average 0.4, " \
        "other processes 0.1 cores, repeats within 3%); to measure again: ganfw doctor --reprobe, " \
        "or delete that file\n" in out  # fmt: skip


def test_reprobe_measures_again_and_replaces_the_cached_probe(zen5):
    zen5 += [Probe(1.1, **QUIET), Probe(1.7, **QUIET)]
    probe_speedup(CPU, "bf16")
    assert precision_lines(reprobe=True) == [
        AUTO,
        f"  probe: measured now, cached in {cache_path()} (2 threads on 2 cores, load average 0.4, "
        "other processes 0.1 cores, repeats within 3%); to measure again: ganfw doctor --reprobe, or delete that file",
    ]
    assert probe_speedup(CPU, "bf16").speedup == 1.7


def test_a_busy_probe_is_shown_as_not_cached(zen5):
    zen5 += [Probe(1.07, **BUSY)] * 2  # auto's probe and its second try; bf16's line takes that reading
    lines = precision_lines()
    assert lines[1] == (
        "  probe: not cached, as the machine was busy (other processes took 1.5 cores during the probe; its "
        "repeats varied by 40%): runs take the guess and probe again until a probe is quiet"
    )
    assert zen5 == [] and [key.rsplit("|", 1)[1] for key in cached()] == ["fp16"]  # its reading is decisive


def _cuda_line(monkeypatch, cuda: str | None) -> str:
    """``ganfw doctor``'s CUDA line where torch says it was built for ``cuda`` and sees no GPU."""
    monkeypatch.setattr(torch.version, "cuda", cuda)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(doctor, "cuda_library_bytes", lambda: 3_240_000_000)
    lines: list[str] = []
    doctor._devices(lines.append)
    return next(line for line in lines if line.startswith("cuda"))


def test_doctor_says_when_a_cuda_build_sees_no_gpu_and_how_large_its_libraries_are(monkeypatch):
    assert _cuda_line(monkeypatch, "13.0") == (
        "cuda: none available, but torch is a CUDA build (CUDA 13.0) whose CUDA libraries take 3.2 GB; where no "
        "GPU will be used, the CPU-only build is enough: pip install torch torchvision --index-url "
        "https://download.pytorch.org/whl/cpu"
    )
    assert _cuda_line(monkeypatch, None) == "cuda: none available (a CPU-only build of torch)"


def _distribution(site: Path, name: str, files: dict[str, int]) -> None:
    """An installed distribution in ``site`` whose RECORD lists ``files`` (path: bytes)."""
    for path, size in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(b"\0" * size)
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in files))


def test_the_cuda_libraries_are_the_nvidia_and_cuda_distributions(tmp_path):
    _distribution(tmp_path, "nvidia-cublas", {"nvidia/cublas/lib/libcublas.so": 3000, "nvidia/cublas/x.h": 200})
    _distribution(tmp_path, "cuda-toolkit", {"cuda/toolkit.so": 500})
    _distribution(tmp_path, "numpy", {"numpy/core.so": 7000})
    assert cuda_library_bytes(metadata.distributions(path=[str(tmp_path)])) == 3700
