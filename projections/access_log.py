"""``access_log``: who read which case record, when and why; break-glass grants and their reviews.

Two tables, fed from the access events (``domain.access.events``):

* ``access_log_entries``: one row per read (``CaseRecordAccessed``), per break-glass grant and
  per grant review, in log order: behind ``GET /api/v1/audit/access``.
* ``access_log_grants``: one row per break-glass grant, with its review once made: the case ids
  a user may currently see in lists, and the ``break_glass_reviews`` queue for leads.

No personal data: usernames of staff, ids, pseudonymous subject refs, enums and times (a
break-glass reason stays in the log, where erasure can reach it).

"""

# SQL here names only this module's own tables and columns, or the given column names of the
# calling view (constants); every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.access.events import (
    BreakGlassAccessGranted,
    BreakGlassAccessReviewed,
    CaseRecordAccessed,
)
from domain.access.rules import Grant
from domain.access.vocabulary import (
    AccessedRecord,
    AccessLevel,
    AccessPurpose,
    GrantReviewOutcome,
)
from domain.calendar import CalendarHistory, ServiceCalendar
from domain.shared import Role
from infrastructure.event_log import EventLog
from projections.bulk_write import bulk_insert
from projections.paging import (
    DEFAULT_LIMIT,
    InvalidQuery,
    check_limit,
    decode_cursor,
    encode_cursor,
)
from projections.read_model import ReadModel
from projections.runner import DEFAULT_BATCH_SIZE, Positioned, Statement, View
from projections.store import ViewStore

if TYPE_CHECKING:
    from projections.projector import Projector

NAME = "access_log"
ENTRIES = "access_log_entries"
GRANTS = "access_log_grants"
BREAK_GLASS_QUEUE = "break_glass_reviews"


class EntryKind(StrEnum):
    READ = "read"
    BREAK_GLASS_GRANTED = "break_glass_granted"
    BREAK_GLASS_REVIEWED = "break_glass_reviewed"


class AccessEntry(BaseModel):
    """One entry of the access log: a read of case content, or a break-glass grant or review."""

    model_config = ConfigDict(frozen=True)

    position: int = Field(description="The entry's place in the event log.")
    event_id: UUID
    kind: EntryKind
    username: str = Field(description="Who read (or broke the glass, or reviewed).")
    role: Role
    case_id: UUID | None = Field(description="The case read; null for a subject's records.")
    subject_ref: str | None = Field(description="The subject whose records were read, if so.")
    what: AccessedRecord | None = Field(description="For reads: what was read.")
    purpose: AccessPurpose | None = Field(description="For reads: the purpose stated.")
    access: AccessLevel | None = Field(
        description="For reads: under which right (full, break_glass, own_records)."
    )
    grant_id: UUID | None = Field(description="The break-glass grant the entry is about/under.")
    request_id: str | None = Field(description="The HTTP request's id (X-Request-Id).")
    recorded_at: datetime
    expires_at: datetime | None = Field(description="For grants: when the access ends.")
    outcome: GrantReviewOutcome | None = Field(description="For reviews: the lead's finding.")
    contact_id: UUID | None = Field(
        default=None, description="For a read of a helpline contact: the contact."
    )


class BreakGlassItem(BaseModel):
    """A break-glass grant awaiting a safeguarding lead's review."""

    model_config = ConfigDict(frozen=True)

    queue: str = Field(default=BREAK_GLASS_QUEUE)
    grant_id: UUID
    case_id: UUID
    username: str = Field(description="Who broke the glass.")
    role: Role
    category: str
    granted_at: datetime
    expires_at: datetime
    active: bool = Field(description="The access is still in force at the moment asked about.")
    due_at: datetime = Field(description="Review due: end of the next working day after grant.")
    overdue: bool


_ENTRY_COLUMNS = (*AccessEntry.model_fields,)
_ENTRY_TIMES = ("recorded_at", "expires_at")
_GRANT_COLUMNS = (
    "grant_id",
    "case_id",
    "username",
    "role",
    "category",
    "granted_at",
    "expires_at",
    "reviewed_by",
    "reviewed_at",
    "outcome",
    "position",
)


class AccessLogView(View):
    name = NAME
    # 2: the contact read (helpline contacts, issue 14)
    version = 2

    def __init__(self, event_log: EventLog | None = None) -> None:
        pass  # each row is one access event's own fields

    def create_statements(self, store: ViewStore) -> list[str]:
        ts, uid = store.time_type, store.uuid_type
        entries, grants = store.table(ENTRIES), store.table(GRANTS)
        return [
            f"CREATE TABLE IF NOT EXISTS {entries} ("
            "position BIGINT PRIMARY KEY, "
            f"event_id {uid} NOT NULL, "
            "kind TEXT NOT NULL, "
            "username TEXT NOT NULL, "
            "role TEXT NOT NULL, "
            f"case_id {uid}, "
            "subject_ref TEXT, "
            "what TEXT, "
            "purpose TEXT, "
            "access TEXT, "
            f"grant_id {uid}, "
            "request_id TEXT, "
            f"recorded_at {ts} NOT NULL, "
            f"expires_at {ts}, "
            "outcome TEXT, "
            f"contact_id {uid})",
            f"CREATE INDEX IF NOT EXISTS {store.index('access_log_entries_by_case')} "
            f"ON {entries} (case_id, position)",
            f"CREATE INDEX IF NOT EXISTS {store.index('access_log_entries_by_user')} "
            f"ON {entries} (username, position)",
            f"CREATE INDEX IF NOT EXISTS {store.index('access_log_entries_by_time')} "
            f"ON {entries} (recorded_at, position)",
            f"CREATE TABLE IF NOT EXISTS {grants} ("
            f"grant_id {uid} PRIMARY KEY, "
            f"case_id {uid} NOT NULL, "
            "username TEXT NOT NULL, "
            "role TEXT NOT NULL, "
            "category TEXT NOT NULL, "
            f"granted_at {ts} NOT NULL, "
            f"expires_at {ts} NOT NULL, "
            "reviewed_by TEXT, "
            f"reviewed_at {ts}, "
            "outcome TEXT, "
            "position BIGINT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {store.index('access_log_grants_by_user')} "
            f"ON {grants} (username, expires_at)",
            f"CREATE INDEX IF NOT EXISTS {store.index('access_log_grants_open')} "
            f"ON {grants} (reviewed_at, granted_at)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [
            f"DROP TABLE IF EXISTS {store.table(ENTRIES)}",
            f"DROP TABLE IF EXISTS {store.table(GRANTS)}",
        ]

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        entries: list[dict[str, Any]] = []
        grants: list[dict[str, Any]] = []
        reviews: list[Statement] = []
        for item in batch:
            event = item.event
            if isinstance(event, CaseRecordAccessed):
                entries.append(
                    _entry(
                        item.position,
                        event.event_id,
                        EntryKind.READ,
                        event.accessed_by,
                        event.accessed_by_role,
                        event.recorded_at,
                        case_id=event.case_id,
                        subject_ref=event.subject_ref,
                        what=event.what.value,
                        purpose=event.purpose.value,
                        access=event.access.value,
                        grant_id=event.grant_id,
                        request_id=event.request_id,
                        contact_id=event.contact_id,
                    )
                )
            elif isinstance(event, BreakGlassAccessGranted):
                entries.append(
                    _entry(
                        item.position,
                        event.event_id,
                        EntryKind.BREAK_GLASS_GRANTED,
                        event.actor,
                        event.actor_role,
                        event.recorded_at,
                        case_id=event.case_id,
                        grant_id=event.event_id,
                        expires_at=event.expires_at,
                    )
                )
                grants.append(
                    {
                        "grant_id": store.encode_uuid(event.event_id),
                        "case_id": store.encode_uuid(event.case_id),
                        "username": event.actor,
                        "role": event.actor_role.value,
                        "category": event.category,
                        "granted_at": store.encode_time(event.recorded_at),
                        "expires_at": store.encode_time(event.expires_at),
                        "reviewed_by": None,
                        "reviewed_at": None,
                        "outcome": None,
                        "position": item.position,
                    }
                )
            elif isinstance(event, BreakGlassAccessReviewed):
                entries.append(
                    _entry(
                        item.position,
                        event.event_id,
                        EntryKind.BREAK_GLASS_REVIEWED,
                        event.actor,
                        event.actor_role,
                        event.recorded_at,
                        case_id=event.case_id,
                        grant_id=event.grant_id,
                        outcome=event.outcome.value,
                    )
                )
                reviews.append(
                    (
                        f"UPDATE {store.table(GRANTS)} SET reviewed_by = %(by)s, "
                        "reviewed_at = %(at)s, outcome = %(outcome)s WHERE grant_id = %(id)s",
                        {
                            "by": event.actor,
                            "at": store.encode_time(event.recorded_at),
                            "outcome": event.outcome.value,
                            "id": store.encode_uuid(event.grant_id),
                        },
                    )
                )
        encoded = [_encode_entry(store, row) for row in entries]
        statements: list[Statement] = []
        statements += bulk_insert(store, store.table(ENTRIES), _ENTRY_COLUMNS, encoded)
        statements += bulk_insert(store, store.table(GRANTS), _GRANT_COLUMNS, grants)
        statements += reviews
        return statements


def _entry(
    position: int,
    event_id: UUID,
    kind: EntryKind,
    username: str,
    role: Role,
    recorded_at: datetime,
    **fields: Any,
) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(_ENTRY_COLUMNS)
    row.update(
        position=position,
        event_id=event_id,
        kind=kind.value,
        username=username,
        role=role.value,
        recorded_at=recorded_at,
        **fields,
    )
    return row


def _encode_entry(store: ViewStore, row: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(row)
    for column in ("event_id", "case_id", "grant_id", "contact_id"):
        if encoded[column] is not None:
            encoded[column] = store.encode_uuid(encoded[column])
    for column in _ENTRY_TIMES:
        encoded[column] = store.encode_time(encoded[column])
    return encoded


class AccessLog(ReadModel[AccessLogView]):
    """The access log and break-glass grants: kept up to date with ``catch_up()``."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            AccessLogView,
            lambda: AccessLogView(event_log),
            projector=projector,
            batch_size=batch_size,
        )

    def entries(
        self,
        *,
        case_id: UUID | None = None,
        user: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[AccessEntry], str | None]:
        """A page of the log in log order, filtered by case, user and [start, end) on
        recorded_at, and the next page's cursor (None on the last page)."""
        check_limit(limit)
        if start is not None and end is not None and end < start:
            raise InvalidQuery("'to' must not be before 'from'", errors={"to": "before from"})
        store = self.store
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        if case_id is not None:
            where.append("case_id = %(case_id)s")
            params["case_id"] = store.encode_uuid(case_id)
        if user is not None:
            where.append("username = %(user)s")
            params["user"] = user
        if start is not None:
            where.append("recorded_at >= %(start)s")
            params["start"] = store.encode_time(start)
        if end is not None:
            where.append("recorded_at < %(end)s")
            params["end"] = store.encode_time(end)
        tag = f"access:{case_id}:{user}:{start}:{end}"
        if cursor is not None:
            (after,) = decode_cursor(tag, cursor, (int,))
            where.append("position > %(after)s")
            params["after"] = after
        columns = ", ".join(_ENTRY_COLUMNS)
        statement = (
            f"SELECT {columns} FROM {store.table(ENTRIES)} "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY position LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        items = [self._entry(store, row) for row in rows[:limit]]
        next_cursor = encode_cursor(tag, [items[-1].position]) if len(rows) > limit else None
        return items, next_cursor

    def granted_case_ids(self, username: str, at: datetime) -> list[UUID]:
        """Cases ``username`` holds a break-glass grant on, in force at ``at``."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT DISTINCT case_id FROM {store.table(GRANTS)} WHERE username = %(user)s "
                "AND granted_at <= %(at)s AND expires_at > %(at)s",
                {"user": username, "at": store.encode_time(at)},
            )
        return [store.decode_uuid(row["case_id"]) for row in rows]

    def current_grant(self, grant_id: UUID) -> Grant | None:
        """``grant``, after applying everything recorded so far: for a write that decides on the
        grant (its review), which must not miss one granted a moment ago."""
        self.catch_up()
        return self.grant(grant_id)

    def grant(self, grant_id: UUID) -> Grant | None:
        store = self.store
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT grant_id, case_id, username, granted_at, expires_at "
                f"FROM {store.table(GRANTS)} WHERE grant_id = %(id)s",
                {"id": store.encode_uuid(grant_id)},
            )
        if row is None:
            return None
        granted_at, expires_at = (
            store.decode_time(row["granted_at"]),
            store.decode_time(row["expires_at"]),
        )
        assert granted_at is not None
        assert expires_at is not None
        return Grant(
            grant_id=store.decode_uuid(row["grant_id"]),
            case_id=store.decode_uuid(row["case_id"]),
            username=row["username"],
            granted_at=granted_at,
            expires_at=expires_at,
        )

    def awaiting_review(
        self,
        calendar: CalendarHistory | ServiceCalendar,
        *,
        as_of: datetime,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> tuple[list[BreakGlassItem], str | None]:
        """Grants not yet reviewed, oldest first; review due at the end of the next working
        day after the grant (computed from the grant's own time)."""
        check_limit(limit)
        store = self.store
        where = ["reviewed_at IS NULL"]
        params: dict[str, Any] = {"limit": limit + 1}
        tag = BREAK_GLASS_QUEUE
        if cursor is not None:
            after_at, after_id = decode_cursor(tag, cursor, (datetime, UUID))
            where.append("(granted_at, grant_id) > (%(after_at)s, %(after_id)s)")
            params["after_at"] = store.encode_time(after_at)
            params["after_id"] = store.encode_uuid(after_id)
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                "SELECT grant_id, case_id, username, role, category, granted_at, expires_at "
                f"FROM {store.table(GRANTS)} WHERE {' AND '.join(where)} "
                "ORDER BY granted_at, grant_id LIMIT %(limit)s",
                params,
            )
        items = []
        for row in rows[:limit]:
            granted_at = store.decode_time(row["granted_at"])
            expires_at = store.decode_time(row["expires_at"])
            assert granted_at is not None
            assert expires_at is not None
            due = calendar.end_of_next_working_day(granted_at)
            items.append(
                BreakGlassItem(
                    grant_id=store.decode_uuid(row["grant_id"]),
                    case_id=store.decode_uuid(row["case_id"]),
                    username=row["username"],
                    role=row["role"],
                    category=row["category"],
                    granted_at=granted_at,
                    expires_at=expires_at,
                    active=granted_at <= as_of < expires_at,
                    due_at=due,
                    overdue=due < as_of,
                )
            )
        next_cursor = (
            encode_cursor(tag, [items[-1].granted_at, items[-1].grant_id])
            if len(rows) > limit
            else None
        )
        return items, next_cursor

    @staticmethod
    def _entry(store: ViewStore, row: dict[str, Any]) -> AccessEntry:
        values = dict(row)
        for column in ("event_id", "case_id", "grant_id", "contact_id"):
            if values[column] is not None:
                values[column] = store.decode_uuid(values[column])
        for column in _ENTRY_TIMES:
            values[column] = store.decode_time(values[column])
        values["position"] = int(values["position"])
        return AccessEntry.model_validate(values)
