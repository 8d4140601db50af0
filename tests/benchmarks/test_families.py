"""benchmarks/families.py: each family's step time in ganfw against a plain PyTorch loop.

Its ``--smoke`` mode runs as a user runs it and prints the lines docs/real-data.md shows; and the
plain loop it times is a fair one: per G update it does the arithmetic ganfw's step does (the
same networks, D and G passes and schedule), counted by torch's FLOP counter.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.helpers.benchmarks import BENCHMARKS, NUMBER, one, run_benchmark, tables

pytestmark = pytest.mark.slow

VARIANTS = [
    ("dcgan", "folder_dcgan"),
    ("cdcgan", "folder_dcgan"),
    ("resnet", "cifar10_resnet"),
    ("cresnet", "cifar10_resnet_cond"),
    ("stylegan2", "cifar10_stylegan2"),
    ("cstylegan2", "cifar10_cstylegan2"),
]


@pytest.fixture
def families(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/families.py as a module (benchmarks/ on the path, as when it runs as a script)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("families")


def test_smoke_prints_a_row_per_family_and_size_and_a_line_per_family(tmp_path: Path) -> None:
    lines = run_benchmark("families.py", "--conditional", "--sizes", "32", cwd=tmp_path)
    assert lines[0].startswith("machine: ") and lines[0].endswith(" 1 threads")
    one(
        lines,
        r"device: cpu, 1 rounds x 1 G updates per side, ganfw options: train.precision=auto "
        r"train.channels_last=true; precision auto -> (fp32|bf16): .+",
    )
    one(lines, r"\| family \| recipe \| images \| batch \| plain s/step \| ganfw s/step \| speedup \|")
    (rows,) = tables(lines)
    assert [row[:4] for row in rows] == [[name, recipe, "3x32x32", "4"] for name, recipe in VARIANTS]
    for row in rows:
        plain, ganfw, speedup = map(float, row[4:])
        assert plain > 0 and ganfw > 0
        assert speedup == pytest.approx(plain / ganfw, rel=0.02)
    finals = [one(lines, rf"{name}: speedup ({NUMBER}) at 3x32x32") for name, _ in VARIANTS]
    assert lines[-len(VARIANTS) :] == [m[0] for m in finals]
    assert [m[1] for m in finals] == [row[6] for row in rows]


def test_plain_loop_does_the_arithmetic_of_ganfws_step(families: ModuleType, tmp_path: Path) -> None:
    """One G update of each side (after a first one, which holds the lazy R1 that the FLOP counter
    cannot follow through autograd.grad), both in fp32, on 28x28 grey images."""
    images = families.write_images(tmp_path / "images", 28, 1, classes=2, per_class=8)
    device = torch.device("cpu")
    for i, family in enumerate(f for pair in families.FAMILIES.values() for f in pair):
        recipe = families.load_family_recipe(family, images, True, ["train.precision=fp32"])
        loops = [families.PlainLoop(recipe, images, device), families.GanfwLoop(recipe, tmp_path / f"run{i}", device)]
        flops = []
        for loop in loops:
            loop.step()
            counter = FlopCounterMode(display=False)
            with counter:
                loop.step()
            flops.append(counter.get_total_flops())
        assert flops[0] == flops[1] > 0, family.name


def test_plain_loop_reads_loss_penalty_and_schedule_from_the_recipe(families: ModuleType, tmp_path: Path) -> None:
    images = families.write_images(tmp_path / "images", 32, 3, classes=2, per_class=1)
    found = {}
    for name, _ in VARIANTS[::2]:
        recipe = families.load_family_recipe(families.FAMILIES[name][0], images, False, [])
        found[name] = (*families.plain_objective(recipe), families.schedule_period(recipe))
    assert found == {
        "dcgan": ("non-saturating", None, 1),
        "resnet": ("hinge", None, 5),
        "stylegan2": ("non-saturating", (0.01, 16), 1),
    }
    with_path_length = families.load_family_recipe(
        families.FAMILIES["stylegan2"][0], images, False, ["loss.params.weight=2"]
    )
    with pytest.raises(SystemExit, match=re.escape("no path-length penalty (--set loss.params.weight=0)")):
        families.plain_objective(with_path_length)
