"""``precision = "auto"`` never trusts a probe taken on a busy machine: the load around a probe
(load average, other processes' CPU time, the spread of its repeats), the second probe after a
burst, the hardware's guess for the run, what is cached, and the AVX2 path that probes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ganfw import precision
from ganfw.precision import CpuClock, Probe, cache_path, probe_speedup, resolve_precision
from tests.training.test_precision import AVX2_TORCH, CPU, ZEN5

#: A quiet 2-core machine, and the same machine busy with other work during the probe.
QUIET = {"cores": 2, "threads": 2, "average": 0.4, "others": 0.05, "spread": 0.03}
BUSY = {**QUIET, "others": 1.5, "spread": 0.4}
FP16 = Probe(1 / 20, **QUIET)


def pretend_cpu(monkeypatch: pytest.MonkeyPatch, flags: frozenset[str] | None, capability: str = "AVX512") -> None:
    """Make ``precision`` see a CPU with these flags, torch at this capability."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)


def pretend_zen5(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Probe]:
    """A fresh user cache and an AVX512-BF16 CPU without AMX, whose bf16 probes answer, in turn,
    the readings the test puts in the returned list (each taken off as it is measured; none
    left: an IndexError) and whose fp16 probes read 20x slower; no pause between probes."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pretend_cpu(monkeypatch, ZEN5)
    monkeypatch.setattr(precision, "REPROBE_PAUSE_S", 0.0)
    queue: list[Probe] = []
    monkeypatch.setattr(precision, "_measure", lambda device, dtype: queue.pop(0) if dtype == "bf16" else FP16)
    return queue


@pytest.fixture
def readings(monkeypatch, tmp_path) -> Iterator[list[Probe]]:
    """:func:`pretend_zen5`; every reading the test gave is measured."""
    queue = pretend_zen5(monkeypatch, tmp_path)
    yield queue
    assert queue == [], "a reading the test expected to be measured was not"


def cached() -> dict:
    return json.loads(cache_path().read_text()) if cache_path().exists() else {}


def test_a_busy_probe_is_not_cached_and_auto_takes_the_guess_until_a_quiet_probe(readings):
    readings += [Probe(1.07, **BUSY), Probe(1.09, **BUSY)]  # the reading under load
    choice = resolve_precision("auto", CPU)
    assert choice.line() == (
        "precision auto -> bf16: this CPU has AVX512-BF16, and bf16 measured 1.1x faster than fp32 on this cpu "
        "while the machine was busy (other processes took 1.5 cores during the probe; its repeats varied by 40%), "
        "so this run takes the guess for AVX512-BF16 (bf16) and the next run probes again"
    )
    assert cached() == {} and choice.probe.speedup == 1.09  # the second reading
    again = resolve_precision("auto", CPU)  # another run in this process (a sweep): no probe
    assert again.probe is choice.probe and again.name == "bf16"
    precision._UNTRUSTED.clear()  # the next process
    readings.append(Probe(1.45, **QUIET))  # ... on a quiet machine
    assert (
        resolve_precision("auto", CPU).reason
        == "this CPU has AVX512-BF16, and bf16 measured 1.4x faster than fp32 on this cpu"
    )
    [entry] = cached().values()
    assert entry["speedup"] == 1.45 and entry["others"] == QUIET["others"]
    assert resolve_precision("auto", CPU).probe.cached  # and the run after that reads it


def test_a_burst_is_probed_again_and_the_quiet_probe_decides(readings):
    readings += [Probe(0.9, **BUSY), Probe(1.05, **QUIET)]
    choice = resolve_precision("auto", CPU)
    assert choice.name == "fp32" and choice.reason.endswith("bf16 measured 1.1x faster than fp32 on this cpu")
    assert [entry["speedup"] for entry in cached().values()] == [1.05]  # a quiet fp32 verdict stands


def test_a_sustained_load_is_probed_once_and_named(readings):
    readings.append(Probe(1.07, **{**QUIET, "average": 3.6}))  # no second reading: not probed again
    choice = resolve_precision("auto", CPU)
    assert "while the machine was busy (load average 3.6 on 2 cores), so this run takes" in choice.reason
    assert choice.name == "bf16" and cached() == {}


def test_where_the_flags_say_nothing_the_guess_is_fp32(readings, monkeypatch):
    pretend_cpu(monkeypatch, None, "DEFAULT")
    readings += [Probe(2.5, **BUSY), Probe(2.4, **BUSY)]
    choice = resolve_precision("auto", CPU)
    assert choice.name == "fp32" and choice.reason.endswith(
        "so this run takes the safe guess (fp32) and the next run probes again"
    )


def test_an_explicit_precision_gives_a_busy_reading_with_its_caveat(readings, monkeypatch):
    pretend_cpu(monkeypatch, ZEN5 - {"avx512_bf16"})
    readings += [Probe(0.5, **BUSY), Probe(0.6, **BUSY)]
    choice = resolve_precision("bf16", CPU)
    assert choice.reason == (
        "this CPU has no native bf16 (AVX-512), and bf16 measured 1.7x slower than fp32 here while the machine "
        "was busy (other processes took 1.5 cores during the probe; its repeats varied by 40%)"
    )
    assert choice.warning and cached() == {}


def test_a_reading_far_below_fp32_stands_on_a_busy_machine(readings):
    readings.append(Probe(1 / 30, **BUSY))  # no load makes bf16 30x slower: cached, not probed again
    assert resolve_precision("auto", CPU).name == "fp32"
    assert [entry["speedup"] for entry in cached().values()] == [1 / 30]


@pytest.mark.parametrize(("load", "doubts"), [
    (QUIET, []),
    ({**QUIET, "average": 1.2}, []),  # this process counts for one
    ({**QUIET, "average": 2.4}, ["load average 2.4 on 2 cores"]),
    ({**QUIET, "others": 0.4}, ["other processes took 0.4 cores during the probe"]),
    ({**QUIET, "spread": 0.3}, ["its repeats varied by 30%"]),
    ({**QUIET, "cores": 16, "threads": 8, "others": 6.0, "average": 7.0}, []),  # the probe's 8 cores stayed free
    ({**QUIET, "others": None, "average": None}, []),  # not measurable here: the spread alone decides
])  # fmt: skip
def test_what_counts_as_busy(load, doubts):
    assert Probe(1.5, **load).doubts() == doubts


def test_the_load_is_measured_around_the_timed_steps(monkeypatch):
    clocks = iter([CpuClock(wall=100.0, own=10.0, machine=1000.0), CpuClock(wall=102.0, own=13.0, machine=1005.0)])
    monkeypatch.setattr(precision, "cpu_clock", lambda: next(clocks))
    monkeypatch.setattr(precision, "load_average", lambda: 0.5)
    fp32, bf16 = [0.10, 0.12, 0.10, 0.11, 0.10], [0.07, 0.06, 0.09, 0.066]
    monkeypatch.setattr(precision, "_time_steps", lambda device, dtype: (fp32, bf16))
    probe = precision._measure(CPU, "bf16")
    assert (probe.speedup, probe.spread, probe.others, probe.average) == (1.6667, 0.1333, 1.0, 0.5)
    assert (probe.cores, probe.threads) == (os.cpu_count(), torch.get_num_threads())
    assert (
        probe.conditions()
        == f"{probe.threads} threads on {probe.cores} cores, load average 0.5, other processes 1.0 cores, repeats within 13%"
    )


def test_a_cached_probe_round_trips_and_anything_else_is_measured_again(readings):
    probe = Probe(1.7, **QUIET)
    assert Probe.from_cache(json.loads(json.dumps(probe.cache_entry()))) == Probe(**{**probe.__dict__, "cached": True})
    busy = Probe(1.7, **BUSY).cache_entry()  # as no version of ganfw caches it
    for entry in (1.7, {"speedup": "fast"}, {**probe.cache_entry(), "cores": None}, {"speedup": 1.7}, busy):
        assert Probe.from_cache(entry) is None, entry
    cache_path().parent.mkdir(parents=True)
    cache_path().write_text(json.dumps({precision._machine_key(CPU, "bf16"): 1.07}))  # from before loads were measured
    readings.append(Probe(1.8, **QUIET))
    assert probe_speedup(CPU, "bf16").speedup == 1.8


@pytest.fixture
def busy_processes() -> Iterator[None]:
    """Two processes spinning on the CPU for the test's duration, killed after it."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="other processes' CPU time is read from /proc/stat")
def test_real_busy_processes_during_a_probe_keep_it_out_of_the_cache(busy_processes, monkeypatch, tmp_path):
    """The load is measured for real (load average, /proc/stat) around a stand-in for the timed
    steps that waits 0.3 s and reads bf16 1.07x faster, as the issue's busy probe did; the probe
    uses every core, as a run does by default."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    pretend_cpu(monkeypatch, ZEN5)
    monkeypatch.setattr(precision, "REPROBE_PAUSE_S", 0.0)
    monkeypatch.setattr(precision, "_time_steps", lambda device, dtype: time.sleep(0.3) or ([0.107] * 5, [0.1] * 4))
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    try:
        choice = resolve_precision("auto", CPU)
    finally:
        torch.set_num_threads(threads)
    assert choice.name == "bf16" and "other processes took" in choice.reason, choice.reason
    assert choice.probe.speedup == 1.07 and not cache_path().exists()


def test_an_avx2_machine_runs_no_probe(tmp_path):
    """torch held to AVX2 (as on a CPU without AVX-512): ``auto`` is fp32 from the flags; the
    probe is not run at all (it would fail the process)."""
    script = textwrap.dedent("""
        import sys, torch
        from ganfw import precision
        precision._measure = lambda device, dtype: sys.exit("probed")
        print(precision.resolve_precision("auto", torch.device("cpu")).line())
    """)
    env = {**os.environ, **AVX2_TORCH, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "precision auto -> fp32: this CPU has no native bf16 (AVX2)\n"
    assert not (tmp_path / "ganfw" / "precision.json").exists()
