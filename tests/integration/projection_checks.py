"""Helpers for checking views against the log: table dumps, an exactly-once witness, crashes.

- ``dump`` reads every table of every view as sorted rows, so two states of the views compare
  with ``==``.
- ``AppliedEvents`` is a view (test-only) that writes one row per event it is given, with no
  unique constraint: an event applied twice shows as two rows, a missed one as none.
- ``arm_crash`` makes a view's next-but-n batch fail, either in ``changes`` (before the
  transaction) or inside the transaction after the position and the view's rows were written
  (a statement that cannot succeed), as a worker killed just before its commit would.
- ``child_main`` is a worker process for tests that kill it with SIGKILL.
"""

# SQL here names only test tables (constants, quoted by the store); values are bound parameters.

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

from infrastructure.event_log import EventLog
from projections.projector import Projector
from projections.registry import build_views
from projections.runner import TRACKING_TABLE, Positioned, Statement, View
from projections.store import ViewStore, view_store_for

_DROP_TABLE = re.compile(r"DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\S+)", re.IGNORECASE)

Dump = dict[str, list[tuple[Any, ...]]]


def view_tables(view: View, store: ViewStore) -> list[str]:
    """A view's tables, as its drop statements name them (quoted, schema-qualified)."""
    return [
        match.group(1).rstrip(";")
        for statement in view.drop_statements(store)
        for match in _DROP_TABLE.finditer(statement)
    ]


def dump(store: ViewStore, views: Sequence[View]) -> Dump:
    """Every row of every table of the views, as sorted tuples (columns in name order)."""
    tables: Dump = {}
    with store.transaction(commit=False) as tx:
        for view in views:
            for n, table in enumerate(view_tables(view, store)):
                rows = tx.fetchall(f"SELECT * FROM {table}")
                # Keyed by view and table order, so views built under another suffix compare.
                tables[f"{view.name}[{n}]"] = sorted(
                    (tuple(sorted(row.items())) for row in rows), key=repr
                )
    return tables


def positions(event_log: EventLog, views: Sequence[View]) -> dict[str, int]:
    store = view_store_for(event_log.recorder)
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT view_name, notification_id FROM {store.table(TRACKING_TABLE)}")
    names = {view.name for view in views}
    return {
        row["view_name"]: int(row["notification_id"]) for row in rows if row["view_name"] in names
    }


def head(event_log: EventLog) -> int:
    return event_log.recorder.max_notification_id() or 0


def log_positions(event_log: EventLog) -> list[int]:
    """Every notification id in the log, in order."""
    ids: list[int] = []
    while True:
        batch = event_log.recorder.select_notifications(
            start=(ids[-1] + 1) if ids else 1, limit=5000
        )
        if not batch:
            return ids
        ids.extend(n.id for n in batch)


# --- the exactly-once witness ------------------------------------------------------------------

APPLIED_TABLE = "test_applied_events"


class AppliedEvents(View):
    """One row per event applied: (position, topic). No key, so duplicates would show."""

    name = APPLIED_TABLE
    version = 1

    def create_statements(self, store: ViewStore) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {store.table(APPLIED_TABLE)} "
            "(position BIGINT NOT NULL, topic TEXT NOT NULL)"
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {store.table(APPLIED_TABLE)}"]

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        insert = f"INSERT INTO {store.table(APPLIED_TABLE)} (position, topic) VALUES (%(p)s, %(t)s)"
        return [(insert, {"p": item.position, "t": type(item.event).__name__}) for item in batch]


def applied(store: ViewStore) -> list[int]:
    """The positions the witness was given, sorted, duplicates kept."""
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT position FROM {store.table(APPLIED_TABLE)}")
    return sorted(int(row["position"]) for row in rows)


def activity_positions(store: ViewStore) -> list[int]:
    """The positions the actor-activity view holds a row for (one row per event of the log)."""
    with store.transaction(commit=False) as tx:
        rows = tx.fetchall(f"SELECT position FROM {store.table('actor_activity')}")
    return sorted(int(row["position"]) for row in rows)


def shift_activity(store: ViewStore) -> tuple[int, int, int]:
    """How many shifts, check-ins and handovers the shift board holds (for statistics)."""
    with store.transaction(commit=False) as tx:
        found = [
            tx.fetchone(f"SELECT COUNT(*) AS n FROM {store.table(name)}")
            for name in ("shift_rota", "shift_attendance", "shift_handovers")
        ]
    shifts, check_ins, handovers = (int(row["n"]) if row else 0 for row in found)
    return shifts, check_ins, handovers


def all_views(event_log: EventLog) -> list[View]:
    """Every registered view, plus the witness."""
    return [*build_views(event_log), AppliedEvents()]


# --- crashes -----------------------------------------------------------------------------------


class Crash(Exception):
    """An injected failure (the worker "dies" here)."""


class CrashSwitch:
    """Records whether an armed crash has fired, so only injected failures are tolerated."""

    def __init__(self) -> None:
        self.fired = False


def arm_crash(view: View, *, on_call: int, inside_transaction: bool) -> CrashSwitch:
    """Make the view's ``on_call``-th batch fail (1: the next one)."""
    switch = CrashSwitch()
    original: Callable[[ViewStore, Sequence[Positioned]], list[Statement]] = view.changes
    calls = [0]

    def changes(store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        calls[0] += 1
        statements = original(store, batch)
        if calls[0] != on_call:
            return statements
        switch.fired = True
        if not inside_transaction:
            raise Crash(f"{view.name} died before its transaction")
        # Runs after the tracking row moved and the view's statements ran, then fails: the
        # commit never happens.
        missing = store.table("test_no_such_table")
        return [*statements, (f"INSERT INTO {missing} (x) VALUES (%(x)s)", {"x": 1})]

    # An instance attribute shadows the method for this view object only.
    object.__setattr__(view, "changes", changes)
    return switch


# --- following -------------------------------------------------------------------------------


def projector(event_log: EventLog, views: Sequence[View], *, batch_size: int = 500) -> Projector:
    """The worker's projector over these views (no LISTEN thread: tests call catch_up)."""
    return Projector(event_log, views, batch_size=batch_size, listen=False)


def child_main() -> None:
    """A follower process: ``python -c '...child_main()' DATABASE_URL BATCH_SIZE [stepped]``.

    Prints ``ready`` once set up, then catches every view up and prints ``done``. Stepped, it
    prints ``applying`` as the witness is given each batch and waits for a line on stdin before
    going on, so a test can kill it at a batch of its choosing, while it still has work to do.
    """
    from infrastructure.logging import configure_logging
    from infrastructure.settings import Settings
    from interfaces.composition import bootstrap

    url, batch_size = sys.argv[1], int(sys.argv[2])
    # Log lines go to stderr (warnings only): stdout carries "ready" and "done".
    settings = Settings(_env_file=None, environment="test", database_url=url, log_level="WARNING")
    configure_logging(settings)
    vigil = bootstrap(settings)
    views = all_views(vigil.event_log)
    if sys.argv[3:] == ["stepped"]:
        witness = views[-1]
        original = witness.changes

        def stepped(store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
            print("applying", flush=True)
            sys.stdin.readline()
            return original(store, batch)

        object.__setattr__(witness, "changes", stepped)
    follower = projector(vigil.event_log, views, batch_size=batch_size)
    print("ready", flush=True)
    follower.catch_up()
    print("done", flush=True)
    vigil.close()
