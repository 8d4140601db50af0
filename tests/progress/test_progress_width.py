"""The progress display at any terminal width: the rich line keeps step, epoch, rate and ETA at
80 columns and leaves out the bar and the less important parts first (60, 80 and 140 columns on
a recording console, with a fixed clock); the plain ``--quiet`` lines are unchanged."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.text import Text

from ganfw.progress import PlainReporter, RichReporter, fit

#: A step window of epoch 8 (158 steps an epoch, 5,000 steps in all).
RECORD = {"epoch": 8, "d_loss": 0.6931, "g_loss": 0.7012, "d_real": 0.52, "d_fake": 0.48, "images_per_s": 323.4}


def shown(width: int, *, logged: bool = True, warning: str = "") -> str:
    """What a terminal ``width`` columns wide shows of a 5,000-step run: at step 400 after 10 s,
    then (the line shown) at step 1,234 after 31 s (``logged``: else before any step window)."""
    now = [0.0]
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None, log_time=False, log_path=False)
    reporter = RichReporter(console, get_time=lambda: now[0])
    reporter.start(total=5000, done=0, steps_per_epoch=158)
    if logged:
        now[0] = 10.0
        reporter.update(400, {**RECORD, "epoch": 3})
        now[0] = 31.0
        reporter.update(1234, RECORD)
    if warning:
        reporter.warning(warning, "D wins")
    reporter.close()
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


@pytest.mark.parametrize(("width", "line"), [
    (60, "epoch 8/32  1234/5000  323 img/s  0:00:31  ETA 0:01:35"),
    (80, "epoch 8/32  1234/5000  d_loss 0.693 g_loss 0.701  323 img/s  ETA 0:01:35"),
    (140, "epoch 8/32  ━━━━━━━" + " " * 23 + "  1234/5000  d_loss 0.693 g_loss 0.701  D(real) 0.52 D(fake) 0.48  "
          "323 img/s  0:00:31  ETA 0:01:35"),  # a bar of the 30 columns left, 24.7 % done
])  # fmt: skip
def test_the_line_keeps_what_matters_most_at_each_width(width, line):
    assert shown(width) == line


def test_a_warning_stays_on_the_line_at_80_columns_and_is_printed_in_full():
    assert shown(80, warning="d-winning") == (
        "warning (d-winning): D wins\nepoch 8/32  1234/5000  323 img/s  0:00:31  ETA 0:01:35  warning: d-winning"
    )


def test_before_the_first_step_window_the_bar_fills_the_room():
    bar = " " * 35  # 80 columns less 45 for the rest; an empty bar is blank without colours
    assert shown(80, logged=False) == f"epoch 1/32  {bar}     0/5000  0:00:00  ETA -:--:--"


@pytest.mark.parametrize(("width", "line"), [(20, "1234/5000  323 img/s"), (6, "1234/…")])
def test_a_very_narrow_terminal_keeps_the_step_count(width, line):
    assert shown(width) == line


def test_fit_takes_the_most_important_parts_that_fit_in_their_order():
    parts = [(2, Text("cc")), None, (0, Text("aaaa")), (1, Text("bbbbbbbbbb")), (3, Text("d"))]
    bar = lambda width: Text("#" * width)  # noqa: E731
    assert fit(parts, 12, bar).plain == "cc  aaaa  d"  # b does not fit: c and d still do
    assert fit(parts, 30, bar).plain == "cc  aaaa  bbbbbbbbbb  d"  # 5 columns left: too few for a bar
    assert fit(parts, 40, bar).plain == "cc  " + "#" * 15 + "  aaaa  bbbbbbbbbb  d"  # 40 - 23 - 2


def test_the_plain_lines_are_unchanged(capsys):
    reporter = PlainReporter(min_interval=0.0)
    reporter.start(total=5000, done=0, steps_per_epoch=158)
    reporter.update(1234, RECORD)
    reporter.epoch_end(8, 32)
    reporter.warning("d-winning", "D wins")
    reporter.message("stopped at step 1234")
    reporter.close()
    lines = capsys.readouterr().err.splitlines()
    assert all(re.match(r"\[\d\d:\d\d:\d\d\] ", line) for line in lines)
    assert [line[11:] for line in lines] == [
        "training: step 0/5000 (158 steps per epoch)",
        "epoch 8 step 1234/5000  d_loss 0.693  g_loss 0.701  D(real) 0.52  D(fake) 0.48  323 img/s",
        "epoch 8/32 done",
        "warning (d-winning): D wins",
        "stopped at step 1234",
    ]
