"""A report as a document: the JSON every format renders, its bytes, and how two are compared.

The document is the reference (``GET /reports/{kind}?format=json``): its sections and tables in
the order the definition declares them, each cell a plain JSON value (times in RFC 3339 UTC,
numbers rounded once, here), so the same figures always give the same bytes (``to_json``).

**Suppression** (the trustee pack: "trustees see numbers, not people"). A count from 1 to one
under the threshold shows as ``fewer than N`` (primary). A cell could still be recovered by
subtraction from a total, or by setting the tables that break one population down (say the
cases opened in the period: by category, by risk, by channel...) against each other, so where a
population has any cell suppressed in any table:

* its total is ``withheld`` in every table that breaks it down (the same total in each), and
* every other count of those tables shows as the band of ``N`` it falls in (``10 to 14``), so no
  visible cell is exact: no sum or difference of them pins a suppressed count down, nor the
  total. Zeros show (they identify nobody).

A statistic (a median) is withheld when it is taken over fewer things than the threshold. The
serious-incident register and the cases that may be serious incidents are lists, one row per
case, by design (trustees answer for each decision): they are not counts and are not
suppressed; a case in them is named by its id alone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from application.reports.builders import Built
from application.reports.definitions import Cell, ReportDefinition, Table

WITHHELD = "withheld"


def fewer_than(threshold: int) -> str:
    return f"fewer than {threshold}"


def band(value: int, width: int) -> str:
    """The band of ``width`` a count falls in: ``10 to 14`` (words, not a dash: a spreadsheet
    reads ``10-14`` as a date)."""
    low = value // width * width
    return f"{low} to {low + width - 1}"


def cell_value(value: Any) -> Any:
    """A cell as JSON has it: times RFC 3339 in UTC to the second, dates ISO, the rest as is."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def assemble(
    definition: ReportDefinition,
    built: Built,
    *,
    parameters: dict[str, Any],
    checkpoint: dict[str, Any] | None,
    threshold: int,
) -> dict[str, Any]:
    """The report document from its built tables (suppressed, for a kind that is)."""
    tables = {
        path: [{k: cell_value(v) for k, v in row.items()} for row in rows]
        for path, rows in built.tables.items()
    }
    totals: dict[str, dict[str, Any]] = {}
    for section in definition.sections:
        for table in section.tables:
            path = f"{section.key}.{table.key}"
            if table.totals:
                totals[path] = _totals(table, tables[path])
    if definition.suppressed:
        _suppress(definition, tables, totals, threshold)
    for rows in tables.values():
        for row in rows:
            row.pop("_base", None)
    return {
        "kind": definition.kind,
        "title": definition.title,
        "definition_version": definition.version,
        "parameters": parameters,
        "basis": {
            "as_of": parameters["as_of"],
            "checkpoint": checkpoint,
            "sla_policy_versions": sorted(built.policy_versions),
            "calendar_versions": {
                service: sorted(versions)
                for service, versions in sorted(built.calendar_versions.items())
            },
            "scorecard_versions": sorted(built.scorecard_versions),
            "suppression_threshold": threshold if definition.suppressed else None,
        },
        "sections": [
            {
                "key": section.key,
                "title": section.title,
                **({"description": section.description} if section.description else {}),
                "tables": [
                    _table(
                        table,
                        tables[f"{section.key}.{table.key}"],
                        totals.get(f"{section.key}.{table.key}"),
                    )
                    for table in section.tables
                ],
            }
            for section in definition.sections
        ],
    }


def _table(
    table: Table, rows: list[dict[str, Any]], totals: dict[str, Any] | None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": table.key,
        "title": table.title,
        "columns": [
            {
                "key": c.key,
                "label": c.label,
                "cell": c.cell.value,
                **({"numeric": True} if c.cell in (Cell.COUNT, Cell.NUMBER) else {}),
            }
            for c in table.columns
        ],
        "rows": [{c.key: row.get(c.key) for c in table.columns} for row in rows],
    }
    if table.description:
        out["description"] = table.description
    if totals is not None:
        out["totals"] = totals
    if table.chart is not None:
        out["chart"] = {"type": "bar", "label": table.chart[0], "value": table.chart[1]}
    return out


def _counts(table: Table) -> list[str]:
    return [c.key for c in table.columns if c.cell is Cell.COUNT]


def _totals(table: Table, rows: list[dict[str, Any]]) -> dict[str, Any]:
    first = table.columns[0]
    totals: dict[str, Any] = {c.key: None for c in table.columns}
    if first.cell is not Cell.COUNT:
        totals[first.key] = "Total"
    for key in _counts(table):
        totals[key] = sum(int(r.get(key) or 0) for r in rows)
    return totals


def _suppress(
    definition: ReportDefinition,
    tables: dict[str, list[dict[str, Any]]],
    totals: dict[str, dict[str, Any]],
    threshold: int,
) -> None:
    small = fewer_than(threshold)
    by_population: dict[str, list[tuple[str, str]]] = defaultdict(list)
    touched: set[str] = set()
    for section in definition.sections:
        for table in section.tables:
            path = f"{section.key}.{table.key}"
            for key in _counts(table):
                population = table.population or f"{path}.{key}"
                by_population[population].append((path, key))
                for row in tables[path]:
                    value = row.get(key)
                    if isinstance(value, int) and 0 < value < threshold:
                        row[key] = small
                        touched.add(population)
            for row in tables[path]:
                # A statistic over fewer things than the threshold.
                base = row.get("_base")
                if base is not None and base < threshold:
                    for column in table.columns:
                        if column.cell is Cell.NUMBER and row.get(column.key) is not None:
                            row[column.key] = WITHHELD
    for population in touched:
        for path, key in by_population[population]:
            for row in tables[path]:
                value = row.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value >= threshold:
                    row[key] = band(value, threshold)
            if path in totals:
                totals[path][key] = WITHHELD
    for totals_row in totals.values():
        for key, value in totals_row.items():
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < threshold:
                totals_row[key] = small


def to_json(document: dict[str, Any]) -> bytes:
    """The document's bytes: always the same for the same document (key order as built)."""
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def first_difference(saved: Any, fresh: Any, path: str = "") -> str | None:
    """Where two documents first differ (``sections[2].tables[0].rows[3].cases: 12 != 13``),
    or None when they are the same."""
    if isinstance(saved, dict) and isinstance(fresh, dict):
        for key in list(saved) + [k for k in fresh if k not in saved]:
            if key not in saved or key not in fresh:
                return f"{path}.{key}: present in only one".lstrip(".")
            found = first_difference(saved[key], fresh[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(saved, list) and isinstance(fresh, list):
        for i, (a, b) in enumerate(zip(saved, fresh, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(saved) != len(fresh):
            return f"{path}: {len(saved)} items saved, {len(fresh)} now".lstrip(".")
        return None
    if saved != fresh or type(saved) is not type(fresh):
        return f"{path}: saved {saved!r}, now {fresh!r}".lstrip(".")
    return None
