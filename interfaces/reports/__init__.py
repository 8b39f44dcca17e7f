"""Compliance reports rendered from their JSON document, the reference: pure functions of the
document (no store, no application), each giving the same output for the same document.

- ``render_csv`` / ``render_csv_zip``: one CSV file per table, and a zip of them with the
  parameters, with the standard library's ``csv`` and ``zipfile`` (fixed times, sorted names).
- ``render_html``: a standalone page from Jinja2 templates (``templates/``), autoescaped, with
  inline CSS and server-drawn SVG charts (``render_svg_chart``): no script, nothing external.
- ``render_pdf``: the same tables and charts with fpdf2.

Why these libraries: Jinja2 (with MarkupSafe) is the Pallets project's template engine, kept
up for years, with autoescaping that makes a value like ``<script>`` text, not markup. fpdf2 is
pure Python, needs no system libraries (unlike WeasyPrint's Pango/Cairo or wkhtmltopdf), is
actively maintained, draws tables that repeat their header across pages, and writes
reproducible files once the creation date is fixed; its core fonts need nothing embedded.
pypdf (tests only) reads the PDF's text back to check the numbers.
"""

from interfaces.reports.charts import render_svg_chart
from interfaces.reports.csv_export import render_csv, render_csv_zip
from interfaces.reports.document import format_cell
from interfaces.reports.html_page import render_html, render_html_body
from interfaces.reports.pdf import render_pdf

__all__ = [
    "format_cell",
    "render_csv",
    "render_csv_zip",
    "render_html",
    "render_html_body",
    "render_pdf",
    "render_svg_chart",
]
