"""Horizontal bar charts: one layout, drawn as SVG for HTML and with fpdf2 for PDF.

The layout is computed once from a table (bars, hatching, texts, in abstract units that are
pixels in SVG) so both formats draw the same chart. Text widths are measured with Helvetica's
metrics (fpdf2 ships them), the font the PDF uses and the SVG asks for first. Every bar carries
its label and its value's text; a suppressed cell ("fewer than 5") is an outlined, hatched
marker with its text, never a length that would tell a number; no value is "—" and no bar.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any, Literal

from fpdf.fonts import CORE_FONTS_CHARWIDTHS

from interfaces.reports.document import (
    NONE_IN_PERIOD,
    Table,
    format_cell,
    read_table,
)
from interfaces.reports.text import to_cp1252

WIDTH = 640.0
FONT_SIZE = 12.0
ROW_HEIGHT = 24.0
BAR_HEIGHT = 14.0
PADDING = 8.0
GAP = 6.0
SUPPRESSED_WIDTH = 28.0
HATCH_STEP = 5.0
MAX_LABEL_SHARE = 0.4
ELLIPSIS = "\u2026"
SUPPRESSED_NOTE = "A dashed, hatched bar is a count too small to publish, given as text."

# Colours: dark blue bars (9:1 on white), near-black text; meaning never rests on colour alone.
BAR_COLOUR = (31, 78, 121)
TEXT_COLOUR = (26, 26, 26)
AXIS_COLOUR = (89, 89, 89)
FONT_FAMILY = "Helvetica, Arial, sans-serif"

BarKind = Literal["value", "suppressed", "missing"]


@dataclass(frozen=True)
class Bar:
    label: str  # the whole label (in the chart's description)
    label_shown: str  # the label as drawn, shortened with "…" when it would not fit
    value_text: str
    kind: BarKind
    top: float  # the row's top edge
    length: float  # the bar's length (the marker's for a suppressed cell, 0 for none)
    hatch: tuple[tuple[float, float, float, float], ...]  # lines (x1, y1, x2, y2)

    @property
    def baseline(self) -> float:
        return self.top + ROW_HEIGHT / 2 + FONT_SIZE * 0.35

    @property
    def bar_top(self) -> float:
        return self.top + (ROW_HEIGHT - BAR_HEIGHT) / 2


@dataclass(frozen=True)
class ChartLayout:
    title: str
    description: str
    width: float
    height: float
    axis_x: float  # where bars start; labels end GAP before it
    bars: tuple[Bar, ...]

    @property
    def has_suppressed(self) -> bool:
        return any(bar.kind == "suppressed" for bar in self.bars)

    def value_x(self, bar: Bar) -> float:
        return self.axis_x + bar.length + GAP


def text_width(text: str, size: float = FONT_SIZE, *, bold: bool = False) -> float:
    """The width of ``text`` in Helvetica at ``size`` units (as fpdf2 measures it)."""
    widths = CORE_FONTS_CHARWIDTHS["helveticaB" if bold else "helvetica"]
    encoded = to_cp1252(text).encode("cp1252").decode("latin-1")
    return sum(widths.get(char, 556) for char in encoded) * size / 1000


def chart_layout(table: Table) -> ChartLayout:
    """The bars of a table with a ``chart``, rows in the document's order."""
    if table.chart is None:
        raise ValueError(f"table {table.key!r} has no chart")
    chart = table.chart
    columns = {column.key: column for column in table.columns}
    label_name = columns[chart.label].label if chart.label in columns else chart.label
    value_name = columns[chart.value].label if chart.value in columns else chart.value
    labels = [format_cell(row.get(chart.label)) for row in table.rows]
    values = [row.get(chart.value) for row in table.rows]
    texts = [format_cell(value) for value in values]
    description = f"Horizontal bar chart of {value_name} by {label_name}. " + (
        "; ".join(f"{label}: {text}" for label, text in zip(labels, texts, strict=True)) + "."
        if labels
        else NONE_IN_PERIOD
    )
    if not labels:
        return ChartLayout(table.title, description, WIDTH, ROW_HEIGHT + 2 * PADDING, 0.0, ())

    label_room = min(max(text_width(label) for label in labels) + GAP, WIDTH * MAX_LABEL_SHARE)
    axis_x = PADDING + label_room + GAP
    value_room = max(text_width(text) for text in texts) + GAP + PADDING
    longest = max(WIDTH - axis_x - value_room, SUPPRESSED_WIDTH)
    numbers = [_number(value) for value in values]
    largest = max((number for number in numbers if number is not None), default=0.0)
    bars = []
    for index, (label, value, number, text) in enumerate(
        zip(labels, values, numbers, texts, strict=True)
    ):
        top = PADDING + index * ROW_HEIGHT
        kind: BarKind
        if number is not None:
            kind = "value"
            length = longest * number / largest if largest > 0 and number > 0 else 0.0
        elif isinstance(value, str):  # a suppressed count: its text, never a length
            kind, length = "suppressed", SUPPRESSED_WIDTH
        else:  # no value (an em dash), or a yes/no or list that has no length
            kind, length = "missing", 0.0
        bar_top = top + (ROW_HEIGHT - BAR_HEIGHT) / 2
        hatch = (
            hatch_lines(axis_x, bar_top, length, BAR_HEIGHT, HATCH_STEP)
            if kind == "suppressed"
            else ()
        )
        bars.append(Bar(label, _shorten(label, label_room - GAP), text, kind, top, length, hatch))
    height = 2 * PADDING + len(bars) * ROW_HEIGHT
    return ChartLayout(table.title, description, WIDTH, height, axis_x, tuple(bars))


def hatch_lines(
    x: float, y: float, width: float, height: float, step: float
) -> tuple[tuple[float, float, float, float], ...]:
    """Diagonal lines (bottom left to top right) filling a rectangle, clipped to it."""
    lines = []
    offset = -height + step
    while offset < width:
        start = max(0.0, -offset)
        end = min(height, width - offset)
        if end > start:
            lines.append(
                (x + offset + start, y + height - start, x + offset + end, y + height - end)
            )
        offset += step
    return tuple(lines)


def render_svg_chart(table: Table | Mapping[str, Any]) -> str:
    """A table's chart (the table as the document holds it, or read) as a standalone
    ``<svg role="img">`` with a title and a description giving every value; the same table
    always gives the same text."""
    layout = chart_layout(table if isinstance(table, Table) else read_table(table))
    bar_fill = _hex(BAR_COLOUR)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart"'
        f' aria-label="{escape(layout.title)}"'
        f' width="{_n(layout.width)}" height="{_n(layout.height)}"'
        f' viewBox="0 0 {_n(layout.width)} {_n(layout.height)}"'
        f' font-family="{FONT_FAMILY}" font-size="{_n(FONT_SIZE)}" fill="{_hex(TEXT_COLOUR)}">',
        f"<title>{escape(layout.title)}</title>",
        f"<desc>{escape(layout.description)}</desc>",
    ]
    if not layout.bars:
        parts.append(
            f'<text x="{_n(PADDING)}" y="{_n(PADDING + ROW_HEIGHT / 2 + FONT_SIZE * 0.35)}">'
            f"{escape(NONE_IN_PERIOD)}</text>"
        )
    for bar in layout.bars:
        parts.append(
            f'<text x="{_n(layout.axis_x - GAP)}" y="{_n(bar.baseline)}" text-anchor="end">'
            f"{escape(bar.label_shown)}</text>"
        )
        if bar.kind == "value" and bar.length > 0:
            parts.append(
                f'<rect x="{_n(layout.axis_x)}" y="{_n(bar.bar_top)}" width="{_n(bar.length)}"'
                f' height="{_n(BAR_HEIGHT)}" fill="{bar_fill}"/>'
            )
        elif bar.kind == "suppressed":
            parts.append(
                f'<rect x="{_n(layout.axis_x)}" y="{_n(bar.bar_top)}" width="{_n(bar.length)}"'
                f' height="{_n(BAR_HEIGHT)}" fill="#ffffff" stroke="{bar_fill}"'
                f' stroke-width="1" stroke-dasharray="3 2"/>'
            )
            parts.extend(
                f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}"'
                f' stroke="{bar_fill}" stroke-width="1"/>'
                for x1, y1, x2, y2 in bar.hatch
            )
        parts.append(
            f'<text x="{_n(layout.value_x(bar))}" y="{_n(bar.baseline)}">'
            f"{escape(bar.value_text)}</text>"
        )
    if layout.bars:
        parts.append(
            f'<line x1="{_n(layout.axis_x)}" y1="{_n(PADDING)}" x2="{_n(layout.axis_x)}"'
            f' y2="{_n(layout.height - PADDING)}" stroke="{_hex(AXIS_COLOUR)}" stroke-width="1"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def chart_caption(layout: ChartLayout) -> str:
    """The words under a chart, the same in HTML and PDF."""
    caption = f"Chart of the table \u201c{layout.title}\u201d, with the same numbers."
    return f"{caption} {SUPPRESSED_NOTE}" if layout.has_suppressed else caption


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _shorten(text: str, room: float) -> str:
    if text_width(text) <= room:
        return text
    shortened = text
    while shortened and text_width(shortened + ELLIPSIS) > room:
        shortened = shortened[:-1]
    return shortened.rstrip() + ELLIPSIS


def _n(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros (stable, compact)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _hex(colour: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*colour)
