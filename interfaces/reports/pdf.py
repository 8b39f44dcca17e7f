"""PDF with fpdf2: the title, the parameters, every section's tables and the same charts as the
HTML, in Helvetica (a core font: nothing embedded), byte for byte the same for the same document.

Text goes through ``to_cp1252`` (the core fonts' encoding: en dashes, accents and curly quotes
kept, anything else spelt close). The creation date is the report's ``as_of`` and fpdf2 derives
the file identifier from the content, so two renders are identical. Long tables break across
pages with their header repeated; charts are drawn from the same layout as the SVG, with
fpdf2's lines, rectangles and text, so their numbers are in the PDF's text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fpdf import FPDF
from fpdf.enums import TableHeadingsDisplay, XPos, YPos
from fpdf.fonts import FontFace

from interfaces.reports.charts import (
    AXIS_COLOUR,
    BAR_COLOUR,
    BAR_HEIGHT,
    FONT_SIZE,
    GAP,
    PADDING,
    ROW_HEIGHT,
    TEXT_COLOUR,
    Bar,
    ChartLayout,
    chart_caption,
    chart_layout,
    text_width,
)
from interfaces.reports.document import (
    NONE_IN_PERIOD,
    Cell,
    Report,
    Section,
    Table,
    format_cell,
    read_report,
)
from interfaces.reports.text import to_cp1252

FONT = "Helvetica"
BODY_SIZE = 9.0
HEADER_FILL = (232, 238, 244)
MARGIN = 15.0
# The chart's units (SVG pixels) to millimetres: its 640 units fill the text width.
CHART_WIDTH_MM = 180.0
_PT = 25.4 / 72  # millimetres in a point
_CELL_PADDING = 1.5  # mm, left and right of a cell's text
_MAX_COLUMN = 70.0  # mm of text before a column's cells wrap
# fpdf2 replaces this text with the page count everywhere, so it is one no report would hold
# (fpdf2's default, "{nb}", could be a value).
_PAGES_ALIAS = "{vigil-report-page-count}"


class _ReportPDF(FPDF):
    def __init__(self, report: Report) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report_title = to_cp1252(report.title)
        self.core_fonts_encoding = "cp1252"

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*TEXT_COLOUR)
        self.cell(0, 5, self.report_title, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, f"Page {self.page_no()} of {_PAGES_ALIAS}", align="R")


def render_pdf(doc: Mapping[str, Any]) -> bytes:
    """The report as a PDF; the same document gives the same bytes."""
    report = read_report(doc)
    pdf = _ReportPDF(report)
    pdf.set_creation_date(_creation_date(report.as_of))
    pdf.set_title(to_cp1252(report.title))
    pdf.set_subject(to_cp1252(f"{report.kind} report as of {report.as_of}"))
    pdf.set_lang("en")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.alias_nb_pages(_PAGES_ALIAS)
    pdf.add_page()
    pdf.set_text_color(*TEXT_COLOUR)
    _heading(pdf, report.title, size=18, level=0)
    _paragraph(pdf, f"Counted from the record as of {report.as_of}.")
    _heading(pdf, "Parameters and basis", size=13, level=1)
    _grid(
        pdf,
        ("Parameter", "Value"),
        [(p.label, p.value) for p in report.parameters],
        numeric=(False, False),
        totals=None,
        widest=130.0,  # a checkpoint's root hash on one line
    )
    for section in report.sections:
        pdf.add_page()
        _section(pdf, section)
    return bytes(pdf.output())


def _section(pdf: FPDF, section: Section) -> None:
    _heading(pdf, section.title, size=13, level=1)
    if section.description:
        _paragraph(pdf, section.description)
    for table in section.tables:
        _table(pdf, table)


def _table(pdf: FPDF, table: Table) -> None:
    if pdf.will_page_break(30):
        pdf.add_page()
    _heading(pdf, table.title, size=11, level=2)
    if not table.rows:
        _paragraph(pdf, NONE_IN_PERIOD)
        return
    keys = [column.key for column in table.columns]

    def texts(row: Mapping[str, Cell]) -> tuple[str, ...]:
        return tuple(format_cell(row.get(key)) for key in keys)

    _grid(
        pdf,
        tuple(column.label for column in table.columns),
        [texts(row) for row in table.rows],
        numeric=tuple(column.numeric for column in table.columns),
        totals=texts(table.totals) if table.totals is not None else None,
    )
    if table.chart is not None:
        _chart(pdf, chart_layout(table))


def _heading(pdf: FPDF, text: str, *, size: float, level: int) -> None:
    pdf.start_section(to_cp1252(text), level=level)
    pdf.set_font(FONT, style="B", size=size)
    pdf.multi_cell(0, size * 0.5, to_cp1252(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def _paragraph(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT, size=BODY_SIZE)
    pdf.multi_cell(0, 4.5, to_cp1252(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)


def _grid(
    pdf: FPDF,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool],
    totals: Sequence[str] | None,
    widest: float = _MAX_COLUMN,
) -> None:
    """A table, its header row repeated on every page it runs onto, totals bold at the end."""
    # fpdf2 takes the colours in force at the first row as the cells' own: set them here, so
    # a chart drawn before never colours a table.
    _plain_colours(pdf)
    pdf.set_font(FONT, size=BODY_SIZE)
    body = [*rows, *([totals] if totals is not None else [])]
    widths = [
        min(
            max(
                text_width(to_cp1252(header[i]), BODY_SIZE, bold=True),
                *(text_width(to_cp1252(row[i]), BODY_SIZE, bold=True) for row in body),
            )
            * _PT,
            widest,
        )
        + 2 * _CELL_PADDING
        + 1.0
        for i in range(len(header))
    ]
    width = min(sum(widths), pdf.epw)
    align = tuple("RIGHT" if is_numeric else "LEFT" for is_numeric in numeric)
    with pdf.table(
        width=width,
        col_widths=tuple(widths),
        align="LEFT",
        text_align=align,
        line_height=4.5,
        padding=(0.8, _CELL_PADDING),
        repeat_headings=TableHeadingsDisplay.ON_TOP_OF_EVERY_PAGE,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADER_FILL),
        first_row_as_headings=True,
    ) as grid:
        grid.row([to_cp1252(text) for text in header])
        for row in rows:
            grid.row([to_cp1252(text) for text in row])
        if totals is not None:
            grid.row([to_cp1252(text) for text in totals], style=FontFace(emphasis="BOLD"))
    pdf.ln(3)


def _chart(pdf: FPDF, layout: ChartLayout) -> None:
    """The chart's rows drawn one by one; a row that would cross the page's foot starts the
    next page (the axis drawn on each)."""
    scale = CHART_WIDTH_MM / layout.width
    font_pt = FONT_SIZE * scale * 72 / 25.4
    # A chart starts where at least its first rows (up to three) fit, not alone at a page's foot.
    if pdf.will_page_break((PADDING + min(len(layout.bars), 3) * ROW_HEIGHT) * scale):
        pdf.add_page()
    pdf.set_font(FONT, size=font_pt)
    origin_y = pdf.get_y()  # the layout's own top padding is the space above the first bar
    first_on_page = 0
    for index, bar in enumerate(layout.bars):
        top = origin_y + bar.top * scale
        if index > first_on_page and top + ROW_HEIGHT * scale > pdf.page_break_trigger:
            _axis(pdf, layout, origin_y, layout.bars[first_on_page], layout.bars[index - 1], scale)
            pdf.add_page()
            pdf.set_font(FONT, size=font_pt)
            origin_y = pdf.get_y() - bar.top * scale
            first_on_page = index
        _bar(pdf, layout, bar, origin_y, scale)
    _axis(pdf, layout, origin_y, layout.bars[first_on_page], layout.bars[-1], scale)
    _plain_colours(pdf)
    pdf.set_y(origin_y + (layout.bars[-1].top + ROW_HEIGHT + PADDING) * scale)
    _paragraph(pdf, chart_caption(layout))
    pdf.ln(1)


def _bar(pdf: FPDF, layout: ChartLayout, bar: Bar, origin_y: float, scale: float) -> None:
    x0 = pdf.l_margin
    baseline = origin_y + bar.baseline * scale
    label = to_cp1252(bar.label_shown)
    pdf.set_text_color(*TEXT_COLOUR)
    pdf.text(x0 + (layout.axis_x - GAP) * scale - pdf.get_string_width(label), baseline, label)
    bar_x = x0 + layout.axis_x * scale
    bar_y = origin_y + bar.bar_top * scale
    if bar.kind == "value" and bar.length > 0:
        pdf.set_fill_color(*BAR_COLOUR)
        pdf.rect(bar_x, bar_y, bar.length * scale, BAR_HEIGHT * scale, style="F")
    elif bar.kind == "suppressed":
        pdf.set_draw_color(*BAR_COLOUR)
        pdf.set_line_width(0.2)
        for x1, y1, x2, y2 in bar.hatch:
            pdf.line(x0 + x1 * scale, origin_y + y1 * scale, x0 + x2 * scale, origin_y + y2 * scale)
        pdf.set_dash_pattern(dash=0.8, gap=0.5)
        pdf.rect(bar_x, bar_y, bar.length * scale, BAR_HEIGHT * scale, style="D")
        pdf.set_dash_pattern()
    pdf.text(x0 + layout.value_x(bar) * scale, baseline, to_cp1252(bar.value_text))


def _axis(
    pdf: FPDF, layout: ChartLayout, origin_y: float, first: Bar, last: Bar, scale: float
) -> None:
    x = pdf.l_margin + layout.axis_x * scale
    pdf.set_draw_color(*AXIS_COLOUR)
    pdf.set_line_width(0.2)
    pdf.line(x, origin_y + first.top * scale, x, origin_y + (last.top + ROW_HEIGHT) * scale)


def _plain_colours(pdf: FPDF) -> None:
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_text_color(*TEXT_COLOUR)
    pdf.set_line_width(0.2)


def _creation_date(as_of: str) -> datetime:
    """The report's as_of as the PDF's date (an unreadable one gives a fixed date, never now)."""
    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        return datetime(2000, 1, 1, tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
