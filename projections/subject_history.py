"""``subject_history``: every case about a subject, for "what else do we know about this member,
this post, this caller?" (``GET /api/v1/subjects/{ref}/cases``).

One row per case, a pure function of the case's state (folded with the domain's own rules,
shared with the other state-derived views through ``projections.case_folds``), written whole
(upsert) whenever the case has events in a batch. Listed newest case first, by
``(opened_at, case_id)`` descending: both never change, so the keyset cursor visits every case
once even while cases are worked on.

No personal data: the subject's ``ref`` is the community's or helpline's own pseudonymous id;
display names, summaries and free text never reach this table.
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

from domain.case.state import CaseState
from domain.case.vocabulary import CaseStatus, Category, RiskLevel, SubjectKind
from infrastructure.event_log import EventLog
from projections.bulk_write import bulk_insert
from projections.case_folds import CaseFolds, case_folds_for
from projections.paging import (
    DEFAULT_LIMIT,
    check_limit,
    decode_cursor,
    encode_cursor,
    enum_value,
)
from projections.read_model import ReadModel
from projections.restricted import restriction_clause
from projections.runner import DEFAULT_BATCH_SIZE, Positioned, Statement, View
from projections.store import ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector

TABLE = "subject_history"


class SubjectCase(BaseModel):
    """One case about the subject: what it was about and where it stands (no personal data)."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID
    subject_kind: SubjectKind
    subject_ref: str
    category: Category
    status: CaseStatus
    risk_level: RiskLevel | None
    opened_at: datetime
    closed_at: datetime | None
    flag_count: int = Field(description="Flags raised on the case after it was opened.")
    version: int = Field(description="The case version this row reflects.")
    assignee: str | None = Field(default=None, description="The case's assignee, if any.")


_COLUMNS = (*SubjectCase.model_fields, "position")
_TIME_COLUMNS = ("opened_at", "closed_at")


def history_row(state: CaseState) -> SubjectCase:
    return SubjectCase(
        case_id=state.id,
        subject_kind=state.subject.kind,
        subject_ref=state.subject.ref,
        category=state.category,
        status=state.status,
        risk_level=state.risk_level,
        opened_at=state.opened_at,
        closed_at=state.closed_at,
        flag_count=state.flag_count,
        version=state.version,
        assignee=state.assignee,
    )


class SubjectHistoryView(View):
    name = "subject_history"
    version = 2  # 2: the assignee, so restricted cases show to theirs (domain.access.rules)

    def __init__(self, event_log: EventLog, *, folds: CaseFolds | None = None) -> None:
        self._folds = folds if folds is not None else case_folds_for(event_log)

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
            f"case_id {uid} PRIMARY KEY, "
            "subject_kind TEXT NOT NULL, "
            "subject_ref TEXT NOT NULL, "
            "category TEXT NOT NULL, "
            "status TEXT NOT NULL, "
            "risk_level TEXT, "
            f"opened_at {ts} NOT NULL, "
            f"closed_at {ts}, "
            "flag_count INTEGER NOT NULL, "
            "version INTEGER NOT NULL, "
            "assignee TEXT, "
            "position BIGINT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.index_name(store, 'by_subject')} "
            f"ON {table} (subject_ref, opened_at DESC, case_id DESC)",
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {self.table(store)}"]

    def reset(self) -> None:
        self._folds.forget()

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        rows = [
            self._encode(store, history_row(f.state), f.position)
            for f in self._folds.fold_batch(batch)
        ]
        return bulk_insert(
            store,
            self.table(store),
            _COLUMNS,
            rows,
            upsert_key=("case_id",),  # the row replaces the case's previous one
        )

    @staticmethod
    def _encode(store: ViewStore, row: SubjectCase, position: int) -> dict[str, Any]:
        values: dict[str, Any] = row.model_dump(mode="python")
        values["case_id"] = store.encode_uuid(row.case_id)
        for column in _TIME_COLUMNS:
            values[column] = store.encode_time(values[column])
        for column, value in values.items():
            if isinstance(value, str):
                values[column] = str(value)  # enums as their plain values
        values["position"] = position
        return values


class SubjectHistory(ReadModel[SubjectHistoryView]):
    """Cases by subject: kept up to date with ``catch_up()``, read with ``cases()``."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        projector: Projector | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        super().__init__(
            event_log,
            SubjectHistoryView,
            lambda: SubjectHistoryView(event_log),
            projector=projector,
            batch_size=batch_size,
        )

    def cases(
        self,
        subject_ref: str,
        *,
        kind: SubjectKind | str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
    ) -> tuple[list[SubjectCase], str | None]:
        """A page of the subject's cases, newest first, and the next page's cursor (or None);
        ``visibility`` leaves out the restricted cases a reader may not see."""
        check_limit(limit)
        store = self.store
        where = ["subject_ref = %(ref)s"]
        params: dict[str, Any] = {"ref": subject_ref, "limit": limit + 1}
        kind_value = enum_value(SubjectKind, kind, "kind")
        if kind_value is not None:
            where.append("subject_kind = %(kind)s")
            params["kind"] = kind_value
        restricted = restriction_clause(store, visibility, params)
        if restricted is not None:
            where.append(restricted)
        tag = f"subject:{subject_ref}"
        if cursor is not None:
            opened_at, case_id = decode_cursor(tag, cursor, (datetime, UUID))
            where.append("(opened_at, case_id) < (%(after_opened)s, %(after_id)s)")
            params["after_opened"] = store.encode_time(opened_at)
            params["after_id"] = store.encode_uuid(case_id)
        statement = (
            f"SELECT {', '.join(SubjectCase.model_fields)} FROM {self.view.table(store)} "
            f"WHERE {' AND '.join(where)} "
            "ORDER BY opened_at DESC, case_id DESC LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        cases = [self._case(store, row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = cases[-1]
            next_cursor = encode_cursor(tag, [last.opened_at, last.case_id])
        return cases, next_cursor

    def all(self) -> list[SubjectCase]:
        """Every row, in case id order (for comparisons; not for requests)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT {', '.join(SubjectCase.model_fields)} FROM {self.view.table(store)}"
            )
        return sorted((self._case(store, row) for row in rows), key=lambda c: str(c.case_id))

    @staticmethod
    def _case(store: ViewStore, row: dict[str, Any]) -> SubjectCase:
        values = dict(row)
        values["case_id"] = store.decode_uuid(row["case_id"])
        for column in _TIME_COLUMNS:
            values[column] = store.decode_time(row[column])
        return SubjectCase.model_validate(values)
