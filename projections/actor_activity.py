"""``actor_activity``: one row per event, "who did what, when" — what the shift logs read.

Each row is the event's envelope only: its log position, the event's id, the aggregate and the
context it belongs to (``case``, ``shift``, ``identity``..., from the event class's package; a
later ``contact`` context needs nothing new here), the case (null for events of other
aggregates, such as user management), the event type, the actor and their role, and both
clocks. No payload, so no personal data: usernames of staff, ids, enums and times only. It is
the actions index of the shift logs (``projections.shift_logs``): a shift's actions are one
actor's rows within their checked-in window on the occurred clock, and off-rota actions the
rows of the work contexts falling in nobody's window.

The view only ever appends: a batch becomes a few multi-row INSERT statements (not one per
event), and nothing is folded or read back. It is listed per actor in log order (by position),
optionally within a time range on either clock; the indexes lead with the actor so that a
shift's worth of one person's activity is a short index range.
"""

# SQL here names only this module's own tables and columns (constants, quoted by the store);
# every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.case.events import CaseEvent
from domain.shared import Basis, Role
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
from projections.restricted import hidden_cases_clause
from projections.runner import DEFAULT_BATCH_SIZE, Positioned, Statement, View
from projections.store import ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector

TABLE = "actor_activity"


class Activity(BaseModel):
    """One thing an actor did: which event, on which case, when (both clocks)."""

    model_config = ConfigDict(frozen=True)

    position: int = Field(description="The event's place in the log (notification id).")
    case_id: UUID | None = Field(description="The case; null for events outside cases.")
    version: int = Field(description="The version of the case (or other aggregate) it made.")
    event_type: str = Field(examples=["CaseEscalated"])
    actor: str
    actor_role: Role | None = Field(description="Null for events that do not record a role.")
    occurred_at: datetime = Field(description="When it happened (recorded_at if not given).")
    recorded_at: datetime


_COLUMNS = (*Activity.model_fields, "aggregate_id", "event_id", "context")
_READ = ", ".join(Activity.model_fields)


# Per event class: its name, whether it is a case's, and its context (a rebuild asks once per
# event).
_CLASSES: dict[type, tuple[str, bool, str]] = {}


def context_of(cls: type) -> str:
    """The bounded context an event class belongs to: ``domain.<context>.events`` (``case``,
    ``shift``, ``identity``, ``access``...); the module's name for a class stored elsewhere."""
    parts = cls.__module__.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "domain" else parts[-1]


def activity_row(item: Positioned) -> dict[str, Any] | None:
    """The envelope of one event, or None for an event without an actor."""
    event = item.event
    actor = getattr(event, "actor", None)
    recorded_at = getattr(event, "recorded_at", None)
    if not isinstance(actor, str) or not isinstance(recorded_at, datetime):
        return None
    cls = type(event)
    known = _CLASSES.get(cls)
    if known is None:
        known = _CLASSES[cls] = (cls.__name__, issubclass(cls, CaseEvent), context_of(cls))
    name, of_case, context = known
    role = getattr(event, "actor_role", None)
    event_id = getattr(event, "event_id", None)
    return {
        "position": item.position,
        "case_id": event.originator_id if of_case else None,
        "aggregate_id": event.originator_id,
        "event_id": event_id if isinstance(event_id, UUID) else None,
        "context": context,
        "version": event.originator_version,
        "event_type": name,
        "actor": actor,
        "actor_role": None if role is None else str(role),
        "occurred_at": getattr(event, "occurred_at", None) or recorded_at,
        "recorded_at": recorded_at,
    }


class ActorActivityView(View):
    name = "actor_activity"
    # 2: each row's event id and context, and an index on the occurred clock alone (the shift
    # logs' actions index)
    version = 2

    def __init__(self, event_log: EventLog | None = None) -> None:
        pass  # needs nothing from the ledger: each row is one event's envelope

    # Table and index names go through these, so the runtime may place the view elsewhere.
    def table(self, store: ViewStore) -> str:
        return store.table(TABLE)

    def index_name(self, store: ViewStore, suffix: str) -> str:
        return store.index(f"{TABLE}_{suffix}")

    def create_statements(self, store: ViewStore) -> list[str]:
        table = self.table(store)
        ts, uid = store.time_type, store.uuid_type
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "position BIGINT PRIMARY KEY, "
            f"case_id {uid}, "
            f"aggregate_id {uid} NOT NULL, "
            f"event_id {uid}, "
            "context TEXT NOT NULL, "
            "version INTEGER NOT NULL, "
            "event_type TEXT NOT NULL, "
            "actor TEXT NOT NULL, "
            "actor_role TEXT, "
            f"occurred_at {ts} NOT NULL, "
            f"recorded_at {ts} NOT NULL)",
            # One actor's activity in log order, or within a range on either clock.
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_actor')} "
            f"ON {table} (actor, position)",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_actor_recorded')} "
            f"ON {table} (actor, recorded_at, position)",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_actor_occurred')} "
            f"ON {table} (actor, occurred_at, position)",
            # Everyone's actions within a range of the occurred clock (off-rota actions).
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_occurred')} "
            f"ON {table} (occurred_at, position)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.table(store)}"]

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        encode_uuid, encode_time = store.encode_uuid, store.encode_time
        rows = []
        for item in batch:
            row = activity_row(item)
            if row is None:
                continue
            # Encoded in place: a rebuild makes one row per event of the log.
            if row["case_id"] is not None:
                row["case_id"] = encode_uuid(row["case_id"])
            row["aggregate_id"] = encode_uuid(row["aggregate_id"])
            if row["event_id"] is not None:
                row["event_id"] = encode_uuid(row["event_id"])
            row["occurred_at"] = encode_time(row["occurred_at"])
            row["recorded_at"] = encode_time(row["recorded_at"])
            rows.append(row)
        return bulk_insert(store, self.table(store), _COLUMNS, rows)


class ActorActivity(ReadModel[ActorActivityView]):
    """Who did what, when: kept up to date with ``catch_up()``, read with ``activity()``."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            ActorActivityView,
            lambda: ActorActivityView(event_log),
            projector=projector,
            batch_size=batch_size,
        )

    def activity(
        self,
        actor: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        basis: Basis | str = Basis.RECORDED,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
    ) -> tuple[list[Activity], str | None]:
        """A page of the actor's events in log order, within ``[start, end)`` on the chosen
        clock, and the next page's cursor (None on the last page). ``visibility`` leaves out
        events on restricted cases the reader may not see."""
        check_limit(limit)
        try:
            clock = f"{Basis(basis).value}_at"
        except ValueError:
            raise InvalidQuery(
                "basis must be recorded or occurred",
                errors={"basis": "must be one of: recorded, occurred"},
            ) from None
        if start is not None and end is not None and end < start:
            raise InvalidQuery("'to' must not be before 'from'", errors={"to": "before from"})
        store = self.store
        where = ["actor = %(actor)s"]
        params: dict[str, Any] = {"actor": actor, "limit": limit + 1}
        if start is not None:
            where.append(f"{clock} >= %(start)s")
            params["start"] = store.encode_time(start)
        if end is not None:
            where.append(f"{clock} < %(end)s")
            params["end"] = store.encode_time(end)
        hidden = hidden_cases_clause(store, visibility, params, case_id="case_id")
        if hidden is not None:
            where.append(hidden)
        tag = f"actor:{actor}"
        if cursor is not None:
            (after,) = decode_cursor(tag, cursor, (int,))
            where.append("position > %(after)s")
            params["after"] = after
        statement = (
            f"SELECT {_READ} FROM {self.view.table(store)} WHERE {' AND '.join(where)} "
            "ORDER BY position LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        items = [self._activity(store, row) for row in rows[:limit]]
        next_cursor = encode_cursor(tag, [items[-1].position]) if len(rows) > limit else None
        return items, next_cursor

    def all(self) -> list[Activity]:
        """Every row in log order (for comparisons; not for requests)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(f"SELECT {_READ} FROM {self.view.table(store)} ORDER BY position")
        return [self._activity(store, row) for row in rows]

    @staticmethod
    def _activity(store: ViewStore, row: dict[str, Any]) -> Activity:
        values = dict(row)
        if row["case_id"] is not None:
            values["case_id"] = store.decode_uuid(row["case_id"])
        values["occurred_at"] = store.decode_time(row["occurred_at"])
        values["recorded_at"] = store.decode_time(row["recorded_at"])
        values["position"] = int(row["position"])
        return Activity.model_validate(values)
