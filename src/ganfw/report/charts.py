"""Line charts as inline SVG, drawn from numbers alone (no plotting library)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 380, 220
#: Plot area margins: left (tick labels), right (half the last tick label), top, bottom (tick
#: labels, axis name).
LEFT, RIGHT, TOP, BOTTOM = 50, 22, 8, 38
#: Colour of each series in turn (colour-blind safe, after Okabe and Ito).
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
#: At most this many points of a series are drawn; longer series are averaged in buckets.
MAX_POINTS = 400
#: Series of at most this many points get a dot on each.
MAX_DOTS = 30

Point = tuple[float, float]


@dataclass(frozen=True)
class Series:
    """One line: its name (for the legend) and its ``(x, y)`` points."""

    name: str
    points: list[Point]


def series_of(records: list[dict], key: str, x_key: str = "step", name: str = "") -> Series:
    """The finite values of ``key`` in ``records`` against their ``x_key``, named ``name`` (default
    ``key``); NaN, infinities and records without the key are left out."""
    points = []
    for r in records:
        x, y = r.get(x_key), r.get(key)
        if isinstance(x, (int, float)) and isinstance(y, (int, float)) and math.isfinite(x) and math.isfinite(y):
            points.append((float(x), float(y)))
    return Series(name or key, points)


def thin(points: list[Point], limit: int = MAX_POINTS) -> list[Point]:
    """``points`` averaged in consecutive buckets down to at most ``limit`` points."""
    if len(points) <= limit:
        return points
    size = math.ceil(len(points) / limit)
    buckets = [points[i : i + size] for i in range(0, len(points), size)]
    return [(sum(x for x, _ in b) / len(b), sum(y for _, y in b) / len(b)) for b in buckets]


def nice_ticks(lo: float, hi: float, count: int = 5, whole: bool = False) -> list[float]:
    """About ``count`` round numbers (steps of 1, 2 or 5 times a power of ten; whole numbers when
    ``whole``) spanning [lo, hi]."""
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(step, 1) if whole else step
    first = math.floor(lo / step)
    return [(first + i) * step for i in range(math.ceil(hi / step - first - 1e-9) + 1)]


def padded_range(values: list[float]) -> tuple[float, float]:
    """The span of ``values``, widened around a single value so that it has a width."""
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def line_chart(title: str, series: list[Series], x_label: str) -> str:
    """An ``<svg>`` line chart of the non-empty ``series`` against a whole-numbered x (step or
    epoch), with dots where a series has few points; a "no data" figure when none has a point."""
    drawn = [Series(s.name, thin(s.points)) for s in series if s.points]
    header = f'<figure class="chart" data-title="{escape(title)}"><figcaption>{escape(title)}</figcaption>'
    if not drawn:
        return f'{header}<p class="empty">No data logged.</p></figure>'
    xs = nice_ticks(*padded_range([x for s in drawn for x, _ in s.points]), whole=True)
    ys = nice_ticks(*padded_range([y for s in drawn for _, y in s.points]))
    scale = Scale(xs[0], xs[-1], ys[0], ys[-1])
    lines = "".join(line(scale, s, PALETTE[i % len(PALETTE)]) for i, s in enumerate(drawn))
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">{axes(scale, xs, ys, x_label)}{lines}</svg>'
    )
    named = "" if [s.name for s in drawn] == [title] else legend(drawn)  # a lone series named as the chart
    return f"{header}{named}{svg}</figure>"


@dataclass(frozen=True)
class Scale:
    """Maps data coordinates to SVG coordinates inside the plot area."""

    x0: float
    x1: float
    y0: float
    y1: float

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return HEIGHT - BOTTOM - (value - self.y0) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)


def axes(scale: Scale, xs: list[float], ys: list[float], x_label: str) -> str:
    """Grid lines, tick labels and the x axis's name."""
    out = []
    for v in ys:
        y = scale.y(v)
        out.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:.6g}</text>'
        )
    for v in xs:
        x = scale.x(v)
        out.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
            f'<text class="tick" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{v:.6g}</text>'
        )
    out.append(
        f'<text class="axis" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
    )
    return "".join(out)


def line(scale: Scale, series: Series, colour: str) -> str:
    """One series as a polyline, with a dot on each point when there are few."""
    coords = [(scale.x(x), scale.y(y)) for x, y in series.points]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    few = len(coords) <= MAX_DOTS
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in coords) if few else ""
    return (
        f'<g class="series" data-name="{escape(series.name)}"><title>{escape(series.name)}</title>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{path}"/>{dots}</g>'
    )


def legend(series: list[Series]) -> str:
    """The series' names in their colours (HTML, so that long names wrap)."""
    items = "".join(
        f'<li><span class="swatch" style="background:{PALETTE[i % len(PALETTE)]}"></span>{escape(s.name)}</li>'
        for i, s in enumerate(series)
    )
    return f'<ul class="legend">{items}</ul>'
