"""Fault injection (issue 19), a run directory laid as a trap for ``ganfw report``, whose page is
meant to be shared: it embeds only regular PNG files inside the run directory. A sample grid that
links to a secret file or to a PNG elsewhere, a FIFO named like a grid (never opened for long:
the report does not wait on it), a file named like a grid that is no PNG, a ``recipe.toml`` that
links to a secret: each is left out, and the report is written."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from PIL import Image

from tests.helpers.cli import run_cli

SECRET = "root:x:0:0:the secret of this machine\n"


def grid(path: Path) -> Path:
    Image.new("L", (10, 10), 128).save(path)
    return path


def trap(tmp_path: Path) -> Path:
    """A run directory whose epoch-1 grid is real and whose other grids and recipe are traps."""
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    outside = grid(tmp_path / "elsewhere.png")
    run = tmp_path / "run"
    samples = run / "samples"
    samples.mkdir(parents=True)
    (run / "metrics.jsonl").write_text('{"step": 1, "d_loss": 0.5, "g_loss": 0.7}\n')
    (run / "recipe.toml").symlink_to(secret)
    grid(samples / "image_at_epoch_0001.png")
    (samples / "image_at_epoch_0002.png").symlink_to(secret)
    os.mkfifo(samples / "image_at_epoch_0003.png")
    (samples / "image_at_epoch_0004.png").write_text(SECRET)
    (samples / "image_at_epoch_0005.png").symlink_to(outside)
    return run


def test_report_embeds_only_regular_png_files_inside_the_run(tmp_path):
    run = trap(tmp_path)
    result = run_cli("report", str(run), timeout=120)  # a FIFO read would hang it past the timeout
    assert result.returncode == 0, result.stderr
    page = (run / "report.html").read_text(encoding="utf-8")
    assert page.count('<img class="frame"') == 1 and 'data-epoch="1"' in page
    assert "the secret of this machine" not in page
    assert base64.b64encode(SECRET.encode()).decode()[:20] not in page
    assert "The run directory holds no recipe.toml." in page


def test_a_samples_folder_that_links_out_of_the_run_is_not_embedded(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    grid(elsewhere / "image_at_epoch_0001.png")
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1, "d_loss": 0.5}\n')
    (run / "samples").symlink_to(elsewhere)
    result = run_cli("report", str(run), timeout=120)
    assert result.returncode == 0, result.stderr
    page = (run / "report.html").read_text(encoding="utf-8")
    assert '<img class="frame"' not in page and "No sample grid has been written yet." in page
