"""The report's sections, each an HTML fragment built from a run's records (every value
escaped)."""

from __future__ import annotations

import base64
import json
from html import escape
from typing import Any

from ganfw.report.charts import line_chart, series_of
from ganfw.report.records import RunRecords


def section(anchor: str, title: str, body: str) -> str:
    """A titled ``<section>`` that the page's contents link to as ``#anchor``."""
    return f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'


def empty(text: str) -> str:
    """What a section says when the run logged nothing for it."""
    return f'<p class="empty">{escape(text)}</p>'


def text(value: Any) -> str:
    """A record's value as escaped text (tables and lists as JSON, floats to 6 significant digits,
    ``None`` as "none")."""
    if value is None:
        return "none"
    if isinstance(value, float):
        return escape(f"{value:.6g}")
    if isinstance(value, (dict, list)):
        return escape(json.dumps(value))
    return escape(str(value))


def key_values(rows: dict[str, Any]) -> str:
    """A two-column table, one row per key."""
    body = "".join(f"<tr><th>{escape(str(k))}</th><td>{text(v)}</td></tr>" for k, v in rows.items())
    return f'<table class="kv">{body}</table>'


def summary(run: RunRecords) -> str:
    """The headline: how far the run got, how long it took, how it ended."""
    last = run.epochs[-1] if run.epochs else {}
    steps = max((r["step"] for r in run.windows + run.epochs), default=0)
    facts: dict[str, Any] = {"epochs done": last.get("epoch", 0), "steps": steps}
    if "elapsed_s" in last:
        facts["training seconds"] = last["elapsed_s"]
    if run.evals:
        facts.update({k.removeprefix("eval/"): v for k, v in run.evals[-1].items() if k.startswith("eval/")})
    if run.stops:
        facts["stopped"] = run.stops[-1].get("reason", "")
    facts["health warnings"] = len(run.warnings)
    return section("glance", "At a glance", key_values(facts))


def recipe(run: RunRecords) -> str:
    """The resolved recipe, as the run wrote it."""
    if run.recipe is None:
        return section("recipe", "Recipe", empty("The run directory holds no recipe.toml."))
    return section("recipe", "Recipe", f"<pre>{escape(run.recipe)}</pre>")


def data_uri(png: bytes) -> str:
    """A PNG file's bytes as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def samples(run: RunRecords) -> str:
    """Every epoch's sample grid, the last one shown, with a slider and a play button."""
    if not run.grids:
        return section("samples", "Samples", empty("No sample grid has been written yet."))
    last = len(run.grids) - 1
    frames = "".join(
        f'<img class="frame" src="{data_uri(png)}" alt="samples after epoch {epoch}" data-epoch="{epoch}"'
        f"{'' if i == last else ' hidden'}>"
        for i, (epoch, png) in enumerate(run.grids)
    )
    controls = (
        f'<div class="controls"><button id="play" type="button">Play</button>'
        f'<input id="epoch-slider" type="range" min="0" max="{last}" value="{last}" aria-label="epoch">'
        f'<span id="epoch-label">epoch {run.grids[-1][0]}</span></div>'
    )
    return section("samples", "Samples", f'<div class="frames">{frames}</div>{controls}')


def curves(run: RunRecords) -> str:
    """Losses, penalties and loss terms, and D's outputs, against the step."""
    keys = sorted({k for r in run.windows for k in r})
    penalties = [k for k in keys if k.startswith("penalty/")]
    terms = [k for k in keys if k.startswith(("d/", "g/"))]
    charts = [line_chart("Losses", [series_of(run.windows, k) for k in ("d_loss", "g_loss")], "step")]
    if penalties:
        charts.append(line_chart("Penalties", [series_of(run.windows, k) for k in penalties], "step"))
    if terms:
        charts.append(line_chart("Loss terms", [series_of(run.windows, k) for k in terms], "step"))
    charts.append(line_chart("D's outputs", [series_of(run.windows, k) for k in ("d_real", "d_fake", "d_acc")], "step"))
    return section("curves", "Training curves", f'<div class="charts">{"".join(charts)}</div>')


def scores(run: RunRecords) -> str:
    """One chart per evaluation score, against the epoch."""
    keys = sorted({k for r in run.evals for k in r if k.startswith("eval/")})
    if not keys:
        return section("scores", "Evaluation scores", empty("No evaluation was logged (see [eval] in the recipe)."))
    names = [k.removeprefix("eval/") for k in keys]
    charts = [line_chart(name, [series_of(run.evals, k, "epoch", name)], "epoch") for k, name in zip(keys, names)]
    return section("scores", "Evaluation scores", f'<div class="charts">{"".join(charts)}</div>')


def final_metrics(run: RunRecords) -> str:
    """The last evaluation's scores and the protocol they were measured under."""
    if not run.evals:
        return section("final", "Final metrics", empty("No evaluation was logged."))
    last = run.evals[-1]
    found = {k.removeprefix("eval/"): v for k, v in last.items() if k.startswith("eval/")}
    epoch, n = text(last.get("epoch", "?")), text(last.get("n", "?"))
    where = f"<p>After epoch {epoch} (step {text(last['step'])}), on {n} samples.</p>"
    protocol = last.get("protocol")
    rules = key_values(protocol) if isinstance(protocol, dict) else empty("The record gives no protocol.")
    return section("final", "Final metrics", f"{where}{key_values(found)}<h3>Protocol</h3>{rules}")


def warnings(run: RunRecords) -> str:
    """The training-health warnings: when, what was seen, what to try."""
    if not run.warnings:
        return section("warnings", "Training health", empty("No training-health warnings were seen."))
    cells = ([w.get("code", ""), w["step"], w.get("epoch", ""), w.get("message", "")] for w in run.warnings)
    rows = "".join("<tr>" + "".join(f"<td>{text(c)}</td>" for c in row) + "</tr>" for row in cells)
    head = "<tr><th>code</th><th>step</th><th>epoch</th><th>what was seen; what to try</th></tr>"
    return section("warnings", "Training health", f'<table class="warnings">{head}{rows}</table>')


def environment(run: RunRecords) -> str:
    """Where the run trained: device, threads, precision (and why), and the software and
    machine when the run recorded them."""
    start = run.start
    if start is None:
        return section("environment", "Environment", empty("The run logged no start record."))
    precision = f"{start.get('precision', '?')} (asked for {start.get('precision_requested', '?')})"
    basics = {
        "device": start.get("device", "?"),
        "threads": start.get("threads", "?"),
        "precision": precision,
        "why this precision": start.get("precision_reason", ""),
    }
    env = start.get("environment")
    extra = key_values(env) if isinstance(env, dict) else empty("This run predates environment logging.")
    return section("environment", "Environment", f"{key_values(basics)}<h3>Software and machine</h3>{extra}")
