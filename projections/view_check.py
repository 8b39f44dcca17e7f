"""Checking views against the log: continuity of their positions, and their rows.

The application role owns the views' tables and their tracking rows (it must write them), so
it can change them too: move a tracking row past events (a view then never applies them: an
escalation missing from its queue), or delete a row (a read missing from the access log).
Nothing in the database can refuse that; these checks detect it, from the log alone.

**Continuity** (``continuity``): each tracking row counts the events the view applied
(``projections.runner``: the count moves with the position, in the same compare-and-set). The
log holds exactly that many events up to the position, unless the position was moved by
something else. Cheap enough for ``/ready`` (the projector counts only what the log gained
since its last look) and for ``vigil verify``.

**Rows** (``differences``): a view rebuilt aside from the log, at the live view's position,
must hold the same rows as the live view, table by table (``Projector.compare_with_rebuild``
rebuilds it; this compares). A row deleted, added or altered in the live view shows as a row
one side holds and the other does not.

Nothing here reads a row's content into a report: a difference is named by its table, how
many rows differ, and the smallest log ``position`` among them where the table has one.
"""

# SQL here names the log's table and the views' own tables (constants and names the store
# quotes); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from infrastructure.recorders import events_table
from projections.runner import TRACKING_TABLE
from projections.store import Tx, ViewStore, quote


@dataclass(frozen=True)
class Continuity:
    """One view's tracking row against the log."""

    view: str
    position: int
    """The tracking row's notification id."""
    applied: int | None
    """Events the view counted as applied (None: the row has no count)."""
    logged: int
    """Events the log holds up to ``position``."""
    head: int
    """The log's last notification id."""

    @property
    def consistent(self) -> bool:
        return self.applied == self.logged and self.position <= self.head

    def describe(self) -> str:
        """Why the position is not what the view applied (no personal data: counts only)."""
        if self.position > self.head:
            return (
                f"the view's tracking position {self.position} is beyond the log's last event "
                f"({self.head}): events written up to it would never be applied"
            )
        if self.applied is None:
            return "the view's tracking row has lost its count of applied events"
        if self.applied < self.logged:
            return (
                f"the log holds {self.logged} events up to the view's tracking position "
                f"{self.position} but the view applied {self.applied}: "
                f"{self.logged - self.applied} event(s) up to that position were skipped"
            )
        return (
            f"the view counts {self.applied} events applied but the log holds {self.logged} up "
            f"to its tracking position {self.position}: the position was moved back"
        )


def log_head(tx: Tx, recorder: Any) -> int:
    table, nid = events_table(recorder)
    row = tx.fetchone(f"SELECT MAX({nid}) AS head FROM {table}")
    return int(row["head"] or 0) if row else 0


def count_logged(tx: Tx, recorder: Any, after: int, upto: int) -> int:
    """Events the log holds with ``after < notification id <= upto``."""
    if upto <= after:
        return 0
    table, nid = events_table(recorder)
    row = tx.fetchone(
        f"SELECT COUNT(*) AS n FROM {table} WHERE {nid} > %(after)s AND {nid} <= %(upto)s",
        {"after": after, "upto": upto},
    )
    return int(row["n"]) if row else 0


def tracking_rows(tx: Tx, store: ViewStore, names: Sequence[str]) -> dict[str, tuple[int, Any]]:
    """view name -> (position, applied events) of the tracking rows named."""
    params = {f"n{i}": name for i, name in enumerate(names)}
    placeholders = ", ".join(f"%({key})s" for key in params) or "NULL"
    rows = tx.fetchall(
        f"SELECT view_name, notification_id, applied_events FROM {store.table(TRACKING_TABLE)} "
        f"WHERE view_name IN ({placeholders})",
        params,
    )
    return {
        str(row["view_name"]): (
            int(row["notification_id"]),
            None if row["applied_events"] is None else int(row["applied_events"]),
        )
        for row in rows
    }


def continuity(
    store: ViewStore,
    recorder: Any,
    names: Sequence[str],
    known: dict[str, tuple[int, int]] | None = None,
) -> list[Continuity]:
    """Each named view's tracking row against the log, in one read transaction.

    ``known``: view -> (position, events logged up to it) from an earlier look; only the log
    beyond it is counted (the log never loses events: the ledger's triggers and ``verify``
    see to that), and it is updated with what this look found."""
    found: list[Continuity] = []
    with store.transaction(commit=False) as tx:
        rows = tracking_rows(tx, store, names)
        head = log_head(tx, recorder)
        counted: dict[int, int] = {}
        for name in names:
            if name not in rows:
                continue
            position, applied = rows[name]
            base_position, base_count = (known or {}).get(name, (0, 0))
            if base_position > position:
                base_position, base_count = 0, 0
            if position not in counted:
                upto = min(position, head)
                counted[position] = base_count + count_logged(tx, recorder, base_position, upto)
            logged = counted[position]
            if known is not None:
                known[name] = (min(position, head), logged)
            found.append(Continuity(name, position, applied, logged, head))
    return found


@dataclass(frozen=True)
class Difference:
    """Rows of one table of a view that the live view and its rebuild do not share."""

    view: str
    table: str
    only_live: int
    """Rows the live view holds and the rebuild does not (added, or altered)."""
    only_rebuilt: int
    """Rows the rebuild holds and the live view does not (deleted, or altered)."""
    first_position: int | None
    """The smallest log position among the differing rows, where the table has positions."""

    def describe(self) -> str:
        parts = []
        if self.only_rebuilt:
            parts.append(
                f"{self.only_rebuilt} row(s) the log gives are missing from it (deleted or altered)"
            )
        if self.only_live:
            parts.append(
                f"{self.only_live} row(s) in it are not what the log gives (added or altered)"
            )
        where = ""
        if self.first_position is not None:
            where = f", first at log position {self.first_position}"
        return (
            f"the view's table {self.table} differs from the view rebuilt from the log{where}: "
            + "; ".join(parts)
        )


def columns_of(tx: Tx, store: ViewStore, name: str) -> list[str]:
    """The table's columns, in order."""
    if store.dialect == "postgresql":
        rows = tx.fetchall(
            "SELECT attname FROM pg_attribute WHERE attrelid = %(table)s::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            {"table": store.table(name)},
        )
        return [str(row["attname"]) for row in rows]
    literal = "'" + (name + store.suffix).replace("'", "''") + "'"
    rows = tx.fetchall(f"SELECT name FROM pragma_table_info({literal}) ORDER BY cid")
    return [str(row["name"]) for row in rows]


def differences(
    tx: Tx, view: str, live: ViewStore, rebuilt: ViewStore, tables: Sequence[str]
) -> list[Difference]:
    """The tables' rows in ``live`` against those in ``rebuilt`` (both at one position)."""
    found = []
    for name in sorted(tables):
        columns = columns_of(tx, rebuilt, name)
        listed = ", ".join(quote(column) for column in columns)
        position = "MIN(position)" if "position" in columns else "NULL"
        counts = []
        firsts = []
        for one, other in ((live, rebuilt), (rebuilt, live)):
            row = tx.fetchone(
                f"SELECT COUNT(*) AS n, {position} AS first FROM ("
                f"SELECT {listed} FROM {one.table(name)} EXCEPT "
                f"SELECT {listed} FROM {other.table(name)}) AS d"
            )
            assert row is not None
            counts.append(int(row["n"]))
            if row["first"] is not None:
                firsts.append(int(row["first"]))
        if any(counts):
            found.append(
                Difference(view, name, counts[0], counts[1], min(firsts) if firsts else None)
            )
    return found
