"""``attendance``: who is checked in to which shift right now (the open check-ins).

One table, ``attendance_open``: a row per check-in (``CheckedIn``) until its check-out
(``CheckedOut``, the person's own or a lead's on their behalf) removes it. It gives a check-in
the one fact about other shifts the domain needs ("does this person have an open check-in
elsewhere?", ``domain.shift.decide.ShiftContext.open_check_in_elsewhere``), so one person is
checked in to one shift at a time.

No personal data: staff usernames, shift ids and times.

The check-in reads it caught up with the log (``OpenCheckIns.current``, as a break-glass review
reads its grant), so a check-in recorded a moment ago is seen. What remains is a race: two
check-ins of one person to two shifts, decided at the same moment in two requests, each before
the other is stored, both pass (each shift is its own stream, so neither append stands in the
other's way). The window is the time between the catch-up and the append (milliseconds, one
person with two devices); what it leaves is two open check-ins, shown as such by the shift log
and closed by a check-out (or a lead's) like any other. Closing it would take a stream per
person written with every check-in and check-out.
"""

# SQL here names only this module's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.shift.events import CheckedIn, CheckedOut
from infrastructure.event_log import EventLog
from projections.bulk_write import bulk_delete, bulk_insert
from projections.read_model import ReadModel
from projections.runner import DEFAULT_BATCH_SIZE, Positioned, Statement, View
from projections.store import ViewStore

if TYPE_CHECKING:
    from projections.projector import Projector

NAME = "attendance"
OPEN = "attendance_open"


class OpenCheckIn(BaseModel):
    """A person checked in to a shift and not (yet) out of it."""

    model_config = ConfigDict(frozen=True)

    person: str
    shift_id: UUID
    checked_in_at: datetime  # occurred
    position: int  # the check-in's place in the log


class AttendanceView(View):
    name = NAME
    version = 1

    def __init__(self, event_log: EventLog | None = None) -> None:
        pass  # each row is one check-in event's own fields

    def create_statements(self, store: ViewStore) -> list[str]:
        table = store.table(OPEN)
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "check_in TEXT PRIMARY KEY, "
            "person TEXT NOT NULL, "
            f"shift_id {store.uuid_type} NOT NULL, "
            f"checked_in_at {store.time_type} NOT NULL, "
            "position BIGINT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {store.index('attendance_open_by_person')} "
            f"ON {table} (person, position)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {store.table(OPEN)}"]

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        # A person checks in to a shift once, and out after: inserts, then deletes, are in order.
        opened: list[dict[str, Any]] = []
        closed: list[str] = []
        for item in batch:
            event = item.event
            if isinstance(event, CheckedIn):
                opened.append(
                    {
                        "check_in": _key(event.actor, event.originator_id),
                        "person": event.actor,
                        "shift_id": store.encode_uuid(event.originator_id),
                        "checked_in_at": store.encode_time(event.occurred_at),
                        "position": item.position,
                    }
                )
            elif isinstance(event, CheckedOut):
                closed.append(_key(event.person, event.originator_id))
        table = store.table(OPEN)
        return [
            *bulk_insert(store, table, _COLUMNS, opened, upsert_key=("check_in",)),
            *bulk_delete(store, table, "check_in", closed, sql_type="text"),
        ]


_COLUMNS = ("check_in", "person", "shift_id", "checked_in_at", "position")


def _key(person: str, shift_id: UUID) -> str:
    return f"{person}/{shift_id}"


class OpenCheckIns(ReadModel[AttendanceView]):
    """Who is checked in where: kept up to date with ``catch_up()``."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            AttendanceView,
            lambda: AttendanceView(event_log),
            projector=projector,
            batch_size=batch_size,
        )

    def of(self, person: str) -> list[OpenCheckIn]:
        """The person's open check-ins as the view stands, earliest first."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT person, shift_id, checked_in_at, position FROM {store.table(OPEN)} "
                "WHERE person = %(person)s ORDER BY position",
                {"person": person},
            )
        found = []
        for row in rows:
            at = store.decode_time(row["checked_in_at"])
            assert at is not None
            found.append(
                OpenCheckIn(
                    person=row["person"],
                    shift_id=store.decode_uuid(row["shift_id"]),
                    checked_in_at=at,
                    position=int(row["position"]),
                )
            )
        return found

    def current(self, person: str) -> list[OpenCheckIn]:
        """``of``, after applying everything recorded so far: for a check-in, which must not
        miss one recorded a moment ago (see the module on the race that remains)."""
        self.catch_up()
        return self.of(person)
