"""The trustee pack's small-number suppression: stories over built tables.

Given the figures a report counted, when it is assembled for trustees, then no count from 1 to
one under the threshold shows, and no suppressed count can be recovered from a total or by
subtracting a table's visible cells from a total another table shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from application.reports.builders import Built
from application.reports.definitions import (
    SLA,
    TRUSTEE,
    Cell,
    Column,
    ReportDefinition,
    Section,
    Table,
)
from application.reports.document import WITHHELD, assemble

PARAMETERS = {
    "from": "2026-10-01",
    "to": "2026-12-31",
    "service": None,
    "as_of": "2026-12-06T10:00:00Z",
}


def _by(key: str, dimension: str, population: str | None = "cases") -> Table:
    return Table(
        key,
        key,
        (Column(dimension, dimension), Column("cases", "Cases", Cell.COUNT)),
        totals=True,
        population=population,
    )


PACK = ReportDefinition(
    kind="trustee",
    title="Trustee pack",
    version=1,
    description="",
    suppressed=True,
    sections=(
        Section(
            "volumes",
            "Cases",
            (_by("by_category", "category"), _by("by_channel", "channel")),
        ),
        Section("other", "Other", (_by("by_source", "source", population="sources"),)),
        Section(
            "times",
            "Times",
            (
                Table(
                    "median",
                    "median",
                    (Column("urgency", "Urgency"), Column("median_minutes", "M", Cell.NUMBER)),
                ),
            ),
        ),
    ),
)


def _pack(tables: dict[str, list[dict[str, Any]]], threshold: int = 5) -> dict[str, Any]:
    built = Built(tables=tables)
    return assemble(PACK, built, parameters=PARAMETERS, checkpoint=None, threshold=threshold)


def _table(doc: dict[str, Any], section: str, table: str) -> dict[str, Any]:
    found = next(s for s in doc["sections"] if s["key"] == section)
    return next(t for t in found["tables"] if t["key"] == table)


def _cells(doc: dict[str, Any], section: str, table: str) -> list[Any]:
    return [row["cases"] for row in _table(doc, section, table)["rows"]]


def _story(**overrides: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    tables = {
        "volumes.by_category": [
            {"category": "self_harm_risk", "cases": 30},
            {"category": "spam", "cases": 12},
            {"category": "harassment", "cases": 8},
        ],
        "volumes.by_channel": [
            {"channel": "forum", "cases": 40},
            {"channel": "email", "cases": 10},
        ],
        "other.by_source": [{"source": "flag", "cases": 50}],
        "times.median": [{"urgency": "urgent", "median_minutes": 42.0, "_base": 9}],
    }
    tables.update(overrides)
    return tables


def test_counts_at_or_over_the_threshold_and_their_totals_show_as_counted() -> None:
    doc = _pack(_story())

    assert _cells(doc, "volumes", "by_category") == [30, 12, 8]
    assert _table(doc, "volumes", "by_category")["totals"]["cases"] == 50
    assert _table(doc, "volumes", "by_channel")["totals"]["cases"] == 50
    assert doc["basis"]["suppression_threshold"] == 5


def test_a_count_under_the_threshold_shows_as_fewer_than_the_threshold() -> None:
    doc = _pack(
        _story(
            **{
                "volumes.by_category": [
                    {"category": "self_harm_risk", "cases": 30},
                    {"category": "spam", "cases": 17},
                    {"category": "harassment", "cases": 3},
                ]
            }
        )
    )

    cells = _cells(doc, "volumes", "by_category")
    assert "fewer than 5" in cells
    assert 3 not in cells


def test_a_total_that_would_reveal_a_suppressed_cell_is_withheld_in_every_table_of_it() -> None:
    # 30 + 17 + (3) = 50: with the total shown, 3 = 50 - 30 - 17. The channel table, which has
    # nothing under the threshold, shows the same total, so it is withheld there too.
    doc = _pack(
        _story(
            **{
                "volumes.by_category": [
                    {"category": "self_harm_risk", "cases": 30},
                    {"category": "spam", "cases": 17},
                    {"category": "harassment", "cases": 3},
                ]
            }
        )
    )

    assert _table(doc, "volumes", "by_category")["totals"]["cases"] == WITHHELD
    assert _table(doc, "volumes", "by_channel")["totals"]["cases"] == WITHHELD
    # Another population keeps its total.
    assert _table(doc, "other", "by_source")["totals"]["cases"] == 50


def test_no_count_of_the_population_stays_exact_so_none_adds_up_to_the_total() -> None:
    # by_channel shows 40 + 10 = 50 = the total; with 3 suppressed in by_category,
    # 50 - 30 - 17 = 3. So every other count of the population shows as its band of 5.
    doc = _pack(
        _story(
            **{
                "volumes.by_category": [
                    {"category": "self_harm_risk", "cases": 30},
                    {"category": "spam", "cases": 17},
                    {"category": "harassment", "cases": 3},
                ]
            }
        )
    )

    assert _cells(doc, "volumes", "by_category") == ["30 to 34", "15 to 19", "fewer than 5"]
    assert _cells(doc, "volumes", "by_channel") == ["40 to 44", "10 to 14"]
    # Another population keeps its exact counts.
    assert _cells(doc, "other", "by_source") == [50]


def test_two_tables_of_a_population_cannot_be_solved_for_a_suppressed_count() -> None:
    # With exact visible counts, 10 + a = 9 + b with a under 5 and b over it gives a = 4, b = 5
    # (and the total 14). Bands leave many solutions.
    doc = _pack(
        _story(
            **{
                "volumes.by_category": [
                    {"category": "harassment", "cases": 4},
                    {"category": "self_harm_risk", "cases": 10},
                ],
                "volumes.by_channel": [
                    {"channel": "email", "cases": 5},
                    {"channel": "forum", "cases": 9},
                ],
            }
        )
    )

    category = _cells(doc, "volumes", "by_category")
    channel = _cells(doc, "volumes", "by_channel")
    assert category == ["fewer than 5", "10 to 14"]
    assert channel == ["5 to 9", "5 to 9"]
    solutions = {
        (a, b, c, d)
        for a in range(1, 5)
        for b in range(10, 15)
        for c in range(5, 10)
        for d in range(5, 10)
        if a + b == c + d
    }
    assert len({a for a, *_ in solutions}) == 4  # every value of the suppressed count fits


def test_zero_is_shown_it_identifies_nobody() -> None:
    doc = _pack(
        _story(
            **{
                "volumes.by_category": [
                    {"category": "self_harm_risk", "cases": 50},
                    {"category": "spam", "cases": 0},
                ]
            }
        )
    )

    assert _cells(doc, "volumes", "by_category") == [50, 0]
    assert _table(doc, "volumes", "by_category")["totals"]["cases"] == 50


def test_a_total_under_the_threshold_is_itself_suppressed() -> None:
    doc = _pack(
        _story(
            **{
                "volumes.by_category": [{"category": "spam", "cases": 2}],
                "volumes.by_channel": [{"channel": "forum", "cases": 2}],
            }
        )
    )

    assert _cells(doc, "volumes", "by_category") == ["fewer than 5"]
    assert _table(doc, "volumes", "by_category")["totals"]["cases"] in ("fewer than 5", WITHHELD)
    assert 2 not in [_table(doc, "volumes", "by_channel")["totals"]["cases"]]


def test_a_statistic_over_fewer_things_than_the_threshold_is_withheld() -> None:
    doc = _pack(
        _story(**{"times.median": [{"urgency": "urgent", "median_minutes": 12.0, "_base": 2}]})
    )

    row = _table(doc, "times", "median")["rows"][0]
    assert row == {"urgency": "urgent", "median_minutes": WITHHELD}  # and the base never shows


@pytest.mark.parametrize("threshold", [3, 10])
def test_the_threshold_is_a_setting(threshold: int) -> None:
    doc = _pack(_story(), threshold=threshold)

    small = f"fewer than {threshold}"
    cells = _cells(doc, "volumes", "by_category")
    assert (small in cells) is (threshold > 8)
    if threshold == 10:
        assert cells == ["30 to 39", "10 to 19", small]
    assert doc["basis"]["suppression_threshold"] == threshold


def test_reports_other_than_the_trustee_pack_are_not_suppressed() -> None:
    built = Built(
        tables={
            "summary.by_clock": [
                {"clock": "first_action", "clocks": 2, "met": 1, "breached": 1, "open": 0,
                 "open_overdue": 0}
            ],
            "breaches.breaches": [],
            "clocks.clocks": [],
        }
    )  # fmt: skip
    doc = assemble(SLA, built, parameters=PARAMETERS, checkpoint=None, threshold=5)

    assert doc["sections"][0]["tables"][0]["rows"][0]["clocks"] == 2
    assert doc["basis"]["suppression_threshold"] is None
    assert TRUSTEE.suppressed
    assert not SLA.suppressed
