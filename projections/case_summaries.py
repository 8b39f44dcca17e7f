"""``case_summaries``: one row per case, for listing and filtering cases (``GET /cases``).

Each row is computed from the case's state (``domain.case.state``) at the version of the
case's last applied event, so status and the derived counts follow exactly the rules of
``CaseState`` and nothing of the fold is written twice. To get that state cheaply, a batch
folds its own events onto the state before them: nothing, when the batch opens the case;
a state remembered from an earlier batch; else the case loaded from the ledger (from its
latest snapshot). A row is therefore a pure function of the log, written whole (upsert).

No personal data: subject display names, summaries and free text never reach this table
(personal fields are crypto-shredded later, and no table may keep them in plain text). The
subject's ``ref`` is the community's or helpline's own pseudonymous id, stored unencrypted in
the events too.

Listing order is ``opened_at`` descending, then ``case_id`` descending: both never change,
so paging with the keyset cursor visits every case exactly once even while cases are worked
on (a new case appears on the first page, not in the middle of a walk).
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
from domain.case.vocabulary import CaseSource, CaseStatus, Category, RiskLevel, SubjectKind
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
from projections.store import Row, ViewStore

if TYPE_CHECKING:
    from domain.access.rules import Visibility
    from projections.projector import Projector

TABLE = "case_summaries"
CURSOR_TAG = "cases"


class CaseSummary(BaseModel):
    """One case in a list: what it is about (no personal data), where it stands, what is due."""

    model_config = ConfigDict(frozen=True)

    case_id: UUID = Field(serialization_alias="id", description="The case id.")
    version: int = Field(description="The case version this summary reflects.")
    status: CaseStatus
    category: Category
    risk_level: RiskLevel | None
    source: CaseSource
    channel: str | None
    service: str = Field(
        default="default", description="The service the case arose in (GET /services)."
    )
    subject_kind: SubjectKind
    subject_ref: str
    assignee: str | None
    opened_at: datetime
    first_action_at: datetime | None
    last_action_at: datetime | None
    closed_at: datetime | None
    pending_reviews: int = Field(description="Out-of-hours decisions awaiting review.")
    unacknowledged_escalations: int
    referrals_awaiting_acknowledgement: int
    flag_count: int
    position: int = Field(description="Notification id of the last event applied to this row.")


COLUMNS = tuple(CaseSummary.model_fields)
_TIME_COLUMNS = ("opened_at", "first_action_at", "last_action_at", "closed_at")


def summarise(state: CaseState, position: int) -> CaseSummary:
    """The summary row of a case state (derived counts by CaseState's own rules)."""
    return CaseSummary(
        case_id=state.id,
        version=state.version,
        status=state.status,
        category=state.category,
        risk_level=state.risk_level,
        source=state.source,
        channel=state.channel,
        service=state.service,
        subject_kind=state.subject.kind,
        subject_ref=state.subject.ref,
        assignee=state.assignee,
        opened_at=state.opened_at,
        first_action_at=state.first_action_at,
        last_action_at=state.last_action_at,
        closed_at=state.closed_at,
        pending_reviews=len(state.pending_reviews()),
        unacknowledged_escalations=len(state.unacknowledged_escalations()),
        referrals_awaiting_acknowledgement=len(state.referrals_awaiting_acknowledgement()),
        flag_count=state.flag_count,
        position=position,
    )


class CaseSummariesView(View):
    name = TABLE
    # 2: referrals to a crisis line do not count as awaiting acknowledgement; 3: the service
    version = 3

    def __init__(self, event_log: EventLog, *, folds: CaseFolds | None = None) -> None:
        # The domain's own fold, shared with the other case views of this ledger: a batch fed to
        # them all is folded once.
        self._folds = folds if folds is not None else case_folds_for(event_log)

    def create_statements(self, store: ViewStore) -> list[str]:
        table = store.table(TABLE)
        ts, uid = store.time_type, store.uuid_type
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            f"case_id {uid} PRIMARY KEY, "
            "version INTEGER NOT NULL, "
            "status TEXT NOT NULL, "
            "category TEXT NOT NULL, "
            "risk_level TEXT, "
            "source TEXT NOT NULL, "
            "channel TEXT, "
            "service TEXT NOT NULL, "
            "subject_kind TEXT NOT NULL, "
            "subject_ref TEXT NOT NULL, "
            "assignee TEXT, "
            f"opened_at {ts} NOT NULL, "
            f"first_action_at {ts}, "
            f"last_action_at {ts}, "
            f"closed_at {ts}, "
            "pending_reviews INTEGER NOT NULL, "
            "unacknowledged_escalations INTEGER NOT NULL, "
            "referrals_awaiting_acknowledgement INTEGER NOT NULL, "
            "flag_count INTEGER NOT NULL, "
            "position BIGINT NOT NULL)",
            # The listing order, and the common filters followed by it.
            f"CREATE INDEX IF NOT EXISTS {store.index('case_summaries_by_opened')} "
            f"ON {table} (opened_at DESC, case_id DESC)",
            *(
                f"CREATE INDEX IF NOT EXISTS {store.index(f'case_summaries_by_{column}')} "
                f"ON {table} ({column}, opened_at DESC, case_id DESC)"
                for column in (
                    "status",
                    "assignee",
                    "subject_ref",
                    "category",
                    "risk_level",
                    "service",
                )
            ),
        ]

    def drop_statements(self, store: ViewStore) -> list[str]:
        return [f"DROP TABLE IF EXISTS {store.table(TABLE)}"]

    def reset(self) -> None:
        self._folds.forget()

    # --- applying events ------------------------------------------------------------------------

    def changes(self, store: ViewStore, batch: Sequence[Positioned]) -> list[Statement]:
        rows = [
            self._row(store, summarise(f.state, f.position)) for f in self._folds.fold_batch(batch)
        ]
        return bulk_insert(
            store,
            store.table(TABLE),
            COLUMNS,
            rows,
            upsert_key=("case_id",),  # the row replaces the case's previous one
        )

    @staticmethod
    def _row(store: ViewStore, summary: CaseSummary) -> dict[str, Any]:
        row: dict[str, Any] = summary.model_dump(mode="python")
        row["case_id"] = store.encode_uuid(summary.case_id)
        for column in _TIME_COLUMNS:
            row[column] = store.encode_time(row[column])
        for column, value in row.items():
            if isinstance(value, str):
                row[column] = str(value)  # enums as their plain values
        return row


class CaseSummaries(ReadModel[CaseSummariesView]):
    """The case list: kept up to date with ``catch_up()``, read with ``query()``."""

    def __init__(
        self,
        event_log: EventLog,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        projector: Projector | None = None,
    ) -> None:
        super().__init__(
            event_log,
            CaseSummariesView,
            lambda: CaseSummariesView(event_log),
            projector=projector,
            batch_size=batch_size,
        )

    def query(
        self,
        *,
        status: CaseStatus | str | None = None,
        risk_level: RiskLevel | str | None = None,
        category: Category | str | None = None,
        assignee: str | None = None,
        subject_ref: str | None = None,
        opened_from: datetime | None = None,
        opened_to: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
        visibility: Visibility | None = None,
        service: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of case summaries, newest case first, and the cursor of the next page (None
        on the last page); ``opened_from`` (inclusive) and ``opened_to`` (exclusive) bound the
        case's ``opened_at``. Items are ``CaseSummary.model_dump()``. Raises ``InvalidQuery``
        (``InvalidCursor`` for a bad cursor) for input the view cannot answer. ``visibility``
        leaves out the restricted cases a reader may not see (``domain.access.rules``)."""
        check_limit(limit)
        store = self.store
        where: list[str] = []
        params: dict[str, Any] = {"limit": limit + 1}
        filters: dict[str, str | None] = {
            "status": enum_value(CaseStatus, status, "status"),
            "risk_level": enum_value(RiskLevel, risk_level, "risk_level"),
            "category": enum_value(Category, category, "category"),
            "assignee": assignee,
            "subject_ref": subject_ref,
            "service": service,
        }
        for column, value in filters.items():
            if value is not None:
                where.append(f"{column} = %({column})s")
                params[column] = value
        if opened_from is not None:
            where.append("opened_at >= %(opened_from)s")
            params["opened_from"] = store.encode_time(opened_from)
        if opened_to is not None:
            where.append("opened_at < %(opened_to)s")
            params["opened_to"] = store.encode_time(opened_to)
        restricted = restriction_clause(store, visibility, params)
        if restricted is not None:
            where.append(restricted)
        if cursor is not None:
            after_opened, after_id = decode_cursor(CURSOR_TAG, cursor, (datetime, UUID))
            where.append("(opened_at, case_id) < (%(after_opened)s, %(after_id)s)")
            params["after_opened"] = store.encode_time(after_opened)
            params["after_id"] = store.encode_uuid(after_id)
        statement = (
            f"SELECT {', '.join(COLUMNS)} FROM {store.table(TABLE)} "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + "ORDER BY opened_at DESC, case_id DESC LIMIT %(limit)s"
        )
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(statement, params)
        summaries = [self._summary(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = summaries[-1]
            next_cursor = encode_cursor(CURSOR_TAG, (last.opened_at, last.case_id))
        return [s.model_dump() for s in summaries], next_cursor

    def get(self, case_id: UUID) -> CaseSummary | None:
        """One case's summary, or None if the view has no such case (yet)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            row = tx.fetchone(
                f"SELECT {', '.join(COLUMNS)} FROM {store.table(TABLE)} "
                "WHERE case_id = %(case_id)s",
                {"case_id": store.encode_uuid(case_id)},
            )
        return None if row is None else self._summary(row)

    def all(self) -> list[CaseSummary]:
        """Every row, in case id order (for comparisons and exports; not for requests)."""
        store = self.store
        with store.transaction(commit=False) as tx:
            rows = tx.fetchall(
                f"SELECT {', '.join(COLUMNS)} FROM {store.table(TABLE)} ORDER BY case_id"
            )
        return [self._summary(row) for row in rows]

    def _summary(self, row: Row) -> CaseSummary:
        store = self.store
        values = dict(row)
        values["case_id"] = store.decode_uuid(row["case_id"])
        for column in _TIME_COLUMNS:
            values[column] = store.decode_time(row[column])
        return CaseSummary.model_validate(values)
