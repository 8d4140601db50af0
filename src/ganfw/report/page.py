"""The report page: the sections in one HTML document with its own style and script, and a
content security policy that forbids fetching anything (images are ``data:`` URIs)."""

from __future__ import annotations

from html import escape

from ganfw.report import sections
from ganfw.report.records import RunRecords

#: Nothing may be fetched: no network, no other file; only inline style, script and data: images.
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 20px 40px; color: #1b1b1b; }
header { border-bottom: 1px solid #ddd; margin-bottom: 8px; }
nav a { margin-right: 14px; }
h1 { font-size: 1.6em; margin: 18px 0 6px; } h2 { margin-top: 28px; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; margin: 6px 0; } th, td { text-align: left; padding: 3px 10px; vertical-align: top; }
table.kv th { color: #555; font-weight: 600; }
.overview { display: flex; flex-wrap: wrap; gap: 40px; } .overview section { min-width: 340px; }
table.warnings { width: 100%; } table.warnings td, table.warnings th { border-bottom: 1px solid #eee; }
pre { background: #f6f6f6; padding: 10px; max-height: 420px; overflow: auto; font-size: 13px; }
.frames img { image-rendering: pixelated; width: 336px; height: auto; border: 1px solid #ddd; }
.controls { display: flex; gap: 12px; align-items: center; margin-top: 6px; } #epoch-slider { width: 260px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure.chart { margin: 0; width: 368px; } figure.chart svg { width: 100%; height: auto; }
figcaption { font-weight: 600; }
ul.legend { list-style: none; margin: 2px 0; padding: 0; font-size: 12px; color: #444; }
ul.legend li { display: inline-block; margin-right: 12px; }
.swatch { display: inline-block; width: 12px; height: 4px; margin-right: 4px; vertical-align: middle; }
.grid { stroke: #e4e4e4; } .tick, .axis { font-size: 11px; fill: #444; }
.empty { color: #666; font-style: italic; }
"""

SCRIPT = """
(function () {
  var slider = document.getElementById("epoch-slider");
  if (!slider) return;
  var frames = document.querySelectorAll(".frames img");
  var label = document.getElementById("epoch-label");
  var play = document.getElementById("play");
  var timer = null;
  function show(i) {
    frames.forEach(function (frame, j) { frame.hidden = j !== i; });
    slider.value = String(i);
    label.textContent = "epoch " + frames[i].dataset.epoch;
  }
  function stop() { clearInterval(timer); timer = null; play.textContent = "Play"; }
  slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
  play.addEventListener("click", function () {
    if (timer) { stop(); return; }
    play.textContent = "Pause";
    if (Number(slider.value) === frames.length - 1) show(0);
    timer = setInterval(function () {
      var next = Number(slider.value) + 1;
      if (next >= frames.length) { stop(); return; }
      show(next);
      if (next === frames.length - 1) stop();  // the last epoch: Play again at once
    }, 350);
  });
})();
"""

CONTENTS = (
    ("samples", "Samples"),
    ("curves", "Curves"),
    ("scores", "Scores"),
    ("final", "Final metrics"),
    ("warnings", "Health"),
    ("environment", "Environment"),
    ("recipe", "Recipe"),
)


def render(run: RunRecords) -> str:
    """The whole report of ``run`` as one self-contained HTML document."""
    overview = f'<div class="overview">{sections.samples(run)}{sections.summary(run)}</div>'
    body = "".join(
        build(run)
        for build in (
            sections.curves,
            sections.scores,
            sections.final_metrics,
            sections.warnings,
            sections.environment,
            sections.recipe,
        )
    )
    links = "".join(f'<a href="#{anchor}">{title}</a>' for anchor, title in CONTENTS)
    title = f"ganfw run {run.name}"
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{escape(title)}</h1><nav>{links}</nav></header>"
        f"{overview}{body}<script>{SCRIPT}</script></body></html>\n"
    )
