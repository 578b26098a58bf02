"""Small inline SVG charts for report.html: horizontal bars with error bars (plain or grouped),
stacked bars and a dot plot against a reference band.

They draw everything themselves and inherit the page's font, so the report stays one file that
opens offline. Every label is escaped here: callers pass plain strings, even a chat's own text.
Coordinates are rounded to one decimal so the same input always gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any, Generic, TypeGuard, TypeVar

LABEL_W = 150  # the left column for row labels
PLOT_W = 340  # the drawing area
NOTE_W = 190  # the right column for a row's figures
ROW_H = 24
HEADER_H = 24
AXIS_H = 28
TRACK = "#eef0f3"
GRID = "#d5d9e0"
INK = "#1f2937"
MUTED = "#6b7280"
# Fixed verdict colours, the same in every chart, legend and badge: green is right, grey is "don't
# know", orange a wrong answer, red an invented one.
VERDICTS = {
    "correct": "#0f9d58",
    "wrong": "#e69f00",
    "abstain": "#9ca3af",
    "hallucinated": "#d55e00",
}

T = TypeVar("T")


@dataclass(frozen=True)
class Bar:
    """One bar: `value` (None draws no bar, only the note) with an optional interval."""

    label: str
    value: float | None
    color: str
    low: float | None = None
    high: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Segment:
    """One part of a stacked bar; `title` is the tooltip."""

    value: float
    color: str
    title: str


@dataclass(frozen=True)
class StackRow:
    label: str
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Dot:
    """One system's position on a dot-plot row, in units of the reference's spread."""

    value: float
    color: str
    title: str


@dataclass(frozen=True)
class DotRow:
    label: str
    sublabel: str
    dots: tuple[Dot, ...]


@dataclass(frozen=True)
class Group(Generic[T]):
    """Rows under one heading; an empty title draws no heading (a plain chart)."""

    title: str
    rows: tuple[T, ...]


def is_number(value: Any) -> TypeGuard[float]:
    """A plottable number: report.json may hold null, NaN or a stray bool where a figure goes."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def plain(value: Any) -> str:
    """A measured value with as many decimals as its size deserves (31.2, 0.86, 140)."""
    if not is_number(value):
        return "—"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    return f"{value:.{digits}f}"


def _n(x: float) -> str:
    return f"{x:.1f}"


def _fit(label: str, chars: int) -> str:
    """Labels are cut rather than wrapped: SVG text does not wrap, and a row has one line."""
    return label if len(label) <= chars else label[: chars - 1] + "…"


def _text(x: float, y: float, s: str, anchor: str = "start", **attrs: str) -> str:
    extra = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in attrs.items())
    return f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}"{extra}>{escape(s)}</text>'


def _label(y: float, label: str) -> str:
    """A row's label, cut to fit, with the whole label as its tooltip."""
    inner = _text(LABEL_W - 8, y, _fit(label, 22), "end", fill=INK)
    return f"<g><title>{escape(label)}</title>{inner}</g>"


def _svg(height: float, body: list[str], label: str, width: int = LABEL_W + PLOT_W + NOTE_W) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {_n(height)}" '
        f'width="{width}" height="{_n(height)}" font-size="12" role="img" '
        f'aria-label="{escape(label)}">' + "".join(body) + "</svg>"
    )


def _height(groups: Sequence[Group[T]], row_h: float) -> float:
    heads = sum(HEADER_H for g in groups if g.title)
    return heads + row_h * sum(len(g.rows) for g in groups) + AXIS_H


def _axis(lo: float, hi: float, ticks: Sequence[float], names: Sequence[str], top: float) -> str:
    """Grid lines through the whole chart and tick labels under it."""
    span = hi - lo
    parts = []
    for tick, name in zip(ticks, names, strict=True):
        x = LABEL_W + (tick - lo) / span * PLOT_W
        parts.append(f'<line x1="{_n(x)}" y1="0" x2="{_n(x)}" y2="{_n(top)}" stroke="{GRID}"/>')
        parts.append(_text(x, top + 16, name, "middle", fill=MUTED))
    return "".join(parts)


def _heading(y: float, title: str) -> str:
    return _text(4, y + 16, title, font_weight="600", fill=INK)


def bar_chart(
    groups: Sequence[Group[Bar]], *, lo: float = 0.0, hi: float = 1.0, label: str = ""
) -> str:
    """Horizontal bars with error bars, in groups (one group with no title is a plain chart)."""
    height = _height(groups, ROW_H)
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    body = [_axis(lo, hi, ticks, [f"{t:g}" for t in ticks], height - AXIS_H)]

    def x_of(v: float) -> float:
        return LABEL_W + (min(max(v, lo), hi) - lo) / (hi - lo) * PLOT_W

    y = 0.0
    for group in groups:
        if group.title:
            body.append(_heading(y, group.title))
            y += HEADER_H
        for bar in group.rows:
            mid = y + ROW_H / 2
            body.append(_label(mid + 4, bar.label))
            body.append(
                f'<rect x="{LABEL_W}" y="{_n(y + 4)}" width="{PLOT_W}" height="{ROW_H - 8}" '
                f'fill="{TRACK}"/>'
            )
            if bar.value is not None:
                body.append(
                    f'<rect x="{LABEL_W}" y="{_n(y + 4)}" width="{_n(x_of(bar.value) - LABEL_W)}" '
                    f'height="{ROW_H - 8}" fill="{escape(bar.color)}" rx="2"/>'
                )
            if bar.low is not None and bar.high is not None:
                body.append(_error_bar(x_of(bar.low), x_of(bar.high), mid))
            body.append(_text(LABEL_W + PLOT_W + 8, mid + 4, bar.note, fill=INK))
            y += ROW_H
    return _svg(height, body, label)


def _error_bar(x1: float, x2: float, mid: float) -> str:
    line = f'<line x1="{_n(x1)}" y1="{_n(mid)}" x2="{_n(x2)}" y2="{_n(mid)}" stroke="{INK}"/>'
    caps = "".join(
        f'<line x1="{_n(x)}" y1="{_n(mid - 5)}" x2="{_n(x)}" y2="{_n(mid + 5)}" stroke="{INK}"/>'
        for x in (x1, x2)
    )
    return line + caps


def stacked_chart(groups: Sequence[Group[StackRow]], *, label: str = "") -> str:
    """Bars split into parts, each row scaled to its own total (shares, with counts inside)."""
    height = _height(groups, ROW_H)
    body = [_axis(0, 1, [0, 0.5, 1], ["0 %", "50 %", "100 %"], height - AXIS_H)]
    y = 0.0
    for group in groups:
        if group.title:
            body.append(_heading(y, group.title))
            y += HEADER_H
        for row in group.rows:
            body.append(_label(y + ROW_H / 2 + 4, row.label))
            body.append(_stack(row, y))
            y += ROW_H
    return _svg(height, body, label)


def _stack(row: StackRow, y: float) -> str:
    total = sum(s.value for s in row.segments)
    note_x = LABEL_W + PLOT_W + 8
    if total <= 0:
        return _text(note_x, y + ROW_H / 2 + 4, "no probes", fill=MUTED)
    parts = []
    x = float(LABEL_W)
    for seg in row.segments:
        w = seg.value / total * PLOT_W
        if w <= 0:
            continue
        rect = (
            f'<rect x="{_n(x)}" y="{_n(y + 4)}" width="{_n(w)}" height="{ROW_H - 8}" '
            f'fill="{escape(seg.color)}"/>'
        )
        count = _text(x + w / 2, y + ROW_H / 2 + 4, f"{seg.value:g}", "middle", fill="#fff")
        parts.append(f"<g><title>{escape(seg.title)}</title>{rect}{count if w >= 18 else ''}</g>")
        x += w
    parts.append(_text(note_x, y + ROW_H / 2 + 4, f"n = {total:g}", fill=INK))
    return "".join(parts)


def dot_plot(rows: Sequence[DotRow], *, limit: float = 3.0, label: str = "") -> str:
    """One row per measure, the reference at 0 with a ±1 band (its own spread) and a dot per
    series; a dot past ±limit is pinned to the edge as a triangle, so outliers stay visible."""
    row_h = ROW_H + 12
    height = row_h * len(rows) + AXIS_H
    top = height - AXIS_H

    def x_of(v: float) -> float:
        return LABEL_W + (min(max(v, -limit), limit) + limit) / (2 * limit) * PLOT_W

    ticks = [float(t) for t in range(-int(limit), int(limit) + 1)]
    names = ["real" if t == 0 else f"{t:+g}" for t in ticks]
    band = (
        f'<rect x="{_n(x_of(-1))}" y="0" width="{_n(x_of(1) - x_of(-1))}" height="{_n(top)}" '
        f'fill="{TRACK}"/>'
    )
    centre = f'<line x1="{_n(x_of(0))}" y1="0" x2="{_n(x_of(0))}" y2="{_n(top)}" stroke="{INK}"/>'
    body = [band, _axis(-limit, limit, ticks, names, top), centre]
    for i, row in enumerate(rows):
        y = i * row_h
        body.append(_label(y + row_h / 2, row.label))
        body.append(
            _text(LABEL_W - 8, y + row_h / 2 + 13, row.sublabel, "end", fill=MUTED, font_size="10")
        )
        for j, dot in enumerate(row.dots):
            # Series sit a few pixels apart vertically so equal values do not hide each other.
            cy = y + row_h / 2 + (j - (len(row.dots) - 1) / 2) * 6
            marker = _marker(x_of(dot.value), cy, dot, limit)
            body.append(f"<g><title>{escape(dot.title)}</title>{marker}</g>")
    return _svg(height, body, label, LABEL_W + PLOT_W + 20)  # no notes: no right column


def _marker(x: float, cy: float, dot: Dot, limit: float) -> str:
    color = escape(dot.color)
    if abs(dot.value) <= limit:
        return f'<circle cx="{_n(x)}" cy="{_n(cy)}" r="5" fill="{color}" stroke="#fff"/>'
    tip = 6 if dot.value > 0 else -6
    points = f"{_n(x + tip)},{_n(cy)} {_n(x - tip)},{_n(cy - 5)} {_n(x - tip)},{_n(cy + 5)}"
    return f'<polygon points="{points}" fill="{color}" stroke="#fff"/>'


def style_plot(
    names: Sequence[str], styled: Sequence[dict[str, Any]], colors: dict[str, str]
) -> str:
    """report.json's style features as a dot plot: a row per feature, a dot per system."""
    rows = [_feature_row(name, styled, colors) for name in names]
    return dot_plot(rows, label="style features per system against the real person")


def _z(feature: dict[str, Any]) -> Any:
    """The report's z, or one worked out from the means when it left z out."""
    z, mean, real, scale = (feature.get(k) for k in ("z", "system", "real", "scale"))
    if not is_number(z) and is_number(mean) and is_number(real) and is_number(scale) and scale:
        return (mean - real) / scale
    return z


def _feature_row(name: str, styled: Sequence[dict[str, Any]], colors: dict[str, str]) -> DotRow:
    dots = []
    real = scale = None
    for system in styled:
        feature = system["style"]["features"].get(name) or {}
        real, scale = feature.get("real", real), feature.get("scale", scale)
        if is_number(z := _z(feature)):
            mean = plain(feature.get("system"))
            tip = f"{system.get('name')}: {mean} vs real {plain(real)} (z {z:+.2f})"
            dots.append(Dot(float(z), colors[str(system.get("name"))], tip))
    sub = f"real {plain(real)} ± {plain(scale)}"
    return DotRow(name.replace("_", " "), sub, tuple(dots))


def verdict_plot(kinds: Sequence[str], judged: Sequence[dict[str, Any]]) -> str:
    """report.json's verdict counts as stacked bars: a group per probe kind, a bar per system;
    kinds no system was asked about are left out."""
    groups = []
    for kind in kinds:
        rows = tuple(_verdict_row(system, kind) for system in judged)
        if any(row.segments for row in rows):
            groups.append(Group(kind.replace("_", " "), rows))
    return stacked_chart(groups, label="verdicts per probe kind")


def _verdict_row(system: dict[str, Any], kind: str) -> StackRow:
    counts = (system["facts"].get("by_kind") or {}).get(kind) or {}
    segments = tuple(
        Segment(float(counts[v]), color, f"{system.get('name')} · {kind}: {counts[v]} {v}")
        for v, color in VERDICTS.items()
        if is_number(counts.get(v)) and counts[v] > 0
    )
    return StackRow(str(system.get("name")), segments)
