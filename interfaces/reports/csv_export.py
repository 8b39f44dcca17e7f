"""CSV: one file per table (RFC 4180 through the csv module: quoted as needed, CRLF, UTF-8),
and a zip of them with the report's parameters, byte for byte the same for the same document.

A file is named ``<section>__<table>.csv``; its first row is the columns' labels, then the rows
in the document's order, then the totals (if any) as the last row. No value is an empty cell;
a suppressed count is its text ("fewer than 5"). A text cell that a spreadsheet would run as a
formula (starting with = + - @, a tab or a carriage return) is prefixed with an apostrophe, as
OWASP advises; numbers are written as they are.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from interfaces.reports.document import Cell, Report, Table, format_cell, read_report, safe_name

# A zip entry's time: the report's as_of (UTC), so the archive depends on nothing but the
# document; the zip format cannot say a time before 1980.
_EARLIEST_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_UNIX = 3  # ZipInfo.create_system, fixed: it otherwise depends on the platform


def render_csv(doc: Mapping[str, Any]) -> dict[str, bytes]:
    """One CSV file per table, by file name (sorted), ``<section>__<table>.csv``."""
    report = read_report(doc)
    files: dict[str, bytes] = {}
    for section in report.sections:
        for table in section.tables:
            name = f"{safe_name(section.key)}__{safe_name(table.key)}.csv"
            if name in files:
                raise ValueError(f"two tables would both be written as {name}")
            files[name] = _table_csv(table)
    return dict(sorted(files.items()))


def render_csv_zip(doc: Mapping[str, Any]) -> bytes:
    """The tables' CSV files, ``parameters.csv`` and a ``README.txt``, in one zip (stored,
    not deflated: the bytes then depend on no compression library's version)."""
    report = read_report(doc)
    files = render_csv(doc)
    files["parameters.csv"] = _csv_bytes(
        [("parameter", "value"), *((p.key, p.value) for p in report.parameters)]
    )
    files["README.txt"] = _readme(report, sorted(files)).encode("utf-8")
    when = _zip_time(report.as_of)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=when)
            info.create_system = _UNIX
            info.external_attr = 0o100644 << 16  # a plain file, rw-r--r--
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def csv_text(value: Cell) -> str:
    """A cell as CSV writes it: the one format, empty for no value, formulas defused."""
    text = format_cell(value, missing="")
    if isinstance(value, str | list) and text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def _table_csv(table: Table) -> bytes:
    keys = [column.key for column in table.columns]
    rows: list[Sequence[str]] = [[csv_text(column.label) for column in table.columns]]
    rows.extend([csv_text(row.get(key)) for key in keys] for row in table.rows)
    if table.totals is not None:
        rows.append([csv_text(table.totals.get(key)) for key in keys])
    return _csv_bytes(rows)


def _csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text, dialect="excel", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def _readme(report: Report, names: list[str]) -> str:
    lines = [report.title, "=" * len(report.title), ""]
    width = max(len(p.label) for p in report.parameters)
    lines.extend(f"{p.label + ':':<{width + 1}} {p.value}" for p in report.parameters)
    titles = {
        f"{safe_name(section.key)}__{safe_name(table.key)}.csv": f"{section.title}: {table.title}"
        for section in report.sections
        for table in section.tables
    }
    lines += ["", "Files", "-----"]
    for name in names:
        if name in titles:
            lines.append(f"{name}  {titles[name]}")
        elif name == "parameters.csv":
            lines.append(f"{name}  the parameters and basis above")
    lines += [
        "",
        "Each CSV file is UTF-8 with CRLF line ends (RFC 4180). Its first row holds the",
        "column labels; a table's totals, when it has them, are its last row. An empty cell",
        "has no value; a count too small to publish is given as text (such as",
        '"fewer than 5"), never as a number. A text cell that begins with = + - or @ is',
        "prefixed with an apostrophe so that a spreadsheet does not run it as a formula.",
        "The JSON report is the reference; these files carry the same numbers.",
        "",
    ]
    return "\n".join(lines)


def _zip_time(as_of: str) -> tuple[int, int, int, int, int, int]:
    try:
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        return _EARLIEST_ZIP_TIME
    if moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
    when = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return max(when, _EARLIEST_ZIP_TIME)
