"""HTML: one standalone page per report (Jinja2, autoescaped), with its charts drawn on the
server as inline SVG and its stylesheet inline: no script, nothing fetched from elsewhere.

Each table is a ``<table>`` with a caption and header cells with a scope; each chart an
``<svg role="img">`` with a title and a description, beside the table holding the same numbers.
The print stylesheet starts each section on a new page, repeats a table's header on each page
and never clips a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from interfaces.reports.charts import chart_caption, chart_layout, render_svg_chart
from interfaces.reports.document import (
    NONE_IN_PERIOD,
    Column,
    Table,
    format_cell,
    read_report,
    safe_name,
)


@dataclass(frozen=True)
class _Cell:
    text: str
    numeric: bool


@dataclass(frozen=True)
class _TableView:
    anchor: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[_Cell, ...], ...]
    totals: tuple[_Cell, ...] | None
    chart: Markup | None
    caption: str | None


def render_html(doc: Mapping[str, Any]) -> str:
    """The report as a complete HTML page; the same document gives the same text."""
    return _render("report.html.j2", doc)


def render_html_body(doc: Mapping[str, Any]) -> Markup:
    """The report's body alone (parameters and basis, contents, sections with their tables and
    charts; headings from ``h2``), for a page of its own that links its stylesheet: the web UI,
    whose content security policy allows no inline ``<style>``."""
    return Markup(_render("report_body.html.j2", doc))  # noqa: S704 - an autoescaped template


def _render(template: str, doc: Mapping[str, Any]) -> str:
    report = read_report(doc)
    sections = []
    for section in report.sections:
        anchor = f"section-{safe_name(section.key)}"
        tables = [
            _table_view(table, f"{anchor}-{safe_name(table.key)}") for table in section.tables
        ]
        sections.append({"anchor": anchor, "section": section, "tables": tables})
    return (
        _environment()
        .get_template(template)
        .render(report=report, sections=sections, none_in_period=NONE_IN_PERIOD)
    )


def _table_view(table: Table, anchor: str) -> _TableView:
    def cells(row: Mapping[str, Any]) -> tuple[_Cell, ...]:
        return tuple(_Cell(format_cell(row.get(c.key)), c.numeric) for c in table.columns)

    charted = table.chart is not None and bool(table.rows)
    chart = (
        Markup(render_svg_chart(table))  # noqa: S704 - built from escaped parts in charts.py
        if charted
        else None
    )
    caption = chart_caption(chart_layout(table)) if charted else None
    return _TableView(
        anchor=anchor,
        title=table.title,
        columns=table.columns,
        rows=tuple(cells(row) for row in table.rows),
        totals=cells(table.totals) if table.totals is not None else None,
        chart=chart,
        caption=caption,
    )


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("interfaces.reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
