"""Golden reports: a fixed story across every context gives reports whose JSON is the reviewed
file in ``tests/fixtures/reports/``, and whose CSV, HTML and PDF carry the same figures.

The story is the demo (cases, the week's rota and the night on call, a day of the helpline) at
the test clock's fixed moment, then ``tests/report_story.py``'s additions. Ids are random per
run (and per store), so they are numbered in order of appearance before comparing, as are the
checkpoint's root hash and signing time; every figure, date, target and version is compared
as is. On both stores the same file.

To accept a change of figures after reviewing it: ``VIGIL_UPDATE_GOLDEN=1 pytest
tests/integration/test_reports_golden.py -k sqlite``, then read the diff of the fixtures.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from application.reports.definitions import REPORTS
from application.reports.document import to_json
from application.reports.service import ReportRequest
from interfaces.composition import Vigil
from interfaces.reports import format_cell, render_csv, render_html, render_pdf
from tests.report_story import AS_OF, PERIOD, record_story

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "reports"
UPDATE = os.environ.get("VIGIL_UPDATE_GOLDEN") == "1"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalised(document: dict[str, Any]) -> dict[str, Any]:
    """The document with ids numbered in order of appearance and the checkpoint's hash and
    signing time replaced (they differ per run); everything else as is."""
    text = to_json(document).decode()
    seen: dict[str, str] = {}

    def number(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"<id {len(seen) + 1}>")

    out: dict[str, Any] = json.loads(_UUID.sub(number, text))
    checkpoint = out["basis"]["checkpoint"]
    if checkpoint is not None:
        checkpoint.update(root_hash="<root hash>", signed_at="<signed at>", key_id="<key id>")
    return out


@pytest.fixture
def story(vigil: Vigil) -> Vigil:
    record_story(vigil)
    vigil.projector.catch_up()
    return vigil


def _report(vigil: Vigil, kind: str) -> dict[str, Any]:
    return vigil.reports.report(ReportRequest(kind, PERIOD[0], PERIOD[1], None, AS_OF))


@pytest.mark.parametrize("kind", list(REPORTS))
def test_each_report_of_the_story_is_the_reviewed_one_in_every_format(
    story: Vigil, kind: str
) -> None:
    document = _report(story, kind)

    _json_is_the_reviewed_one(kind, document)
    _the_csv_files_hold_the_json_figures_cell_for_cell(document)
    _the_html_page_shows_every_figure_of_the_json(document)
    _the_pdf_text_carries_every_figure_of_the_json(document)


def _json_is_the_reviewed_one(kind: str, document: dict[str, Any]) -> None:
    found = normalised(document)

    golden = GOLDEN / f"{kind}.json"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    expected = json.loads(golden.read_text())
    assert found == expected


def _tables(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{section['key']}__{table['key']}", table)
        for section in document["sections"]
        for table in section["tables"]
    ]


def _texts(table: dict[str, Any]) -> list[list[str]]:
    keys = [c["key"] for c in table["columns"]]
    rows = [[format_cell(row[k]) for k in keys] for row in table["rows"]]
    if table.get("totals"):
        rows.append([format_cell(table["totals"].get(k)) for k in keys])
    return rows


def _the_csv_files_hold_the_json_figures_cell_for_cell(document: dict[str, Any]) -> None:
    files = render_csv(document)
    for name, table in _tables(document):
        parsed = list(csv.reader(io.StringIO(files[f"{name}.csv"].decode("utf-8"))))
        assert parsed[0] == [c["label"] for c in table["columns"]]
        expected = [
            [format_cell(row[c["key"]], missing="") for c in table["columns"]]
            for row in table["rows"]
        ]
        assert parsed[1 : 1 + len(expected)] == expected, name


class _Cells(HTMLParser):
    """The text of every table cell of a page, per table, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _the_html_page_shows_every_figure_of_the_json(document: dict[str, Any]) -> None:
    parser = _Cells()
    parser.feed(render_html(document))
    assert "<script" not in render_html(document).lower()
    tables = [t for _, t in _tables(document)]
    with_rows = [t for t in tables if t["rows"]]
    html_tables = [cells for cells in parser.tables if cells]
    assert len(html_tables) >= len(with_rows)
    for table in with_rows:
        wanted = [cell for row in _texts(table) for cell in row]
        assert any(_contains_in_order(cells, wanted) for cells in html_tables), table["key"]


def _contains_in_order(cells: list[str], wanted: list[str]) -> bool:
    it = iter(cells)
    return all(any(w == c for c in it) for w in wanted)


def _the_pdf_text_carries_every_figure_of_the_json(document: dict[str, Any]) -> None:
    reader = PdfReader(io.BytesIO(render_pdf(document)))
    # A long cell wraps in its column: compare without any white space.
    text = "".join("".join((page.extract_text() or "").split()) for page in reader.pages)
    for _, table in _tables(document):
        assert "".join(table["title"].split(" (")[0].split()) in text
        for row in _texts(table):
            for cell in row:
                if cell and any(ch.isdigit() for ch in cell) and not _UUID.search(cell):
                    assert "".join(cell.split()) in text, (table["key"], cell)


def test_the_story_reaches_every_context_the_reports_count(story: Vigil) -> None:
    # A guard on the golden files: a story that lost a context would pass with empty tables.
    sla = _report(story, "sla")
    clocks = {row["clock"] for row in sla["sections"][2]["tables"][0]["rows"]}
    assert {
        "first_action",
        "escalation_acknowledged",
        "out_of_hours_review",
        "referral_acknowledged",
        "contact_reviewed",
        "follow_up",
    } <= clocks
    shifts = _report(story, "shifts")
    assert sum(r["planned"] for r in shifts["sections"][0]["tables"][0]["rows"]) > 0
    assert date.fromisoformat(sla["parameters"]["from"]) == PERIOD[0]
