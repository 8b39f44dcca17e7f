"""Reports rendered from their JSON document: CSV, zip, HTML with SVG charts and PDF carry the
same numbers, escape what they are given, and give the same bytes for the same document."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import itertools
import os
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from interfaces.reports import (
    format_cell,
    render_csv,
    render_csv_zip,
    render_html,
    render_pdf,
    render_svg_chart,
)

ROOT_HASH = "ab12cd34ef56" * 5 + "0a1b"  # 64 hex digits, as a SHA-256 is
UNICODE_TEXT = "Na\u00efve \u201cquoted\u201d r\u00e9sum\u00e9, \u2192 ok"
HOSTILE = '<script>alert("x")</script> & co'


def sample_report() -> dict[str, Any]:
    """A trustee pack with every kind of cell: counts, suppressed counts, floats, no value,
    yes/no, lists, accents and dashes, HTML-special text, an empty table, a long table."""
    return {
        "kind": "trustee",
        "title": "Trustee pack \u2013 Q4 2026",
        "definition_version": 1,
        "parameters": {
            "from": "2026-10-01",
            "to": "2026-12-31",
            "service": None,
            "as_of": "2026-12-06T10:00:00Z",
        },
        "basis": {
            "as_of": "2026-12-06T10:00:00Z",
            "checkpoint": {
                "tree_size": 1234,
                "root_hash": ROOT_HASH,
                "signed_at": "2026-12-06T10:00:01Z",
            },
            "sla_policy_versions": [1, 2],
            "calendar_versions": {"default": [1], "north": [1, 3]},
            "scorecard_versions": [1],
            "suppression_threshold": 5,
        },
        "sections": [
            {
                "key": "volumes",
                "title": "Cases opened",
                "description": "Cases opened in the period, by category (Caf\u00e9 \u2013 all).",
                "tables": [
                    {
                        "key": "by_category",
                        "title": "By category",
                        "columns": [
                            {"key": "category", "label": "Category"},
                            {"key": "cases", "label": "Cases", "numeric": True},
                            {"key": "share", "label": "Share (%)", "numeric": True},
                        ],
                        "rows": [
                            {"category": "self_harm_risk", "cases": 12, "share": 30.0},
                            {"category": "spam", "cases": "fewer than 5", "share": None},
                            {"category": "grooming", "cases": 28, "share": 70.0},
                            {"category": HOSTILE, "cases": 0, "share": 0.0},
                        ],
                        "totals": {"category": "Total", "cases": 40, "share": 100.0},
                        "chart": {"type": "bar", "label": "category", "value": "cases"},
                    },
                    {
                        "key": "by_service",
                        "title": "By service",
                        "columns": [
                            {"key": "service", "label": "Service"},
                            {"key": "cases", "label": "Cases", "numeric": True},
                        ],
                        "rows": [],
                        "chart": {"type": "bar", "label": "service", "value": "cases"},
                    },
                ],
            },
            {
                "key": "serious_incidents",
                "title": "Serious incidents \u2013 decisions",
                "tables": [
                    {
                        "key": "decisions",
                        "title": "Decisions, reported or not",
                        "columns": [
                            {"key": "case", "label": "Case"},
                            {"key": "serious", "label": "Serious incident"},
                            {"key": "regulators", "label": "Regulators"},
                            {"key": "rationale", "label": "Rationale"},
                            {"key": "median_hours", "label": "Median hours", "numeric": True},
                        ],
                        "rows": [
                            {
                                "case": "C-0001",
                                "serious": True,
                                "regulators": ["Charity Commission", "Ofsted"],
                                "rationale": '=HYPERLINK("http://evil") risk to life',
                                "median_hours": 2.5,
                            },
                            {
                                "case": "C-0002",
                                "serious": False,
                                "regulators": [],
                                "rationale": UNICODE_TEXT,
                                "median_hours": 0.0001,
                            },
                        ],
                    }
                ],
            },
            {
                "key": "sla",
                "title": "SLA clocks",
                "tables": [
                    {
                        "key": "clocks",
                        "title": "Every clock in the period",
                        "columns": [
                            {"key": "clock", "label": "Clock"},
                            {"key": "met", "label": "Met", "numeric": True},
                        ],
                        "rows": [
                            {"clock": f"clock_{index:03d}", "met": index * 7} for index in range(90)
                        ],
                        "chart": {"type": "bar", "label": "clock", "value": "met"},
                    }
                ],
            },
        ],
    }


def tables(doc: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(section, table) for section in doc["sections"] for table in section["tables"]]


def numbers_of(table: dict[str, Any]) -> list[str]:
    """Every numeric cell's text (suppressed ones are text, and checked as such)."""
    found = []
    for row in [*table["rows"], *([table["totals"]] if table.get("totals") else [])]:
        for value in row.values():
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.append(format_cell(value))
    return found


# -- one text per cell ----------------------------------------------------------------------


def test_cells_have_one_text_whatever_their_type() -> None:
    assert format_cell(12) == "12"
    assert format_cell(30.0) == "30.0"
    assert format_cell(33.3) == "33.3"
    assert format_cell(0.0001) == "0.0001"  # never "1e-04"
    assert format_cell(12345678) == "12345678"  # never a thousands separator
    assert format_cell(None) == "\u2014"
    assert format_cell(None, missing="") == ""
    assert format_cell(True) == "yes"
    assert format_cell(False) == "no"
    assert format_cell(["a", "b"]) == "a, b"
    assert format_cell("fewer than 5") == "fewer than 5"


# -- CSV ------------------------------------------------------------------------------------


def test_csv_is_one_file_per_table_named_by_section_and_table() -> None:
    files = render_csv(sample_report())

    assert list(files) == [
        "serious_incidents__decisions.csv",
        "sla__clocks.csv",
        "volumes__by_category.csv",
        "volumes__by_service.csv",
    ]


def test_csv_bytes_are_the_same_on_every_render_and_follow_rfc_4180() -> None:
    first = render_csv(sample_report())
    second = render_csv(copy.deepcopy(sample_report()))

    assert first == second
    data = first["volumes__by_category.csv"]
    assert data.startswith(b"Category,Cases,Share (%)\r\n")
    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    data.decode("utf-8")  # UTF-8, no BOM
    assert not data.startswith(b"\xef\xbb\xbf")


def test_csv_parses_back_to_the_documents_values() -> None:
    doc = sample_report()
    files = render_csv(doc)

    for section, table in tables(doc):
        rows = list(
            csv.reader(io.StringIO(files[f"{section['key']}__{table['key']}.csv"].decode()))
        )
        assert rows[0] == [column["label"] for column in table["columns"]]
        expected = [*table["rows"], *([table["totals"]] if table.get("totals") else [])]
        assert len(rows) == 1 + len(expected)
        for got, row in zip(rows[1:], expected, strict=True):
            want = [format_cell(row.get(c["key"]), missing="") for c in table["columns"]]
            want = ["'" + w if w.startswith("=") else w for w in want]
            assert got == want


def test_csv_keeps_no_value_empty_and_suppressed_counts_as_text() -> None:
    rows = list(
        csv.reader(io.StringIO(render_csv(sample_report())["volumes__by_category.csv"].decode()))
    )

    assert rows[2] == ["spam", "fewer than 5", ""]
    assert rows[4] == [HOSTILE, "0", "0.0"]
    assert rows[-1] == ["Total", "40", "100.0"]


def test_csv_defuses_a_formula_but_not_a_negative_number() -> None:
    doc = sample_report()
    doc["sections"][2]["tables"][0]["rows"][0]["met"] = -3

    files = render_csv(doc)

    decisions = list(csv.reader(io.StringIO(files["serious_incidents__decisions.csv"].decode())))
    assert decisions[1][3] == '\'=HYPERLINK("http://evil") risk to life'
    assert decisions[1][1:3] == ["yes", "Charity Commission, Ofsted"]
    assert decisions[2][1:3] == ["no", ""]
    assert decisions[2][4] == "0.0001"
    clocks = list(csv.reader(io.StringIO(files["sla__clocks.csv"].decode())))
    assert clocks[1] == ["clock_000", "-3"]


def test_an_empty_table_is_its_header_alone_in_csv() -> None:
    assert render_csv(sample_report())["volumes__by_service.csv"] == b"Service,Cases\r\n"


def test_two_tables_that_would_share_a_file_name_are_refused() -> None:
    doc = sample_report()
    doc["sections"][0]["tables"][1]["key"] = "by_category"

    with pytest.raises(ValueError, match=re.escape("volumes__by_category.csv")):
        render_csv(doc)


def test_zip_is_the_same_bytes_every_time_and_holds_the_tables_and_parameters() -> None:
    first = render_csv_zip(sample_report())

    assert render_csv_zip(copy.deepcopy(sample_report())) == first
    archive = zipfile.ZipFile(io.BytesIO(first))
    names = archive.namelist()
    assert names == sorted(names)
    assert set(names) == {"README.txt", "parameters.csv", *render_csv(sample_report())}
    assert all(info.date_time == (2026, 12, 6, 10, 0, 0) for info in archive.infolist())
    for name, data in render_csv(sample_report()).items():
        assert archive.read(name) == data
    parameters = dict(csv.reader(io.StringIO(archive.read("parameters.csv").decode())))
    assert parameters["kind"] == "trustee"
    assert parameters["from"] == "2026-10-01"
    assert parameters["to"] == "2026-12-31"
    assert parameters["service"] == "all"
    assert parameters["as_of"] == "2026-12-06T10:00:00Z"
    assert parameters["checkpoint.tree_size"] == "1234"
    assert parameters["checkpoint.root_hash"] == ROOT_HASH
    assert parameters["calendar_versions"] == "default: 1; north: 1, 3"
    readme = archive.read("README.txt").decode()
    assert "Trustee pack \u2013 Q4 2026" in readme
    assert ROOT_HASH in readme
    assert "volumes__by_category.csv  Cases opened: By category" in readme


def test_a_different_document_gives_a_different_zip() -> None:
    doc = sample_report()
    doc["sections"][0]["tables"][0]["rows"][0]["cases"] = 13

    assert render_csv_zip(doc) != render_csv_zip(sample_report())


# -- HTML -----------------------------------------------------------------------------------


class Page(HTMLParser):
    """What the tests read from a page: its elements, their text and attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.starts: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.svg_titles = 0
        self.svg_descs = 0
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.starts.append((tag, dict(attrs)))
        if tag in ("th", "td"):
            self._cell = []
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self.open[-2:] == ["svg", "title"]:
            self.svg_titles += 1
        if self.open[-2:] == ["svg", "desc"]:
            self.svg_descs += 1

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.starts if tag == name]


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def test_html_is_a_standalone_page_with_no_script_and_nothing_fetched() -> None:
    html = render_html(sample_report())

    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower()
    page = parse(html)
    assert page.tags("html") == [{"lang": "en"}]
    for element in ("link", "img", "script", "iframe", "object"):
        assert not page.tags(element), element
    assert not [a for _, a in page.starts if "src" in a]
    assert not [a for _, a in page.starts if any(k.startswith("on") for k in a)]
    assert "@media print" in html
    assert "break-before: page" in html
    assert render_html(copy.deepcopy(sample_report())) == html


def test_html_escapes_what_it_is_given() -> None:
    html = render_html(sample_report())

    assert "&lt;script&gt;" in html
    assert HOSTILE in "".join(parse(html).text)  # the text, shown as text


def test_html_tables_carry_every_number_and_suppressed_count() -> None:
    doc = sample_report()
    page = parse(render_html(doc))

    for _, table in tables(doc):
        if table["rows"]:
            for number in numbers_of(table):
                assert number in page.cells
    assert "fewer than 5" in page.cells
    assert "\u2014" in page.cells  # no value
    assert "Charity Commission, Ofsted" in page.cells
    assert "yes" in page.cells
    assert "no" in page.cells
    assert "None in this period." in "".join(page.text)
    assert "A dashed, hatched bar is a count too small to publish" in "".join(page.text)


def test_html_is_accessible_in_structure() -> None:
    page = parse(render_html(sample_report()))

    levels = [int(tag[1]) for tag, _ in page.starts if tag in ("h1", "h2", "h3", "h4")]
    assert levels[0] == 1
    assert levels.count(1) == 1
    assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
    assert len(page.tags("caption")) == len(page.tags("table"))
    assert all(th.get("scope") in ("col", "row") for th in page.tags("th"))
    svgs = page.tags("svg")
    assert len(svgs) == 2  # the two charted tables with rows; none for the empty one
    assert all(svg.get("role") == "img" for svg in svgs)
    assert page.svg_titles == len(svgs)
    assert page.svg_descs == len(svgs)


def test_svg_chart_has_every_label_and_value_and_hatches_a_suppressed_cell() -> None:
    table = sample_report()["sections"][0]["tables"][0]

    svg = render_svg_chart(table)

    assert svg == render_svg_chart(copy.deepcopy(table))
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img"')
    assert "<title>By category</title>" in svg
    for text in ("self_harm_risk", "12", "grooming", "28", "fewer than 5", "&lt;script&gt;"):
        assert f">{text}" in svg
    assert "<script" not in svg
    assert svg.count("<rect") == 3  # two bars with length, one outlined suppressed marker
    assert 'stroke-dasharray="3 2"' in svg
    assert svg.count("<line") > 2  # the hatching and the axis


def test_svg_chart_bar_lengths_follow_the_values() -> None:
    table = {
        "key": "t",
        "title": "T",
        "columns": [{"key": "k", "label": "K"}, {"key": "v", "label": "V", "numeric": True}],
        "rows": [{"k": "a", "v": 10}, {"k": "b", "v": 5}],
        "chart": {"type": "bar", "label": "k", "value": "v"},
    }

    widths = [
        float(part.split('"')[1])
        for part in render_svg_chart(table).split(" width=")[2:]
        if part.startswith('"')
    ]

    assert len(widths) == 2
    assert widths[0] == pytest.approx(2 * widths[1], abs=0.02)


def test_svg_chart_draws_no_bar_for_no_value_and_says_so() -> None:
    table = {
        "key": "t",
        "title": "T",
        "columns": [{"key": "k", "label": "K"}, {"key": "v", "label": "V", "numeric": True}],
        "rows": [{"k": "a", "v": None}, {"k": "b", "v": True}],
        "chart": {"type": "bar", "label": "k", "value": "v"},
    }

    svg = render_svg_chart(table)

    assert "<rect" not in svg  # neither is a length, nor a suppressed count
    assert ">\u2014</text>" in svg
    assert ">yes</text>" in svg
    assert "a: \u2014; b: yes." in svg


# -- PDF ------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_pdf_is_the_same_bytes_on_every_render() -> None:
    first = render_pdf(sample_report())

    assert first.startswith(b"%PDF-")
    assert render_pdf(copy.deepcopy(sample_report())) == first
    reader = PdfReader(io.BytesIO(first))
    assert reader.metadata is not None
    assert reader.metadata.title == "Trustee pack \u2013 Q4 2026"
    assert "20261206100000" in str(reader.metadata.get("/CreationDate"))


def test_a_different_document_gives_a_different_pdf() -> None:
    doc = sample_report()
    doc["sections"][0]["tables"][0]["rows"][0]["cases"] = 13

    assert render_pdf(doc) != render_pdf(sample_report())


def test_every_format_is_the_same_bytes_in_another_process() -> None:
    """Nothing depends on the process: not its hash seed, clock or the order of a set."""
    script = (
        "import hashlib, sys; sys.path.insert(0, 'tests/unit');"
        "from test_report_formats import sample_report as s;"
        "from interfaces.reports import render_csv_zip, render_html, render_pdf;"
        "print(*(hashlib.sha256(b).hexdigest() for b in"
        " (render_csv_zip(s()), render_html(s()).encode(), render_pdf(s()))))"
    )
    root = Path(__file__).resolve().parents[2]

    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }

    here = " ".join(
        hashlib.sha256(data).hexdigest()
        for data in (
            render_csv_zip(sample_report()),
            render_html(sample_report()).encode(),
            render_pdf(sample_report()),
        )
    )
    assert digests == {here + "\n"}


def test_pdf_text_carries_every_title_and_number() -> None:
    doc = sample_report()

    text = pdf_text(render_pdf(doc))

    assert "Trustee pack \u2013 Q4 2026" in text
    assert ROOT_HASH in text  # on one line, not wrapped
    assert "None in this period." in text
    assert "fewer than 5" in text
    assert "A dashed, hatched bar is a count too small to publish" in text
    assert "Caf\u00e9" in text
    words = set(text.split())
    for section, table in tables(doc):
        assert section["title"] in text
        assert table["title"] in text
        for number in numbers_of(table):
            assert number in words, number


def test_pdf_draws_each_chart_with_its_numbers_as_text() -> None:
    doc = sample_report()
    doc["sections"] = [doc["sections"][0]]
    doc["sections"][0]["tables"][0]["columns"].pop()  # the table shows only what the chart does
    for row in doc["sections"][0]["tables"][0]["rows"]:
        row.pop("share")
    doc["sections"][0]["tables"][0].pop("totals")

    text = pdf_text(render_pdf(doc))

    # Each value appears twice: once in the table, once on its bar.
    for value in ("12", "28", "fewer than 5"):
        assert text.count(value) >= 2, value


def test_pdf_repeats_a_long_tables_header_on_each_page() -> None:
    doc = sample_report()
    doc["sections"] = [doc["sections"][2]]
    doc["sections"][0]["tables"][0].pop("chart")

    reader = PdfReader(io.BytesIO(render_pdf(doc)))

    table_pages = [page.extract_text() for page in reader.pages if "clock_0" in page.extract_text()]
    assert len(table_pages) >= 2
    assert all("Clock Met\n" in page for page in table_pages)
    assert all(f"clock_{index:03d} {index * 7}" in "".join(table_pages) for index in range(90))


def test_pdf_spells_characters_its_font_lacks() -> None:
    text = pdf_text(render_pdf(sample_report()))

    assert "r\u00e9sum\u00e9" in text  # cp1252 has it
    assert "->" in text  # the arrow, spelt


def test_pdf_tables_are_never_filled_with_a_charts_colour() -> None:
    reader = PdfReader(io.BytesIO(render_pdf(sample_report())))
    bar_fill = b"0.1216 0.3059 0.4745 rg"  # the bars' dark blue, (31, 78, 121)

    pages = []
    for page in reader.pages:
        contents = page.get_contents()
        assert contents is not None
        pages.append((page.extract_text(), contents.get_data()))

    assert any(bar_fill in content for _, content in pages)  # the charts use it
    table_only = [content for text, content in pages if "Decisions, reported" in text]
    assert table_only
    assert all(bar_fill not in content for content in table_only)
