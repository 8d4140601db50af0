"""``ganfw doctor``: the machine report a user pastes into a bug report, offline, without CUDA."""

from __future__ import annotations

import torch

from ganfw import __version__, precision
from ganfw.doctor import report
from ganfw.plugins import load_registry
from ganfw.precision import Probe
from tests.helpers.cli import run_cli


def test_doctor_reports_versions_devices_precisions_data_and_step_speed(tmp_path):
    data = tmp_path / "data"
    (data / "MNIST" / "raw").mkdir(parents=True)
    (data / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"")
    env = {
        "GANFW_DATA": str(data),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "CUDA_VISIBLE_DEVICES": "",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    }
    result = run_cli("doctor", "--probe-seconds", "1", env=env)
    assert result.returncode == 0, result.both
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"ganfw {__version__}  python ") and f"torch {torch.__version__}" in lines[0]
    assert any(line.startswith("plugins: ") and "dcgan (ganfw " in line for line in lines)
    assert any(line.startswith("cpu: ") and "vector units AVX2 (torch capability AVX2)" in line for line in lines)
    assert "cuda: none available" in result.stdout
    assert "cpu: precision auto -> fp32: this CPU has no native bf16 (AVX2)" in lines
    assert any(line.startswith("  bf16: slow here: train.precision = 'bf16' on cpu: ") for line in lines)
    assert f"data (GANFW_DATA): {data}: MNIST found" in lines
    probe = next(line for line in lines if line.startswith("cpu step probe (course DCGAN, batch 64): fp32 "))
    assert "images/s (1.00x)" in probe and probe.endswith("not timed (no fast path): bf16, fp16")


def _report(monkeypatch, tmp_path, probe_seconds: float, disabled: frozenset[str] = frozenset()) -> list[str]:
    """``ganfw doctor``'s lines, in-process (the precision probe answers 1.5 untimed)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(precision, "_measure", lambda device, dtype: Probe(1.5))
    lines: list[str] = []
    report(load_registry(disabled=set(disabled)), probe_seconds, lines.append)
    return lines


def test_doctor_without_the_probe_says_where_data_is_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("GANFW_DATA", str(tmp_path / "nowhere"))
    lines = _report(monkeypatch, tmp_path, 0)
    assert f"data (GANFW_DATA): {tmp_path / 'nowhere'}: no dataset files" in lines
    assert not any("step probe" in line for line in lines)


def test_doctor_still_reports_when_the_probed_component_is_missing(monkeypatch, tmp_path):
    lines = _report(monkeypatch, tmp_path, 0.1, frozenset({"dcgan"}))
    assert any(line.startswith("plugins: ") and "dcgan" not in line for line in lines)
    assert "cpu step probe failed: LookupProblem: unknown generator 'dcgan'" in " ".join(lines)
