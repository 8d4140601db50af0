"""``ganfw report``: the HTML page of a real (tiny) training run, opened in a real headless
Chromium (Debian's ``chromium`` package, driven by playwright): it renders, every image loads, no
error is logged, nothing is fetched, the slider and the play button change the epoch shown, the
charts are there and every value is escaped. Also: its one-line refusals, its empty states, the
callback, and that ``ganfw.report`` needs no torch."""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image, ImageStat

from ganfw.cli import main
from ganfw.errors import UserError
from ganfw.report import write_report
from ganfw.report.charts import Series, line_chart, nice_ticks, series_of, thin
from ganfw_plugins.callbacks.report import ReportCallback
from tests.helpers.cli import cli

REPO = Path(__file__).resolve().parents[2]

#: A warning added by hand, its message full of markup that must show as text.
WARNING = {
    "event": "warning",
    "step": 4,
    "epoch": 1,
    "source": "health",
    "code": "d-winning",
    "message": "D wins <b>&</b> <script>window.injected = 1</script>; try a lower D rate",
}


def ganfw(*args: str) -> None:
    """Run ``ganfw ARGS`` in-process; fail unless it succeeds."""
    try:
        main(list(args))
    except SystemExit as e:
        assert not e.code, f"ganfw {' '.join(args)} exited with {e.code}"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mnist_root) -> Path:
    """A real two-epoch run of recipes/mnist_quick.toml on 512 images, with a health warning
    added (besides any the run gave)."""
    out = tmp_path_factory.mktemp("report") / "run"
    args = [
        "run",
        str(REPO / "recipes" / "mnist_quick.toml"),
        "--set",
        "train.epochs=2",
        "--set",
        "data.limit=512",
        "--set",
        "eval.n=100",
        "--set",
        f"data.root={mnist_root}",
        "--out",
        str(out),
    ]
    ganfw(*args)
    if (out / "report.html").is_file():  # the report callback's, kept before the tests rewrite it
        shutil.copy(out / "report.html", out.parent / "written_by_the_run.html")
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(WARNING) + "\n")
    return out


@pytest.fixture(scope="module")
def browser():
    """Headless Debian chromium through playwright; the test fails (never skips) without them."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("chromium is missing: install Debian's chromium package (apt-get install chromium)", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: pip install -e '.[dev]'", pytrace=False)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, run_dir):
    """The report ``ganfw report`` writes of ``run_dir``, loaded in a 1200-pixel-wide page;
    ``page.problems`` collects console errors and warnings, page errors and every request that is
    not the file itself or a data: URI."""
    ganfw("report", str(run_dir))
    url = (run_dir / "report.html").resolve().as_uri()
    tab = browser.new_page(viewport={"width": 1200, "height": 900})
    tab.problems = problems = []

    def on_console(message) -> None:
        if message.type in ("error", "warning"):
            problems.append(f"console {message.type}: {message.text}")

    def on_request(request) -> None:
        if request.url != url and not request.url.startswith("data:"):
            problems.append(f"fetch: {request.url}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("request", on_request)
    tab.goto(url, wait_until="load")
    yield tab
    tab.close()


def visible_epoch(page) -> str:
    """The epoch of the one sample grid shown."""
    shown = page.eval_on_selector_all(".frames img", "imgs => imgs.filter(i => !i.hidden).map(i => i.dataset.epoch)")
    assert len(shown) == 1, shown
    return shown[0]


def test_renders_without_errors_or_fetches(page):
    assert page.problems == []
    assert page.title().startswith("ganfw run ")
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("L")
    assert shot.width == 1200 and shot.height > 1500
    assert ImageStat.Stat(shot).stddev[0] > 20, "the screenshot is blank"
    assert len(shot.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50


def test_every_image_loaded(page, run_dir):
    images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.src.slice(0, 22)])")
    assert len(images) == len(list((run_dir / "samples").glob("image_at_epoch_*.png"))) == 2
    assert all(complete and width > 0 and src == "data:image/png;base64," for complete, width, src in images), images


def test_slider_and_play_change_the_epoch(page):
    from playwright.sync_api import expect

    assert visible_epoch(page) == "2" and page.inner_text("#epoch-label") == "epoch 2"
    page.focus("#epoch-slider")
    page.keyboard.press("Home")
    assert visible_epoch(page) == "1" and page.inner_text("#epoch-label") == "epoch 1"
    page.click("#play")
    expect(page.locator("#epoch-label")).to_have_text("epoch 2", timeout=5000)
    # stopped as the last epoch showed (the same timer tick), not one tick later
    assert visible_epoch(page) == "2" and page.inner_text("#play") == "Play"
    assert page.problems == []


def test_charts_and_sections(page):
    titles = page.eval_on_selector_all("figure.chart", "fs => fs.map(f => f.dataset.title)")
    assert {"Losses", "D's outputs", "fid"} <= set(titles)
    lines = page.eval_on_selector_all("figure.chart svg g.series", "gs => gs.map(g => g.dataset.name)")
    assert {"d_loss", "g_loss", "d_real", "d_fake", "d_acc", "fid"} <= set(lines)
    assert page.eval_on_selector_all("svg polyline", "ps => ps.every(p => p.points.length > 0)")
    assert 'name = "least-squares"' in page.inner_text("#recipe")
    final = page.inner_text("#final")
    assert "fid" in final and "judge:mnist" in final and "n_generated" in final
    environment = page.inner_text("#environment")
    assert "device" in environment and "cpu" in environment and "why this precision" in environment


def test_warnings_are_listed_and_escaped(page):
    rows = page.eval_on_selector_all("#warnings tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.textContent))")
    assert ["d-winning", "4", "1", WARNING["message"]] in rows[1:]
    assert page.evaluate("window.injected") is None and page.query_selector("#warnings b") is None


def test_the_run_keeps_its_report(run_dir):
    """``[output] report = true`` (the default) adds the report callback: the run left a report
    of its last epoch."""
    kept = run_dir.parent / "written_by_the_run.html"
    assert kept.is_file(), "the run wrote no report.html"
    html = kept.read_text(encoding="utf-8")
    assert html.count('<img class="frame"') == 2 and 'data-epoch="2"' in html


def test_default_and_chosen_output(run_dir, tmp_path):
    assert write_report(run_dir) == run_dir / "report.html"
    out = write_report(run_dir, tmp_path / "new" / "page.html")
    assert out == tmp_path / "new" / "page.html" and out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not list(out.parent.glob(".*.tmp"))


def test_cli_refusals_are_one_line(capsys, tmp_path):
    code, out, err = cli(capsys, "report", str(tmp_path / "missing"))
    assert (code, out) == (2, "") and err.strip() == f"error: {tmp_path / 'missing'}: no such run directory"


def test_refusals_are_one_line(tmp_path):
    with pytest.raises(UserError, match=r"no such run directory$"):
        write_report(tmp_path / "missing")
    with pytest.raises(UserError, match=r"not a run directory \(no metrics.jsonl\)$"):
        write_report(tmp_path)


def test_empty_states_and_corrupt_lines(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"event": "start", "step": 0, "device": "cpu"}\n{"torn": \nnot json\n')
    html = write_report(tmp_path).read_text(encoding="utf-8")
    for says in (
        "No sample grid has been written yet.",
        "No training-health warnings were seen.",
        "No evaluation was logged",
        "This run predates environment logging.",
        "The run directory holds no recipe.toml.",
        "No data logged.",
    ):
        assert says in html


def test_callback_writes_on_rank_zero_only(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"event": "start", "step": 0}\n')
    callback = ReportCallback(None)
    callback.on_epoch_end(SimpleNamespace(is_main=False, run_dir=None))
    assert not (tmp_path / "report.html").exists()
    callback.on_run_end(SimpleNamespace(is_main=True, run_dir=tmp_path))
    assert (tmp_path / "report.html").is_file()


def test_charts_from_numbers():
    records = [
        {"step": 1, "v": 1.0},
        {"step": 2, "v": math.nan},
        {"step": 3, "v": math.inf},
        {"step": 4},
        {"step": 5, "v": 2},
    ]
    assert series_of(records, "v").points == [(1.0, 1.0), (5.0, 2.0)]
    assert len(thin([(float(i), 0.0) for i in range(1001)], 400)) <= 400
    assert nice_ticks(0.13, 0.97) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(1, 3, whole=True) == [1, 2, 3]
    svg = line_chart("a <b>", [Series("x & y", [(1.0, 5.0)])], "step")
    assert "a &lt;b&gt;" in svg and "x &amp; y" in svg and "<circle" in svg


def test_report_package_does_not_import_torch():
    code = "import sys, ganfw.report, ganfw.report.page; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
