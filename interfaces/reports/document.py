"""The report document read once into typed parts, and the one way every format writes a cell.

A report is a JSON document (the reference format); the renderers never read it directly but
through ``read_report``, so the document's shape is known in one place. ``format_cell`` gives
every value its one text, so HTML, CSV and PDF carry the same numbers character for character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

EM_DASH = "\u2014"
NONE_IN_PERIOD = "None in this period."

# A cell as the document holds it: text, a number, a yes/no, no value, or a list of texts.
Cell = str | int | float | bool | None | list[str]


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool


@dataclass(frozen=True)
class Chart:
    label: str  # the column whose cells name the bars
    value: str  # the column whose cells size them


@dataclass(frozen=True)
class Table:
    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[Mapping[str, Cell], ...]
    totals: Mapping[str, Cell] | None
    chart: Chart | None


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    description: str | None
    tables: tuple[Table, ...]


@dataclass(frozen=True)
class Parameter:
    key: str  # a stable name, as in parameters.csv
    label: str  # for people, as in the HTML and PDF
    value: str


@dataclass(frozen=True)
class Report:
    kind: str
    title: str
    as_of: str
    parameters: tuple[Parameter, ...]
    sections: tuple[Section, ...]


def format_cell(value: Cell, *, missing: str = EM_DASH) -> str:
    """The one text of a cell in every format: integers as they are, floats with the digits
    the document gives (never an exponent, never a thousands separator), yes/no, lists joined
    with ", ", and ``missing`` (an em dash; CSV passes "") for no value."""
    if value is None:
        return missing
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _format_float(value)
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(item, missing=missing) for item in value)
    return str(value)


def safe_name(key: str) -> str:
    """A key as a file name part: letters, digits, '_' and '-' only (no path can be smuggled)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", key).strip("-")
    return cleaned or "unnamed"


def read_report(doc: Mapping[str, Any]) -> Report:
    """The document's parts, typed; a missing required part raises ``KeyError``/``TypeError``."""
    parameters = doc.get("parameters") or {}
    return Report(
        kind=str(doc["kind"]),
        title=str(doc["title"]),
        as_of=str(parameters.get("as_of") or (doc.get("basis") or {}).get("as_of") or ""),
        parameters=tuple(_parameters(doc)),
        sections=tuple(_section(section) for section in doc.get("sections") or ()),
    )


def _format_float(value: float) -> str:
    text = repr(value)
    if "e" in text or "E" in text:
        # repr switches to an exponent for very small or large values; the plain digits read
        # the same everywhere (Decimal keeps exactly the digits repr chose).
        return format(Decimal(text), "f")
    return text


def _section(section: Mapping[str, Any]) -> Section:
    description = section.get("description")
    return Section(
        key=str(section["key"]),
        title=str(section["title"]),
        description=str(description) if description else None,
        tables=tuple(read_table(table) for table in section.get("tables") or ()),
    )


def read_table(table: Mapping[str, Any]) -> Table:
    """One table of a section, typed."""
    chart = table.get("chart")
    totals = table.get("totals")
    return Table(
        key=str(table["key"]),
        title=str(table["title"]),
        columns=tuple(
            Column(
                key=str(column["key"]),
                label=str(column.get("label") or column["key"]),
                numeric=bool(column.get("numeric", False)),
            )
            for column in table["columns"]
        ),
        rows=tuple(dict(row) for row in table.get("rows") or ()),
        totals=dict(totals) if totals else None,
        chart=(
            Chart(label=str(chart["label"]), value=str(chart["value"]))
            if chart and chart.get("type", "bar") == "bar"
            else None
        ),
    )


# The parameters and the basis every format states, in this order, under these names.
_KNOWN_PARAMETERS: tuple[tuple[str, str], ...] = (
    ("from", "From"),
    ("to", "To"),
    ("service", "Service"),
    ("as_of", "As of"),
)
_KNOWN_BASIS: tuple[tuple[str, str], ...] = (
    ("checkpoint.tree_size", "Checkpoint tree size"),
    ("checkpoint.root_hash", "Checkpoint root hash"),
    ("checkpoint.signed_at", "Checkpoint signed at"),
    ("sla_policy_versions", "SLA policy versions"),
    ("calendar_versions", "Calendar versions"),
    ("scorecard_versions", "Scorecard versions"),
    ("suppression_threshold", "Suppression threshold"),
)


def _parameters(doc: Mapping[str, Any]) -> list[Parameter]:
    found = [
        Parameter("kind", "Kind", str(doc["kind"])),
        Parameter("title", "Title", str(doc["title"])),
    ]
    if "definition_version" in doc:
        found.append(
            Parameter(
                "definition_version", "Definition version", _describe(doc["definition_version"])
            )
        )
    parameters = _flatten(doc.get("parameters") or {})
    for key, label in _KNOWN_PARAMETERS:
        if key in parameters:
            value = parameters.pop(key)
            text = "all" if key == "service" and value is None else _describe(value)
            found.append(Parameter(key, label, text))
    found.extend(Parameter(key, _label(key), _describe(v)) for key, v in sorted(parameters.items()))
    basis = _flatten(doc.get("basis") or {})
    basis.pop("as_of", None)  # the parameters' as_of, said once
    for key, label in _KNOWN_BASIS:
        if key in basis:
            found.append(Parameter(key, label, _describe(basis.pop(key))))
    found.extend(Parameter(key, _label(key), _describe(v)) for key, v in sorted(basis.items()))
    return found


def _flatten(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """One level of nesting spelt out (``checkpoint.tree_size``); deeper values are described."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if key == "checkpoint" and isinstance(value, Mapping):
            for inner, inner_value in value.items():
                flat[f"checkpoint.{inner}"] = inner_value
        elif key == "checkpoint" and value is None:
            flat["checkpoint.tree_size"] = None
        else:
            flat[str(key)] = value
    return flat


def _describe(value: Any) -> str:
    """A parameter's text: mappings as ``name: a, b; other: c`` in key order."""
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {_describe(value[key])}" for key in sorted(value))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(_describe(item) for item in value)
    return format_cell(value)


def _label(key: str) -> str:
    return key.replace(".", " ").replace("_", " ").capitalize()
