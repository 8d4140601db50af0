"""``train.precision``: what ``auto`` picks on each machine kind, the warning for a reduced
precision without a fast path, the timed probe and its cache, and where a run records it."""

from __future__ import annotations

import json

import pytest
import torch

from ganfw import precision
from ganfw.checkpoint import load_checkpoint
from ganfw.errors import UserError
from ganfw.precision import Probe, cpu_native, resolve_precision
from tests.helpers.cli import run_cli
from tests.helpers.recipes import tiny_recipe

AVX2 = frozenset(["fpu", "sse", "sse2", "avx", "avx2", "fma", "f16c"])
AVX512 = AVX2 | {"avx512f", "avx512bw", "avx512vl"}
ZEN5 = AVX512 | {"avx512_bf16"}
SAPPHIRE_RAPIDS = AVX512 | {"avx512_bf16", "amx_bf16", "amx_tile", "avx512_fp16", "amx_fp16"}
CPU = torch.device("cpu")
#: What torch runs on an AVX2-only CPU (and what ATEN_CPU_CAPABILITY=avx2 makes it run anywhere).
AVX2_TORCH = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


@pytest.mark.parametrize(("flags", "capability", "expected"), [
    (SAPPHIRE_RAPIDS, "AVX512", (True, "AMX")),
    (ZEN5, "AVX512", (None, "AVX512-BF16")),  # vector bf16 alone: only a measurement can tell
    (ZEN5, "AVX2", (False, "this CPU has no native bf16 (AVX2)")),  # torch told to stay on AVX2
    (AVX512, "AVX512", (False, "this CPU has no native bf16 (AVX-512)")),
    (AVX2, "AVX2", (False, "this CPU has no native bf16 (AVX2)")),
    (frozenset({"fp", "asimd", "bf16"}), "DEFAULT", (None, "")),  # ARM: the probe decides
    (None, "DEFAULT", (None, "")),  # no /proc/cpuinfo
])  # fmt: skip
def test_native_bf16_from_the_cpu_flags(flags, capability, expected):
    assert cpu_native("bf16", flags, capability) == expected


def test_native_fp16_needs_its_own_units():
    assert cpu_native("fp16", SAPPHIRE_RAPIDS, "AVX512") == (True, "AMX-FP16")
    assert cpu_native("fp16", ZEN5, "AVX512")[0] is False
    assert cpu_native("fp16", AVX512 | {"avx512_fp16"}, "AVX512") == (None, "AVX512-FP16")


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """Pretend to be a CPU with the given flags (and torch capability); probes are counted and
    answer ``speedup`` without timing anything; the probe cache is fresh."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    probes = []

    def pretend(flags, capability="AVX512", speedup=1.0):
        monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
        monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
        monkeypatch.setattr(precision, "_measure", lambda device, dtype: probes.append(dtype) or Probe(speedup))
        return probes

    return pretend


def test_auto_takes_bf16_only_where_it_is_native_and_fast(machine):
    probes = machine(SAPPHIRE_RAPIDS)
    assert resolve_precision("auto", CPU).line() == "precision auto -> bf16: this CPU has native bf16 (AMX)"
    machine(AVX2, "AVX2")
    choice = resolve_precision("auto", CPU)
    assert choice.line() == "precision auto -> fp32: this CPU has no native bf16 (AVX2)"
    assert choice.warning is None and probes == []  # the flags were conclusive: nothing timed


def test_vector_bf16_without_amx_is_measured(machine, tmp_path):
    probes = machine(ZEN5, speedup=0.8)
    assert resolve_precision("auto", CPU).line() == (
        "precision auto -> fp32: this CPU has AVX512-BF16, and bf16 measured 1.2x slower than fp32 on this cpu"
    )
    machine(ZEN5, speedup=3.0)  # the cached measurement stands
    assert resolve_precision("auto", CPU).name == "fp32" and probes == ["bf16"]
    (tmp_path / "cache" / "ganfw" / "precision.json").unlink()
    assert resolve_precision("auto", CPU).name == "bf16" and probes == ["bf16", "bf16"]


def test_refresh_measures_again_and_caches_the_new_value(machine):
    probes = machine(ZEN5, speedup=0.8)
    assert resolve_precision("auto", CPU).name == "fp32"
    machine(ZEN5, speedup=1.9)  # e.g. the first probe ran on a busy machine
    assert resolve_precision("auto", CPU, refresh=True).name == "bf16"
    assert resolve_precision("auto", CPU).name == "bf16" and probes == ["bf16", "bf16"]


def test_auto_measures_where_the_flags_say_nothing(machine, tmp_path):
    probes = machine(None, "DEFAULT", speedup=2.5)
    choice = resolve_precision("auto", CPU)
    assert (choice.name, choice.reason) == ("bf16", "bf16 measured 2.5x faster than fp32 on this cpu")
    machine(None, "DEFAULT", speedup=0.5)
    assert resolve_precision("auto", CPU).name == "bf16"  # read from the cache, not measured again
    assert probes == ["bf16"]
    cached = json.loads((tmp_path / "cache" / "ganfw" / "precision.json").read_text())
    [(key, entry)] = cached.items()
    assert entry["speedup"] == 2.5 and "torch " + torch.__version__ in key


def test_a_slow_probe_means_fp32(machine):
    machine(None, "DEFAULT", speedup=1.1)  # faster, but not by enough to pay for the rounding
    assert resolve_precision("auto", CPU).name == "fp32"


def test_explicit_bf16_without_a_fast_path_runs_and_warns_with_the_slowdown(machine):
    probes = machine(AVX2, "AVX2", speedup=1 / 45)
    choice = resolve_precision("bf16", CPU)
    assert choice.name == "bf16"
    assert choice.warning == (
        "train.precision = 'bf16' on cpu: this CPU has no native bf16 (AVX2), and bf16 "
        'measured 45.0x slower than fp32 here; set train.precision = "auto" (or "fp32") '
        "for this machine's fast path"
    )
    machine(SAPPHIRE_RAPIDS)
    assert resolve_precision("bf16", CPU).warning is None
    assert resolve_precision("fp32", CPU).line() == "precision fp32 (from the recipe): no autocast"
    assert probes == ["bf16"]


def test_the_real_probe_measures_a_ratio(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    probe = precision.probe_speedup(CPU, "bf16")
    assert 0 < probe.speedup < 100 and (tmp_path / "ganfw" / "precision.json").exists() == probe.trusted


def test_an_unwritable_cache_only_costs_a_probe(machine, tmp_path):
    (tmp_path / "cache").write_text("a file where the cache directory should be")
    probes = machine(None, "DEFAULT", speedup=3.0)
    assert resolve_precision("auto", CPU).name == "bf16"
    assert resolve_precision("auto", CPU).name == "bf16"
    assert probes == ["bf16", "bf16"]


def _run_auto(tmp_path, root, env):
    recipe = tiny_recipe(tmp_path / "r.toml", root, train={"precision": "auto"})
    out = tmp_path / "run"
    result = run_cli("run", str(recipe), "--out", str(out), "--quiet", env={"XDG_CACHE_HOME": str(tmp_path), **env})
    assert result.returncode == 0, result.both
    start = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    state = load_checkpoint(out / "checkpoints" / "step_00000002.safetensors").state
    return result.stderr, start, state


def test_a_run_on_an_avx2_machine_trains_in_fp32_and_says_so(tmp_path, mnist_root):
    stderr, start, state = _run_auto(tmp_path, mnist_root, AVX2_TORCH)
    line = f"device cpu, {start['threads']} threads, precision auto -> fp32: this CPU has no native bf16 (AVX2)"
    assert line in stderr
    environment = start.pop("environment")
    assert start == {
        "event": "start",
        "step": 0,
        "device": "cpu",
        "threads": start["threads"],
        "precision": "fp32",
        "precision_requested": "auto",
        "precision_reason": "this CPU has no native bf16 (AVX2)",
    }
    assert environment["cpu_capability"] == "AVX2" and environment["gpu"] is None  # what the run saw
    assert environment["torch"] == torch.__version__ and environment["cpu"]
    assert state["precision"] == "fp32"


def test_a_run_records_what_auto_chose_on_this_machine(tmp_path, mnist_root, monkeypatch):
    stderr, start, state = _run_auto(tmp_path, mnist_root, {})
    assert f"precision auto -> {start['precision']}: {start['precision_reason']}" in stderr
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the run's probe, where it cached one
    monkeypatch.setattr(precision, "_measure", lambda device, dtype: Probe(1.0, spread=1.0))  # never trusted
    monkeypatch.setattr(precision, "REPROBE_PAUSE_S", 0.0)
    assert start["precision"] == state["precision"] == resolve_precision("auto", CPU).name


def test_check_shows_the_resolution(tmp_path, mnist_root):
    recipe = tiny_recipe(tmp_path / "r.toml", mnist_root, train={"precision": "bf16"})
    result = run_cli("check", str(recipe), env={"XDG_CACHE_HOME": str(tmp_path), **AVX2_TORCH})
    assert result.returncode == 0, result.both
    line = result.stdout.splitlines()[1]
    assert (
        line.startswith("# on this machine: device cpu, ")
        and "precision bf16 (from the recipe): this CPU has no native bf16 (AVX2), and bf16 measured " in line
        and "; warning: train.precision = 'bf16' on cpu: " in line
    )


def test_a_precision_the_device_cannot_autocast_to_is_refused_in_one_line(machine):
    machine(None, "DEFAULT", speedup=0.0)  # what the probe reports when autocast raises
    assert resolve_precision("auto", CPU).line() == "precision auto -> fp32: bf16 autocast fails on this cpu"
    with pytest.raises(
        UserError, match=r"^train.precision = 'bf16': bf16 autocast fails on this cpu; use \"auto\" or \"fp32\"$"
    ):
        resolve_precision("bf16", CPU)


def test_the_probe_counts_an_autocast_error_as_unsupported(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def unsupported(device, dtype):
        raise RuntimeError("autocast: bf16 is not supported on this device")

    monkeypatch.setattr(precision, "_measure", unsupported)
    assert precision.probe_speedup(CPU, "bf16").speedup == 0.0
